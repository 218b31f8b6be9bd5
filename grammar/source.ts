/**
 * Source text, spans and diagnostics: the vocabulary every stage uses to point at a file.
 *
 * Spans are UTF-16 offsets into the document (what JS strings and LSP use), end exclusive.
 * Line and column are derived on demand from a LineIndex, never stored in nodes, so a
 * node's position cannot disagree with the text it came from.
 */

export interface Span {
  readonly start: number;
  readonly end: number;
}

export interface LineCol {
  /** 0-based line. */
  readonly line: number;
  /** 0-based UTF-16 column. */
  readonly character: number;
}

export class LineIndex {
  private readonly starts: number[];
  constructor(readonly text: string) {
    this.starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.starts.push(i + 1);
      }
    }
  }
  position(offset: number): LineCol {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - this.starts[lo]! };
  }
  offset(pos: LineCol): number {
    if (pos.line < 0) return 0;
    if (pos.line >= this.starts.length) return this.text.length;
    const lineStart = this.starts[pos.line]!;
    const next = pos.line + 1 < this.starts.length ? this.starts[pos.line + 1]! : this.text.length;
    return Math.max(lineStart, Math.min(lineStart + pos.character, next));
  }
  get lineCount(): number {
    return this.starts.length;
  }
}

export type Severity = "error" | "warning" | "info";

export interface TextEdit {
  readonly uri: string;
  readonly span: Span;
  readonly newText: string;
}

export interface Fix {
  readonly title: string;
  readonly edits: readonly TextEdit[];
}

export interface RelatedInfo {
  readonly uri: string;
  readonly span: Span;
  readonly message: string;
}

/** Every stage reports problems as this data; the CLI, the language server and tests read it. */
export interface Diagnostic {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly uri: string;
  readonly span: Span;
  readonly related?: readonly RelatedInfo[];
  readonly fix?: Fix;
}

/** `file:line:col: error CODE: message`, with 1-based line and column as compilers print them. */
export function formatDiagnostic(d: Diagnostic, text: string | LineIndex, displayPath = d.uri): string {
  const index = typeof text === "string" ? new LineIndex(text) : text;
  const p = index.position(d.span.start);
  return `${displayPath}:${p.line + 1}:${p.character + 1}: ${d.severity} ${d.code}: ${d.message}`;
}
