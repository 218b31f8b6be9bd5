/**
 * `parse(text, uri)`: the front door of the grammar. Lexes, parses with recovery, converts to
 * the AST, attaches doc comments and turns every problem into a `Diagnostic`.
 *
 * This module owns the diagnostic codes of the grammar and the guarantee that parsing never
 * throws. If the parser fails internally (in practice: a stack overflow on absurdly deep
 * nesting), the file is parsed again one top-level declaration at a time, so only the
 * declaration that failed is lost and reported as `SPK000`.
 *
 *   SPK000 internal parser error     SPK001 unexpected character
 *   SPK002 syntax error              SPK003 unterminated string
 *   SPK004 number literal out of range
 *   SPK005 nested too deeply (the bounds in limits.ts)
 */
import { EOF } from "chevrotain";
import type { IRecognitionException, IToken } from "chevrotain";
import type { Comment, Decl, ImportDecl, SpkFile } from "./ast.js";
import type { Diagnostic, Span } from "./source.js";
import { cstToAst } from "./cst-to-ast.js";
import { MAX_EXPRESSION_DEPTH, MAX_NESTING } from "./limits.js";
import { createDocLookup } from "./doc-comments.js";
import type { DocLookup } from "./doc-comments.js";
import { SpkParser } from "./parser.js";
import {
  Const,
  DocComment,
  Import,
  Layer,
  LBrace,
  LBracket,
  LParen,
  Minus,
  Model,
  Neuron,
  NumberLit,
  RBrace,
  RBracket,
  RParen,
  startsLine,
  tokenize,
  UnterminatedString,
} from "./tokens.js";

export interface ParseResult {
  readonly file: SpkFile;
  readonly diagnostics: Diagnostic[];
}

let parser: SpkParser | undefined;

function getParser(): SpkParser {
  parser ??= new SpkParser();
  return parser;
}

/** Parses a `.spk` document. Never throws; every span lies inside `text`. */
export function parse(text: string, uri: string): ParseResult {
  const src = typeof text === "string" ? text : String(text);
  try {
    return new ParseRun(src, uri).run();
  } catch (error) {
    parser = undefined; // its state may be corrupt: build a fresh one next time
    const file: SpkFile = { kind: "File", uri, imports: [], decls: [], comments: [], span: { start: 0, end: src.length } };
    return { file, diagnostics: [internalError(uri, { start: 0, end: 0 }, error)] };
  }
}

const DECL_KEYWORDS: ReadonlySet<unknown> = new Set([Import, Const, Neuron, Layer, Model]);

class ParseRun {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly imports: ImportDecl[] = [];
  private readonly decls: Decl[] = [];
  private lastError: unknown;

  constructor(
    private readonly text: string,
    private readonly uri: string,
  ) {}

  run(): ParseResult {
    const lexed = tokenize(this.text);
    for (const e of lexed.errors) {
      const span = this.clamp(e.offset, e.offset + Math.max(1, e.length));
      const chars = this.text.slice(span.start, span.end).replace(/\r?\n|\r/g, " ");
      this.diag("SPK001", span.end - span.start === 1 ? `unexpected character \`${chars}\`` : `unexpected characters \`${chars}\``, span);
    }
    for (const t of lexed.tokens) {
      if (t.tokenType === UnterminatedString) {
        this.diag("SPK003", "unterminated string: add a closing `\"` before the end of the line", this.tokenSpan(t));
      } else if (t.tokenType === NumberLit && !Number.isFinite(Number(t.image))) {
        this.diag("SPK004", `number \`${t.image}\` is too large to be represented`, this.tokenSpan(t));
      }
    }
    const comments: Comment[] = (lexed.groups["comments"] ?? [])
      .map((t): Comment => ({ kind: "Comment", text: t.image, doc: t.tokenType === DocComment, span: this.tokenSpan(t) }))
      .sort((a, b) => a.span.start - b.span.start);
    const docFor = createDocLookup(this.text, comments);
    this.tokenStarts = lexed.tokens.map((t) => t.startOffset);
    this.lineStarts = new Set(this.tokenStarts.filter((start) => startsLine(this.text, start)));

    // Too deep a nesting would overflow the parser's stack: refuse the declarations that
    // hold one (with SPK005 where the bound is crossed) and parse the others.
    const tooDeep = tooDeeplyNested(lexed.tokens);
    if (tooDeep.size > 0 || !this.parseTokens(lexed.tokens, docFor)) {
      // Or the parser failed internally: retry one top-level declaration at a time.
      for (const chunk of splitAtDeclarations(lexed.tokens)) {
        const deep = chunk.find((t) => tooDeep.has(t));
        if (deep) {
          this.diag("SPK005", `${tooDeep.get(deep)}, more than the limit of ${MAX_NESTING} (MAX_NESTING); name the inner parts with \`let\``, this.tokenSpan(deep));
          continue;
        }
        if (!this.parseTokens(chunk, docFor)) {
          const first = chunk[0];
          const last = chunk[chunk.length - 1];
          const span = first && last ? this.clamp(first.startOffset, last.startOffset + last.image.length) : this.clamp(0, 0);
          this.diagnostics.push(internalError(this.uri, span, this.lastError));
        }
      }
    }

    this.diagnostics.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
    const file: SpkFile = {
      kind: "File",
      uri: this.uri,
      imports: this.imports,
      decls: this.decls,
      comments,
      span: { start: 0, end: this.text.length },
    };
    return { file, diagnostics: this.diagnostics };
  }

