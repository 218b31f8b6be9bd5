/**
 * The `.spk` printer: the AST of `grammar/` → a prettier Doc, keeping every comment.
 *
 * Comments are placed by position, not attached to nodes. Each "sequence" (the file, a
 * declaration body, a block) prints its items in source order and, between them, the
 * comments that lie between them:
 *   - a comment alone on its line stays alone on its line, where it was;
 *   - a comment after code on the same line stays at the end of that line (`lineSuffix`);
 *   - a comment between parameters stays there (the list is broken one per line); one
 *     inside a parameter's default or type moves above that parameter;
 *   - a comment inside an item that has no place of its own (inside an expression or a
 *     type) moves to its own line before the item, and before the item's `///` doc block so
 *     that the doc still documents the item.
 * Blank lines are kept (at most one) between members and statements; top-level declarations
 * are separated by exactly one. `///` attachment (see grammar/doc-comments.ts) is preserved:
 * a comment is never moved into, out of, or onto the end of a doc block.
 *
 * The style itself is described in README.md beside this file.
 */
import type { Doc } from "prettier";
import * as prettierDoc from "prettier/doc";
import type {
  Arg,
  Comment,
  Decl,
  EllipsisDim,
  Expr,
  ImportDecl,
  ModuleMember,
  NeuronMember,
  Param,
  SliceItem,
  SpkFile,
  Stmt,
  TypedParam,
  TypeExpr,
} from "../../grammar/ast.js";
import type { Span } from "../../grammar/source.js";
import { lexTokens, startsLine } from "../../grammar/tokens.js";

const { group, indent, line, softline, hardline, literalline, join, ifBreak, lineSuffix } = prettierDoc.builders;

/** The root node the `spk` parser hands to prettier (it must not carry `comments`: prettier would try to attach them). */
export interface SpkRoot {
  readonly type: "spk-root";
  readonly file: SpkFile;
  /** The text the spans point into (prettier's normalised text). */
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

export interface FormatSpkOptions {
  /** Line width (default 100). */
  readonly printWidth?: number;
  /** Spaces per indentation level (default 2). */
  readonly tabWidth?: number;
  readonly useTabs?: boolean;
  /** Used in error messages only. */
  readonly filepath?: string;
}

/**
 * Formats a `.spk` document with prettier and the spk plugin. Rejects (a SyntaxError with
 * prettier's `loc`) when the document has syntax errors.
 */
export async function formatSpk(text: string, opts: FormatSpkOptions = {}): Promise<string> {
  const [prettier, plugin] = await Promise.all([import("prettier"), import("./plugin.js")]);
  const options: Record<string, unknown> = { parser: "spk", plugins: [plugin.default] };
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) options[k] = v;
  return prettier.format(text, options);
}

// ---------------------------------------------------------------------------------------
// Sequences of items and comments

type Item = ImportDecl | Decl | NeuronMember | ModuleMember | Stmt;

interface CommentEl {
  readonly kind: "comment";
  readonly comment: Comment;
  blankBefore: boolean;
  /** A `///` comment that must not become the doc of what follows it. */
  forceBlankAfter: boolean;
}

interface ItemEl {
  readonly kind: "item";
  readonly item: Item;
  blankBefore: boolean;
  trailing?: Comment;
  inside: Comment[];
}

type El = CommentEl | ItemEl;

/** What printing an item gives: its doc, and the comments inside it it had no place for. */
interface Printed {
  readonly doc: Doc;
  readonly interior: readonly Comment[];
}

interface Sequence {
  readonly els: El[];
  readonly docs: Map<ItemEl, Doc>;
  /** A comment on the line of the opening `{`, after it. */
  readonly opener?: Comment;
}

/**
 * How often the printer's safety net had to append a comment it could not place (always 0
 * unless the placement has a bug; the property tests check it).
 */
export const printerStats = { missedComments: 0 };

/** Prints a parsed file. `text` is the document the spans point into. */
export function printSpkFile(file: SpkFile, text: string): Doc {
  return new SpkPrinter(file, text).printFile();
}

