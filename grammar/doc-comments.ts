/**
 * Doc comments: which `///` lines document which declaration or member.
 *
 * A run of `///` comments, each alone on its line (only whitespace before it) and on
 * consecutive lines, documents the declaration or member that starts on the very next line.
 * The doc text is each line without `///` and one following space, joined by "\n". A blank
 * line, code, or a plain `//` comment in between breaks the attachment. Doc comments that
 * document nothing stay only in `SpkFile.comments`.
 */
import type { Comment } from "./ast.js";
import { isBlank, startsLine } from "./tokens.js";

/** Returns the doc text for a node starting at `start`, or undefined. */
export type DocLookup = (start: number) => string | undefined;

export function createDocLookup(text: string, comments: readonly Comment[]): DocLookup {
  const docByEnd = new Map<number, Comment>();
  for (const c of comments) {
    if (!c.doc || !startsLine(text, c.span.start)) continue;
    let end = c.span.end;
    while (end > c.span.start && isBlank(text.charCodeAt(end - 1))) end--;
    docByEnd.set(end, c);
  }

  return (start: number): string | undefined => {
    const lines: string[] = [];
    let pos = start;
    for (;;) {
      const end = previousLineEnd(text, pos);
      if (end === undefined) break;
      const c = docByEnd.get(end);
      if (c === undefined) break;
      lines.push(docText(c.text));
      pos = c.span.start;
    }
    if (lines.length === 0) return undefined;
    return lines.reverse().join("\n");
  };
}

/**
 * The offset where the previous line's content ends, if only whitespace with exactly one
 * line break separates it from `pos`; otherwise undefined.
 */
function previousLineEnd(text: string, pos: number): number | undefined {
  let i = pos - 1;
  // rest of the current line before pos: spaces and tabs only
  while (i >= 0 && isBlank(text.charCodeAt(i))) i--;
  if (i < 0) return undefined;
  const c = text.charCodeAt(i);
  if (c === 10) {
    i--;
    if (i >= 0 && text.charCodeAt(i) === 13) i--;
  } else if (c === 13) {
    i--;
  } else {
    return undefined;
  }
  while (i >= 0 && isBlank(text.charCodeAt(i))) i--;
  if (i < 0) return undefined;
  const d = text.charCodeAt(i);
  if (d === 10 || d === 13) return undefined; // blank line
  return i + 1;
}

/** `/// text` → `text`: the marker and one following space removed. */
function docText(comment: string): string {
  const body = comment.startsWith("///") ? comment.slice(3) : comment;
  return body.startsWith(" ") ? body.slice(1) : body;
}
