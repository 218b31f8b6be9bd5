/**
 * Find references: every RefRecord whose target is the declaration under the cursor, from the
 * checked workspace (all `.spk` files under the workspace folders, plus open documents) and
 * from this document's own analysis, plus the declaration itself when asked.
 */
import type { Location } from "vscode-languageserver";
import type { Span } from "../../grammar/source.js";
import { spanKey, toLocation } from "./locations.js";
import { type Target, hitAt, sameTarget } from "./navigation.js";
import type { Analysis, Workspace } from "./workspace.js";

export interface Occurrence {
  readonly file: string;
  readonly span: Span;
}

/** The declaration and every use of `target` known to the workspace. */
export function occurrences(ws: Workspace, a: Analysis, target: Target, includeDeclaration: boolean): Occurrence[] {
  const seen = new Set<string>();
  const out: Occurrence[] = [];
  const add = (file: string, span: Span) => {
    const k = spanKey(file, span);
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ file, span });
  };
  if (includeDeclaration) add(target.file, target.span);
  for (const refs of [a.result.refs, ws.workspaceRefs()]) for (const r of refs) if (sameTarget(r.target, target)) add(r.uri, r.span);
  return out.sort((x, y) => (x.file === y.file ? x.span.start - y.span.start : x.file < y.file ? -1 : 1));
}

export function references(ws: Workspace, a: Analysis, offset: number, includeDeclaration: boolean): Location[] {
  const hit = hitAt(a, offset);
  if (!hit) return [];
  const out: Location[] = [];
  for (const o of occurrences(ws, a, hit.target, includeDeclaration)) {
    const lines = ws.lines(o.file, a.program);
    if (lines) out.push(toLocation(ws.uris, o.file, lines, o.span));
  }
  return out;
}