class SpkPrinter {
  private readonly printed = new Set<Comment>();
  /** Offsets of every `{` token, ascending. */
  private readonly lbraces: number[];
  /** Offsets of every `(` and `)` token, ascending, with +1 for `(` and -1 for `)`. */
  private readonly parens: [number, number][];

  constructor(
    private readonly file: SpkFile,
    private readonly text: string,
  ) {
    this.lbraces = lexTokens(text)
      .filter((t) => t.kind === "punct" && text.charCodeAt(t.span.start) === 123)
      .map((t) => t.span.start);
    this.parens = lexTokens(text)
      .filter((t) => t.kind === "punct" && (text[t.span.start] === "(" || text[t.span.start] === ")"))
      .map((t): [number, number] => [t.span.start, text[t.span.start] === "(" ? 1 : -1]);
  }

  printFile(): Doc {
    const items: Item[] = [...this.file.imports, ...this.file.decls].sort((a, b) => a.span.start - b.span.start);
    const seq = this.sequence(items, this.file.comments, 0, false);
    const parts = this.renderTopLevel(seq);
    // Safety net: a comment the placement above missed is appended, never dropped.
    const missed = this.file.comments.filter((c) => !this.printed.has(c));
    printerStats.missedComments += missed.length;
    for (const c of missed) {
      if (parts.length > 0) parts.push(hardline);
      parts.push(this.comment(c));
    }
    return parts.length > 0 ? [...parts, hardline] : "";
  }

  // -------------------------------------------------------------------------------------
  // Comment placement

  /**
   * Splits `comments` (all inside the region that starts at `regionStart`) among `items`:
   * inside an item, trailing an item (same line), trailing the opening brace, or on their
   * own line; then orders items and own-line comments as in the source, with blank lines.
   */
  private sequence(items: readonly Item[], comments: readonly Comment[], regionStart: number, hasOpener: boolean): Sequence {
    const itemEls: ItemEl[] = items.map((item) => ({ kind: "item", item, blankBefore: false, inside: [] }));
    const own: CommentEl[] = [];
    let opener: Comment | undefined;
    for (const c of comments) {
      const host = itemEls.find((e) => e.item.span.start <= c.span.start && c.span.start < e.item.span.end);
      if (host) {
        host.inside.push(c);
        continue;
      }
      if (!startsLine(this.text, c.span.start)) {
        let prev: ItemEl | undefined;
        for (const e of itemEls) if (e.item.span.end <= c.span.start) prev = e;
        if (prev && prev.trailing === undefined) {
          prev.trailing = c;
          continue;
        }
        if (!prev && hasOpener && opener === undefined) {
          opener = c;
          continue;
        }
        own.push({ kind: "comment", comment: c, blankBefore: false, forceBlankAfter: c.doc });
        continue;
      }
      own.push({ kind: "comment", comment: c, blankBefore: false, forceBlankAfter: false });
    }

    const ordered: El[] = [...itemEls, ...own].sort((a, b) => startOf(a) - startOf(b));
    let prevEnd = regionStart;
    if (opener) prevEnd = Math.max(prevEnd, opener.span.end);
    for (const el of ordered) {
      el.blankBefore = this.blankBetween(prevEnd, startOf(el));
      prevEnd = Math.max(prevEnd, endOf(el));
    }
    for (let i = 0; i + 1 < ordered.length; i++) {
      const el = ordered[i]!;
      if (el.kind === "comment" && el.forceBlankAfter) ordered[i + 1]!.blankBefore = true;
    }

    // Print the items; comments they had no place for go before them (and their doc block).
    const docs = new Map<ItemEl, Doc>();
    const els: El[] = [];
    ordered.forEach((el, index) => {
      if (el.kind === "item") {
        const p = this.ignored(ordered, index) ? this.verbatim(el) : this.item(el.item, el.inside);
        docs.set(el, p.doc);
        if (p.interior.length > 0) this.insertBefore(els, el, p.interior);
      }
      els.push(el);
    });
    return opener ? { els, docs, opener } : { els, docs };
  }

