/**
 * Rename and prepareRename: the declaration and all its uses across the workspace change
 * together. Refused (a RequestFailed error with the reason) for stdlib declarations,
 * builtins, and new names that are not identifiers or are keywords.
 */
import type { Range, TextEdit, WorkspaceEdit } from "vscode-languageserver";
import { LSPErrorCodes, ResponseError } from "vscode-languageserver";
import { KEYWORDS } from "../../grammar/tokens.js";
import { builtinDoc, isStdlib, moduleLabel } from "./describe.js";
import { toRange } from "./locations.js";
import { type Hit, hitAt } from "./navigation.js";
import { occurrences } from "./references.js";
import { tokensOf } from "./syntax.js";
import type { Analysis, Workspace } from "./workspace.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function refuse(message: string): never {
  throw new ResponseError(LSPErrorCodes.RequestFailed, message);
}

function renamable(a: Analysis, offset: number): Hit {
  const hit = hitAt(a, offset);
  if (!hit) {
    const token = tokensOf(a.text).find((t) => t.kind === "ident" && t.span.start <= offset && offset <= t.span.end);
    const name = token && a.text.slice(token.span.start, token.span.end);
    if (name && builtinDoc(name)) refuse(`\`${name}\` is a builtin and cannot be renamed`);
    refuse("there is no renamable name here");
  }
  if (isStdlib(hit.target.file)) refuse(`\`${hit.target.name}\` is declared in ${moduleLabel(hit.target.file)} (the stdlib) and cannot be renamed`);
  return hit;
}

export function prepareRename(a: Analysis, offset: number): { range: Range; placeholder: string } {
  const hit = renamable(a, offset);
  return { range: toRange(a.lines, hit.at), placeholder: hit.target.name };
}

export function rename(ws: Workspace, a: Analysis, offset: number, newName: string): WorkspaceEdit {
  if (!IDENT.test(newName)) refuse(`\`${newName}\` is not a valid name`);
  if (KEYWORDS.includes(newName)) refuse(`\`${newName}\` is a keyword`);
  const hit = renamable(a, offset);
  const changes: Record<string, TextEdit[]> = {};
  for (const o of occurrences(ws, a, hit.target, true)) {
    if (isStdlib(o.file)) refuse(`renaming \`${hit.target.name}\` would edit ${moduleLabel(o.file)} (the stdlib)`);
    const lines = ws.lines(o.file, a.program);
    if (!lines) continue;
    (changes[ws.uris.toUri(o.file)] ??= []).push({ range: toRange(lines, o.span), newText: newName });
  }
  return { changes };
}