  /** Parses and converts `tokens`; false (and nothing recorded) if the parser threw. */
  private parseTokens(tokens: IToken[], docFor: DocLookup): boolean {
    let cst;
    let errors: IRecognitionException[];
    try {
      const p = getParser();
      p.lineStarts = this.lineStarts;
      p.input = tokens;
      cst = p.file();
      errors = p.errors;
    } catch (error) {
      parser = undefined;
      this.lastError = error;
      return false;
    }
    for (const e of this.cascadeFree(errors)) this.diag("SPK002", e.message, this.tokenSpan(e.token));
    const converted = cstToAst(cst, this.text, docFor);
    for (const d of converted.decls) {
      const deep = limitExpressionDepth(d);
      if (deep) this.diag("SPK005", `expression nested more than ${MAX_EXPRESSION_DEPTH} deep, the limit (MAX_EXPRESSION_DEPTH); split it with \`let\``, this.clamp(deep.start, deep.end));
    }
    this.imports.push(...converted.imports);
    this.decls.push(...converted.decls);
    for (const e of converted.internalErrors) this.diagnostics.push(internalError(this.uri, this.clamp(e.span.start, e.span.end), e.error));
    return true;
  }

  /**
   * Drops the errors that only echo an earlier one. As yacc does, a syntax error is reported
   * only once at least three tokens lie between it and the previous reported error: after
   * recovery, the next error within a token or two is nearly always the same mistake seen
   * again (a skipped `)` then an odd `=`), and one error per statement is what users want.
   */
  private cascadeFree(errors: readonly IRecognitionException[]): IRecognitionException[] {
    const sorted = [...errors].sort((a, b) => this.tokenSpan(a.token).start - this.tokenSpan(b.token).start);
    const kept: IRecognitionException[] = [];
    let previous: number | undefined;
    for (const e of sorted) {
      const start = this.tokenSpan(e.token).start;
      if (previous !== undefined && this.tokensBetween(previous, start) < 3) continue;
      kept.push(e);
      previous = start;
    }
    return kept;
  }

  private tokenStarts: number[] = [];
  private lineStarts: ReadonlySet<number> = new Set();

  /** How many tokens start in [from, to). */
  private tokensBetween(from: number, to: number): number {
    return lowerBound(this.tokenStarts, to) - lowerBound(this.tokenStarts, from);
  }

  private diag(code: string, message: string, span: Span): void {
    this.diagnostics.push({ code, severity: "error", message, uri: this.uri, span });
  }

  private clamp(s: number, e: number): Span {
    const len = this.text.length;
    const start = Math.max(0, Math.min(Number.isFinite(s) ? s : len, len));
    return { start, end: Math.max(start, Math.min(Number.isFinite(e) ? e : start, len)) };
  }