  /** Whether the comments right above item `index` (no blank line between) include `// prettier-ignore`. */
  private ignored(ordered: readonly El[], index: number): boolean {
    for (let j = index - 1; j >= 0; j--) {
      const el = ordered[j]!;
      if (ordered[j + 1]!.blankBefore || el.kind !== "comment") return false;
      if (el.comment.text.trim() === "// prettier-ignore") return true;
    }
    return false;
  }

  /** An item exactly as written (its first line re-indented), with the comments inside it. */
  private verbatim(el: ItemEl): Printed {
    for (const c of el.inside) this.printed.add(c);
    const lines = this.source({ start: el.item.span.start, end: this.closedEnd(el.item.span) }).split(/\r\n?|\n/);
    return { doc: join(literalline, lines), interior: [] };
  }

  /** Inserts `moved` before `el` and before the `///` block directly above it. */
  private insertBefore(els: El[], el: ItemEl, moved: readonly Comment[]): void {
    let pos = els.length;
    let next: El = el;
    while (pos > 0) {
      const prev = els[pos - 1]!;
      if (next.blankBefore || prev.kind !== "comment" || !prev.comment.doc) break;
      pos--;
      next = prev;
    }
    const sorted = [...moved].sort((a, b) => a.span.start - b.span.start);
    const movedEls: CommentEl[] = sorted.map((comment, i) => ({
      kind: "comment",
      comment,
      blankBefore: i === 0 ? next.blankBefore : false,
      forceBlankAfter: false,
    }));
    // A moved `///` right above the block would join it (or become a doc): keep a blank line.
    next.blankBefore = sorted[sorted.length - 1]!.doc;
    els.splice(pos, 0, ...movedEls);
  }

  /** Whether a blank line separates offsets `from` and `to` (only whitespace and `;` between). */
  private blankBetween(from: number, to: number): boolean {
    if (to <= from) return false;
    const gap = this.text.slice(from, to).replace(/\r\n?/g, "\n").replace(/;/g, "");
    return /\n[^\S\n]*\n/.test(gap);
  }

  private comment(c: Comment): string {
    this.printed.add(c);
    return c.text.trimEnd();
  }

  private elDoc(seq: Sequence, el: El): Doc {
    if (el.kind === "comment") return this.comment(el.comment);
    const doc = seq.docs.get(el) ?? "";
    return el.trailing ? [doc, lineSuffix(" " + this.comment(el.trailing))] : doc;
  }

  /** Members and statements: blank lines kept (at most one), none at the start. */
  private renderBody(seq: Sequence): Doc[] {
    const parts: Doc[] = [];
    seq.els.forEach((el, i) => {
      if (i > 0) parts.push(el.blankBefore ? [hardline, hardline] : hardline);
      parts.push(this.elDoc(seq, el));
    });
    return parts;
  }

  /** `{ ... }` around a sequence; `{}` when it is empty. */
  private braces(seq: Sequence): Doc {
    const opener = seq.opener ? lineSuffix(" " + this.comment(seq.opener)) : "";
    if (seq.els.length === 0) return seq.opener ? ["{", opener, hardline, "}"] : "{}";
    return ["{", opener, indent([hardline, ...this.renderBody(seq)]), hardline, "}"];
  }

  /**
   * The file: imports first (in their order), then declarations, each with the comments
   * above it; exactly one blank line between declarations, blank lines between imports kept.
   */
  private renderTopLevel(seq: Sequence): Doc[] {
    interface Group {
      els: El[];
      isImport: boolean;
    }
    const groups: Group[] = [];
    let current: El[] = [];
    for (const el of seq.els) {
      current.push(el);
      if (el.kind === "item") {
        groups.push({ els: current, isImport: el.item.kind === "Import" });
        current = [];
      }
    }
    const dangling = current;

    let header: El[] = [];
    const firstDecl = groups.findIndex((g) => !g.isImport);
    const reorder = firstDecl >= 0 && groups.slice(firstDecl).some((g) => g.isImport);
    if (reorder && firstDecl === 0) {
      // Comments at the top of the file followed by a blank line stay at the top.
      const first = groups[0]!;
      let cut = 0;
      for (let i = 1; i < first.els.length; i++) if (first.els[i]!.blankBefore) cut = i;
      header = first.els.slice(0, cut);
      first.els = first.els.slice(cut);
    }
    const ordered = reorder ? [...groups.filter((g) => g.isImport), ...groups.filter((g) => !g.isImport)] : groups;

    const parts: Doc[] = [];
    const emit = (el: El, blank: boolean) => {
      if (parts.length > 0) parts.push(blank ? [hardline, hardline] : hardline);
      parts.push(this.elDoc(seq, el));
    };
    header.forEach((el) => emit(el, el.blankBefore));
    ordered.forEach((g, gi) => {
      g.els.forEach((el, i) => {
        let blank = el.blankBefore;
        if (i === 0) {
          const prev = ordered[gi - 1];
          if (gi === 0) blank = header.length > 0;
          else blank = prev!.isImport && g.isImport ? el.blankBefore : true;
        }
        emit(el, blank);
      });
    });
    dangling.forEach((el) => emit(el, el.blankBefore));
    return parts;
  }

