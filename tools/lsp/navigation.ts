/**
 * What the identifier under the cursor refers to: a checker RefRecord at the offset gives the
 * declaring identifier; an identifier that itself declares something is its own target.
 * Definition, references, rename, hover and signature help all start here.
 */
import type { Span } from "../../grammar/source.js";
import type { Program } from "../../interpreter/checker/program.js";
import { type Def, defAtSpan, indexFile } from "./syntax.js";
import type { Analysis } from "./workspace.js";

export interface Target {
  /** Absolute path of the file that declares it. */
  readonly file: string;
  /** The declaring identifier. */
  readonly span: Span;
  readonly name: string;
}

export interface Hit {
  readonly target: Target;
  /** The identifier under the cursor (a use or the declaration itself). */
  readonly at: Span;
  readonly isDeclaration: boolean;
}

/** Picks the span containing `offset`, preferring one that strictly contains it over one ending there. */
export function pick<T extends { span: Span }>(items: Iterable<T>, offset: number): T | undefined {
  let best: T | undefined;
  let bestScore = Infinity;
  for (const it of items) {
    const { start, end } = it.span;
    if (offset < start || offset > end) continue;
    const score = (offset < end ? 0 : 1e9) + (end - start);
    if (score < bestScore) {
      best = it;
      bestScore = score;
    }
  }
  return best;
}

export function hitAt(a: Analysis, offset: number): Hit | undefined {
  const index = indexFile(a.parsed.ast);
  const candidates: Hit[] = [];
  for (const r of a.result.refs) {
    if (r.uri !== a.file || offset < r.span.start || offset > r.span.end) continue;
    const isDeclaration = r.target.uri === a.file && r.target.span.start === r.span.start && r.target.span.end === r.span.end;
    candidates.push({ target: { file: r.target.uri, span: r.target.span, name: r.name }, at: r.span, isDeclaration });
  }
  for (const d of index.defs)
    if (offset >= d.span.start && offset <= d.span.end) candidates.push({ target: { file: a.file, span: d.span, name: d.name }, at: d.span, isDeclaration: true });
  // A shape name's first mention declares it but is not a RefRecord; later mentions are.
  if (candidates.length === 0)
    for (const n of index.typeNames)
      if (offset >= n.span.start && offset <= n.span.end) candidates.push({ target: { file: a.file, span: n.span, name: n.name }, at: n.span, isDeclaration: true });
  return pick(candidates.map((h) => ({ ...h, span: h.at })), offset);
}

/** The definition a target names, read from the declaring file's tree. */
export function defOf(program: Program, target: Target): Def | undefined {
  const parsed = program.files.get(target.file);
  return parsed ? defAtSpan(parsed.ast, target.span) : undefined;
}

export const sameTarget = (a: { uri: string; span: Span }, t: Target): boolean =>
  a.uri === t.file && a.span.start === t.span.start && a.span.end === t.span.end;
