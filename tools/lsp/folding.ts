/**
 * Folding ranges: every `{ ... }` that spans lines, runs of two or more comment lines, and a
 * run of two or more imports. Read from tokens, so it works on text that does not parse.
 */
import type { FoldingRange } from "vscode-languageserver";
import { FoldingRangeKind } from "vscode-languageserver";
import { startsLine } from "../../grammar/tokens.js";
import { tokensOf } from "./syntax.js";
import type { Analysis } from "./workspace.js";

export function foldingRanges(a: Analysis): FoldingRange[] {
  const out: FoldingRange[] = [];
  const line = (offset: number) => a.lines.position(offset).line;
  const open: number[] = [];
  let comments: { first: number; last: number } | undefined;
  const endComments = () => {
    if (comments && comments.last > comments.first) out.push({ startLine: comments.first, endLine: comments.last, kind: FoldingRangeKind.Comment });
    comments = undefined;
  };
  for (const t of tokensOf(a.text)) {
    if ((t.kind === "comment" || t.kind === "doc") && startsLine(a.text, t.span.start)) {
      const l = line(t.span.start);
      if (comments && l === comments.last + 1) comments.last = l;
      else if (!comments || l !== comments.last) {
        endComments();
        comments = { first: l, last: l };
      }
      continue;
    }
    endComments();
    if (t.kind !== "punct") continue;
    const c = a.text.charCodeAt(t.span.start);
    if (c === 123 /* { */) open.push(line(t.span.start));
    else if (c === 125 /* } */) {
      const start = open.pop();
      const end = line(t.span.start) - 1; // keep the closing brace visible
      if (start !== undefined && end > start) out.push({ startLine: start, endLine: end });
    }
  }
  endComments();
  const imports = a.parsed.ast.imports;
  if (imports.length >= 2) {
    const first = line(imports[0]!.span.start);
    const last = line(imports[imports.length - 1]!.span.end);
    if (last > first) out.push({ startLine: first, endLine: last, kind: FoldingRangeKind.Imports });
  }
  return out.sort((x, y) => x.startLine - y.startLine || y.endLine - x.endLine);
}