  // -------------------------------------------------------------------------------------
  // Items

  private item(n: Item, inside: readonly Comment[]): Printed {
    switch (n.kind) {
      case "Import":
        return { doc: ["import ", this.source(n.pathSpan)], interior: inside };
      case "Const":
        return { doc: ["const ", n.name.name, " = ", this.expr(n.value)], interior: inside };
      case "Neuron":
      case "Layer":
      case "Model": {
        const kw = n.kind === "Neuron" ? "neuron" : n.kind === "Layer" ? "layer" : "model";
        const afterHeader = Math.max(n.name.span.end, ...n.params.map((p) => p.span.end));
        const open = this.lbraceFrom(afterHeader, n.span.end);
        const close = n.span.end - 1;
        const members: readonly Item[] = n.members;
        const { body, interior } = this.body(members, inside, open, close);
        const { list, rest } = this.paramList(n.params.map((p) => ({ span: p.span, doc: this.param(p) })), n.name.span.end, open, interior);
        return { doc: [kw, " ", n.name.name, n.params.length > 0 || list !== "()" ? list : "", " ", body], interior: rest };
      }
      case "State":
        return { doc: ["state ", n.name.name, " = ", this.expr(n.init)], interior: inside };
      case "Amplitude":
        return { doc: ["amplitude ", n.name.name, "[", n.axis.name, "] = ", this.expr(n.init)], interior: inside };
      case "Step": {
        const { body, interior } = this.body(n.body.stmts, inside, n.body.span.start, n.body.span.end - 1);
        const { list, rest } = this.typedParams(n.params, n.span.start, n.body.span.start, interior);
        return { doc: ["step", list, " ", body], interior: rest };
      }
      case "Forward": {
        const result: Doc = n.result ? [" -> ", this.type(n.result)] : "";
        const { body, interior } = this.body(n.body.stmts, inside, n.body.span.start, n.body.span.end - 1);
        const { list, rest } = this.typedParams(n.params, n.span.start, n.result?.span.start ?? n.body.span.start, interior);
        return { doc: ["forward", list, result, " ", body], interior: rest };
      }
      case "Field":
        return { doc: [n.name.name, " = ", this.expr(n.value)], interior: inside };
      case "Weight":
        return { doc: ["weight ", n.name.name, ": ", this.type(n.type), n.init ? [" = ", this.expr(n.init)] : ""], interior: inside };
      case "Timesteps":
        return { doc: ["timesteps ", n.name.name, " = ", this.expr(n.value)], interior: inside };
      case "Let":
        return { doc: ["let ", n.name.name, " = ", this.expr(n.value)], interior: inside };
      case "Assign":
        return { doc: [[n.target, ...(n.members ?? [])].map((m) => m.name).join("."), " = ", this.expr(n.value)], interior: inside };
      case "Emit":
        return { doc: ["emit ", this.expr(n.value)], interior: inside };
      case "Return":
        return { doc: ["return ", this.expr(n.value)], interior: inside };
    }
  }