  /** The token's span; end of input (empty) for EOF and tokens inserted by recovery. */
  private tokenSpan(t: IToken | undefined): Span {
    if (t === undefined || t.tokenType === EOF || !Number.isFinite(t.startOffset)) return this.clamp(this.text.length, this.text.length);
    return this.clamp(t.startOffset, t.startOffset + t.image.length);
  }
}

const OPENERS: ReadonlySet<unknown> = new Set([LParen, LBracket, LBrace]);
const CLOSERS: ReadonlySet<unknown> = new Set([RParen, RBracket, RBrace]);

/**
 * The tokens at which nesting first crosses MAX_NESTING (at most one per declaration), each
 * with a description of the depth. Counts open brackets plus prefix `-` in a row, the
 * constructs the parser descends into recursively; a linear scan, so it cannot overflow.
 */
function tooDeeplyNested(tokens: readonly IToken[]): Map<IToken, string> {
  const out = new Map<IToken, string>();
  let brackets = 0;
  let minuses = 0;
  let reported = false;
  for (const t of tokens) {
    if (DECL_KEYWORDS.has(t.tokenType)) {
      brackets = 0;
      reported = false;
    }
    if (OPENERS.has(t.tokenType)) brackets++;
    else if (CLOSERS.has(t.tokenType)) brackets = Math.max(0, brackets - 1);
    minuses = t.tokenType === Minus ? minuses + 1 : 0;
    if (!reported && brackets + minuses > MAX_NESTING) {
      out.set(t, minuses > 0 ? `nesting ${brackets + minuses} deep (${brackets} brackets and ${minuses} \`-\` in a row)` : `brackets nested ${brackets} deep`);
      reported = true;
    }
  }
  return out;
}

const EXPR_KINDS: ReadonlySet<string> = new Set(["Number", "Bool", "String", "Name", "Unary", "Binary", "Call", "Index", "Member", "Repeat", "ErrorExpr"]);

/**
 * Replaces every expression deeper than MAX_EXPRESSION_DEPTH in `decl` by an `ErrorExpr`
 * (so no later stage recurses that deep) and returns the span of the first one cut.
 * Operator chains are built as left-deep trees without recursion, so only this walk, which
 * keeps its own stack, sees their full depth.
 */
function limitExpressionDepth(decl: Decl): Span | undefined {
  let first: Span | undefined;
  const stack: { node: Record<string, unknown>; depth: number }[] = [{ node: decl as unknown as Record<string, unknown>, depth: 0 }];
  const visit = (holder: Record<string, unknown> | unknown[], key: string | number, child: unknown, depth: number) => {
    if (typeof child !== "object" || child === null) return;
    if (Array.isArray(child)) {
      child.forEach((c, i) => visit(child, i, c, depth));
      return;
    }
    const node = child as Record<string, unknown>;
    if (typeof node.kind !== "string") return;
    const isExpr = EXPR_KINDS.has(node.kind);
    const d = isExpr ? depth + 1 : depth;
    if (isExpr && d > MAX_EXPRESSION_DEPTH) {
      const span = node.span as Span;
      first ??= span;
      (holder as Record<string | number, unknown>)[key] = { kind: "ErrorExpr", span };
      return;
    }
    stack.push({ node, depth: d });
  };
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    for (const [k, v] of Object.entries(node)) if (k !== "span") visit(node, k, v, depth);
  }
  return first;
}

/** Splits a token stream before every declaration keyword (they never occur inside one). */
function splitAtDeclarations(tokens: readonly IToken[]): IToken[][] {
  const chunks: IToken[][] = [];
  let current: IToken[] = [];
  for (const t of tokens) {
    if (DECL_KEYWORDS.has(t.tokenType) && current.length > 0) {
      chunks.push(current);
      current = [];
    }
    current.push(t);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The first index whose value is >= x in an ascending array. */
function lowerBound(values: readonly number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function internalError(uri: string, span: Span, error: unknown): Diagnostic {
  // A stack overflow the nesting bounds did not foresee is still the input's depth, not a bug.
  if (error instanceof RangeError) return { code: "SPK005", severity: "error", message: "the code is nested too deeply to parse; name the inner parts with `let`", uri, span };
  const what = error instanceof Error ? error.message : String(error);
  return { code: "SPK000", severity: "error", message: `internal parser error: ${what}`, uri, span };
}