  /** A braced body from `open` (the `{`) to `close` (the `}`); comments before `{` are the header's. */
  private body(items: readonly Item[], inside: readonly Comment[], open: number, close: number): { body: Doc; interior: Comment[] } {
    const interior = inside.filter((c) => c.span.start < open || c.span.start >= close);
    const within = inside.filter((c) => c.span.start > open && c.span.start < close);
    const seq = this.sequence(items, within, open + 1, true);
    return { body: this.braces(seq), interior };
  }

  /**
   * The end of `span` with the `)` that close parentheses opened inside it: a node's span
   * ends at its last node, so `let x = (a + b)` ends before the `)`.
   */
  private closedEnd(span: Span): number {
    let depth = 0;
    let end = span.end;
    for (const [at, d] of this.parens) {
      if (at < span.start) continue;
      if (at < span.end) depth += d;
      else if (depth > 0 && d < 0) {
        depth--;
        end = at + 1;
      } else break;
    }
    return end;
  }

  /** The first `{` at or after `from` (and before `limit`). */
  private lbraceFrom(from: number, limit: number): number {
    let lo = 0;
    let hi = this.lbraces.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lbraces[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    const at = this.lbraces[lo];
    return at !== undefined && at < limit ? at : from;
  }

  private source(span: Span): string {
    return this.text.slice(span.start, span.end);
  }

  // -------------------------------------------------------------------------------------
  // Lists, parameters, types

  /** `(a, b)`; when too long, one element per line with a trailing comma. */
  private list(open: string, elements: readonly Doc[], close: string): Doc {
    if (elements.length === 0) return open + close;
    return group([open, indent([softline, join([",", line], [...elements])]), ifBreak(","), softline, close]);
  }

  private param(p: Param): Doc {
    return p.default ? [p.name.name, " = ", this.expr(p.default)] : p.name.name;
  }

  private typedParams(ps: readonly TypedParam[], from: number, limit: number, comments: readonly Comment[]): { list: Doc; rest: Comment[] } {
    const elements = ps.map((p) => ({ span: p.span, doc: (p.type ? [p.name.name, ": ", this.type(p.type)] : p.name.name) as Doc }));
    return this.paramList(elements, from, limit, comments);
  }

  /**
   * A parameter list `( ... )` whose `(` is the first at or after `from` and whose `)` lies
   * before `limit`, keeping the comments written inside it in place: the list is then broken
   * one parameter per line, a comment after a parameter stays at the end of that parameter's
   * line, a comment on its own line stays on its own line between the same parameters.
   * (Moving them above the declaration, as for comments inside expressions, would put them
   * above its `///` doc and away from the parameter they describe.) Returns the comments
   * that are not inside the list.
   */
  private paramList(elements: readonly { span: Span; doc: Doc }[], from: number, limit: number, comments: readonly Comment[]): { list: Doc; rest: Comment[] } {
    const open = this.parens.find(([at, d]) => d > 0 && at >= from && at < limit)?.[0];
    let close: number | undefined;
    if (open !== undefined) {
      let depth = 0;
      for (const [at, d] of this.parens) {
        if (at < open) continue;
        depth += d;
        if (depth === 0) {
          close = at;
          break;
        }
      }
    }
    const within = open !== undefined && close !== undefined && close < limit ? comments.filter((c) => c.span.start > open && c.span.start < close) : [];
    const rest = comments.filter((c) => !within.includes(c));
    if (within.length === 0) return { list: this.list("(", elements.map((e) => e.doc), ")"), rest };

    // A comment after a parameter on the same line stays at the end of that parameter's
    // line; one on its own line stays before the next parameter (before `)` after the last);
    // one inside a parameter (its default or type) moves above that parameter, as comments
    // inside expressions do (the parameter prints on one line).
    const trailing = new Map<number, Comment>();
    const ownBefore = new Map<number, Comment[]>();
    for (const c of [...within].sort((a, b) => a.span.start - b.span.start)) {
      let prev = -1;
      elements.forEach((e, i) => {
        if (e.span.start <= c.span.start) prev = i;
      });
      const host = elements[prev];
      if (host && c.span.start < this.closedEnd(host.span)) push(ownBefore, prev, c);
      else if (host && !startsLine(this.text, c.span.start) && !trailing.has(prev)) trailing.set(prev, c);
      else push(ownBefore, prev + 1, c);
    }
    const parts: Doc[] = [];
    elements.forEach((e, i) => {
      for (const c of ownBefore.get(i) ?? []) parts.push(hardline, this.comment(c));
      parts.push(hardline, e.doc, ",");
      const t = trailing.get(i);
      if (t) parts.push(lineSuffix(" " + this.comment(t)));
    });
    for (const c of ownBefore.get(elements.length) ?? []) parts.push(hardline, this.comment(c));
    return { list: ["(", indent(parts), hardline, ")"], rest };
  }

  private type(t: TypeExpr): Doc {
    return [t.dtype ?? "", this.list("[", t.dims.map((d) => this.dim(d)), "]")];
  }

  private dim(d: Expr | EllipsisDim): Doc {
    return d.kind === "Ellipsis" ? "..." : this.expr(d);
  }

  // -------------------------------------------------------------------------------------
  // Expressions

  private expr(e: Expr): Doc {
    switch (e.kind) {
      case "Number":
        return e.text;
      case "Bool":
        return e.value ? "true" : "false";
      case "String":
        return this.source(e.span);
      case "Name":
        return e.name;
      case "ErrorExpr":
        return "";
      case "Unary": {
        const operand = this.operand(e.operand, PREC_UNARY);
        // `- -x`, not `--x`: easier to read, and the same tree.
        return e.operand.kind === "Unary" ? ["- ", operand] : ["-", operand];
      }
      case "Binary":
        return this.binary(e);
      case "Call":
        return [this.operand(e.callee, PREC_POSTFIX), this.list("(", e.args.map((a) => this.arg(a)), ")")];
      case "Index":
        return [this.operand(e.target, PREC_POSTFIX), this.list("[", e.items.map((i) => this.indexItem(i)), "]")];
      case "Member":
        return [this.operand(e.target, PREC_POSTFIX), ".", e.name.name];
      case "Repeat":
        return group(["repeat ", this.operand(e.count, PREC_POSTFIX), " {", indent([line, this.expr(e.body)]), line, "}"]);
    }
  }

  /** `e` as an operand that needs at least precedence `min`, parenthesised if it binds looser. */
  private operand(e: Expr, min: number): Doc {
    const doc = this.expr(e);
    return precedence(e) < min ? ["(", doc, ")"] : doc;
  }

  /** A left-associative chain of one precedence level: `a + b - c`, breaking after operators. */
  private binary(e: Expr & { kind: "Binary" }): Doc {
    const level = precedence(e);
    const rest: [string, Expr][] = [];
    let left: Expr = e;
    while (left.kind === "Binary" && precedence(left) === level) {
      rest.push([left.op, left.right]);
      left = left.left;
    }
    rest.reverse();
    const first = this.operand(left, level);
    // Right operands of the same level need parentheses: `a - (b - c)`.
    const tail = rest.map(([op, right]) => [" ", op, line, this.operand(right, level + 1)]);
    return group([first, indent(tail)]);
  }

  private arg(a: Arg): Doc {
    return a.name ? [a.name.name, " = ", this.expr(a.value)] : this.expr(a.value);
  }

  private indexItem(i: Expr | SliceItem): Doc {
    if (i.kind !== "Slice") return this.expr(i);
    return [i.start ? this.expr(i.start) : "", ":", i.end ? this.expr(i.end) : ""];
  }
}

const PREC_ADD = 1;
const PREC_MUL = 2;
const PREC_UNARY = 3;
const PREC_POSTFIX = 4;
const PREC_PRIMARY = 5;

function precedence(e: Expr): number {
  switch (e.kind) {
    case "Binary":
      return e.op === "+" || e.op === "-" ? PREC_ADD : PREC_MUL;
    case "Unary":
      return PREC_UNARY;
    case "Call":
    case "Index":
    case "Member":
      return PREC_POSTFIX;
    default:
      return PREC_PRIMARY;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function startOf(el: El): number {
  return el.kind === "item" ? el.item.span.start : el.comment.span.start;
}

function endOf(el: El): number {
  if (el.kind === "comment") return el.comment.span.end;
  return Math.max(el.item.span.end, el.trailing?.span.end ?? 0);
}
