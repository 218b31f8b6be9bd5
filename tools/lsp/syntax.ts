/**
 * Editor-side views of one file's syntax: which identifiers declare something (and what),
 * which declaration encloses an offset, and the call an offset sits in.
 *
 * Deliberately absent: name resolution. What a *use* refers to comes only from the checker's
 * RefRecords; this module only says what a *declaring* identifier is, so hover, semantic tokens
 * and rename can describe a reference's target.
 */
import type {
  Block,
  Decl,
  Expr,
  ForwardDecl,
  LetStmt,
  ModuleMember,
  NeuronMember,
  Param,
  SpkFile,
  StepDecl,
  TypeExpr,
  TypedParam,
} from "../../grammar/ast.js";
import type { Span } from "../../grammar/source.js";
import { type LexToken, lexTokens } from "../../grammar/tokens.js";

export type DefKind =
  | "neuron"
  | "layer"
  | "model"
  | "const"
  | "param"
  | "state"
  | "amplitude"
  | "weight"
  | "field"
  | "timesteps"
  | "input"
  | "let"
  | "shape";

export interface Def {
  readonly kind: DefKind;
  readonly name: string;
  /** The declaring identifier. */
  readonly span: Span;
  /** The top-level declaration it belongs to (itself for declarations). */
  readonly decl: Decl;
  readonly node: Decl | Param | TypedParam | NeuronMember | ModuleMember | LetStmt | undefined;
  /** The step or forward that declares an input or a let. */
  readonly body?: StepDecl | ForwardDecl;
}

export interface NameInType {
  readonly name: string;
  readonly span: Span;
  readonly decl: Decl;
  readonly body?: ForwardDecl | StepDecl;
}

export interface FileIndex {
  readonly defs: readonly Def[];
  readonly byStart: ReadonlyMap<number, Def>;
  /** Every name written inside a type (`[T, B, L, d]`), in source order. */
  readonly typeNames: readonly NameInType[];
  readonly typeSpans: readonly Span[];
}

const indexes = new WeakMap<SpkFile, FileIndex>();

export function indexFile(ast: SpkFile): FileIndex {
  const cached = indexes.get(ast);
  if (cached) return cached;
  const defs: Def[] = [];
  const typeNames: NameInType[] = [];
  const typeSpans: Span[] = [];
  const def = (d: Def) => {
    if (d.name) defs.push(d);
  };
  const type = (t: TypeExpr | undefined, decl: Decl, body?: ForwardDecl | StepDecl) => {
    if (!t) return;
    typeSpans.push(t.span);
    for (const dim of t.dims) if (dim.kind !== "Ellipsis") walkExpr(dim, (e) => e.kind === "Name" && typeNames.push({ name: e.name, span: e.span, decl, body }));
  };
  const block = (b: Block, decl: Decl, body: ForwardDecl | StepDecl) => {
    for (const s of b.stmts) if (s.kind === "Let") def({ kind: "let", name: s.name.name, span: s.name.span, decl, node: s, body });
  };
  for (const decl of ast.decls) {
    const kind: DefKind = decl.kind === "Const" ? "const" : decl.kind === "Neuron" ? "neuron" : decl.kind === "Layer" ? "layer" : "model";
    def({ kind, name: decl.name.name, span: decl.name.span, decl, node: decl });
    if (decl.kind === "Const") continue;
    for (const p of decl.params) def({ kind: "param", name: p.name.name, span: p.name.span, decl, node: p });
    for (const m of decl.members) {
      switch (m.kind) {
        case "State":
          def({ kind: "state", name: m.name.name, span: m.name.span, decl, node: m });
          break;
        case "Amplitude":
          def({ kind: "amplitude", name: m.name.name, span: m.name.span, decl, node: m });
          break;
        case "Field":
          def({ kind: "field", name: m.name.name, span: m.name.span, decl, node: m });
          break;
        case "Weight":
          def({ kind: "weight", name: m.name.name, span: m.name.span, decl, node: m });
          type(m.type, decl);
          break;
        case "Timesteps":
          def({ kind: "timesteps", name: m.name.name, span: m.name.span, decl, node: m });
          break;
        case "Step":
        case "Forward":
          for (const p of m.params) {
            def({ kind: "input", name: p.name.name, span: p.name.span, decl, node: p, body: m });
            type(p.type, decl, m);
          }
          if (m.kind === "Forward") type(m.result, decl, m);
          block(m.body, decl, m);
          break;
      }
    }
  }
  const byStart = new Map<number, Def>();
  for (const d of defs) byStart.set(d.span.start, d);
  const index: FileIndex = { defs, byStart, typeNames, typeSpans };
  indexes.set(ast, index);
  return index;
}

/** The definition whose identifier is exactly `span`, or a shape name first written there. */
export function defAtSpan(ast: SpkFile, span: Span): Def | undefined {
  const index = indexFile(ast);
  const d = index.byStart.get(span.start);
  if (d && d.span.end === span.end) return d;
  const t = index.typeNames.find((n) => n.span.start === span.start && n.span.end === span.end);
  if (t) return { kind: "shape", name: t.name, span: t.span, decl: t.decl, node: undefined, body: t.body };
  return undefined;
}

export function declAt(ast: SpkFile, offset: number): Decl | undefined {
  return ast.decls.find((d) => d.span.start <= offset && offset <= d.span.end);
}

export function bodyAt(decl: Decl, offset: number): StepDecl | ForwardDecl | undefined {
  if (decl.kind === "Const") return undefined;
  for (const m of decl.members) if ((m.kind === "Step" || m.kind === "Forward") && m.span.start <= offset && offset <= m.span.end) return m;
  return undefined;
}

/** Calls `visit` on `e` and every expression inside it. */
function walkExpr(e: Expr, visit: (e: Expr) => void): void {
  visit(e);
  switch (e.kind) {
    case "Unary":
      walkExpr(e.operand, visit);
      break;
    case "Binary":
      walkExpr(e.left, visit);
      walkExpr(e.right, visit);
      break;
    case "Call":
      walkExpr(e.callee, visit);
      for (const a of e.args) walkExpr(a.value, visit);
      break;
    case "Index":
      walkExpr(e.target, visit);
      for (const it of e.items) {
        if (it.kind === "Slice") {
          if (it.start) walkExpr(it.start, visit);
          if (it.end) walkExpr(it.end, visit);
        } else walkExpr(it, visit);
      }
      break;
    case "Repeat":
      walkExpr(e.count, visit);
      walkExpr(e.body, visit);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------
// Tokens

const tokenCache = new Map<string, LexToken[]>();

/** lexTokens, memoised for the last few texts (completion and signature help re-ask). */
export function tokensOf(text: string): LexToken[] {
  const hit = tokenCache.get(text);
  if (hit) return hit;
  const tokens = lexTokens(text);
  if (tokenCache.size >= 8) tokenCache.delete(tokenCache.keys().next().value!);
  tokenCache.set(text, tokens);
  return tokens;
}

export interface CallContext {
  /** The callee identifier just before the open parenthesis. */
  readonly callee: string;
  readonly calleeSpan: Span;
  /** Index of the argument the offset is in (commas before it at the call's depth). */
  readonly argIndex: number;
  /** Set when the current argument is written `name = ...` and the offset is after the `=`. */
  readonly argName?: string;
  /** Named arguments already written in this call. */
  readonly named: readonly string[];
}

/**
 * The call whose argument list contains `offset`, read from tokens so that it works while the
 * user is typing and the tree has holes. Stops at braces and brackets: `f(x[|` is not in f.
 */
export function callAt(text: string, offset: number): CallContext | undefined {
  const tokens = tokensOf(text).filter((t) => t.kind !== "comment" && t.kind !== "doc");
  let i = tokens.findIndex((t) => t.span.start >= offset);
  if (i < 0) i = tokens.length;
  // A token that straddles the offset (an identifier being typed) belongs before it.
  let depth = 0;
  let commas = 0;
  const named: string[] = [];
  let argName: string | undefined;
  let sawArgStart = false;
  const src = (t: LexToken) => text.slice(t.span.start, t.span.end);
  for (let k = i - 1, n = 0; k >= 0 && n < 4000; k--, n++) {
    const t = tokens[k]!;
    const s = src(t);
    if (s === ")" || s === "]") depth++;
    else if (s === "}") return undefined;
    else if (s === "(" || s === "[") {
      if (depth > 0) {
        depth--;
        continue;
      }
      if (s === "[") return undefined;
      const prev = tokens[k - 1];
      if (!prev || prev.kind !== "ident") return undefined;
      return { callee: src(prev), calleeSpan: prev.span, argIndex: commas, argName, named };
    } else if (s === "{") return undefined;
    else if (depth === 0 && s === ",") {
      commas++;
      sawArgStart = true;
    } else if (depth === 0 && s === "=" && t.span.end <= offset) {
      const before = tokens[k - 1];
      if (before?.kind === "ident") {
        named.push(src(before));
        if (!sawArgStart) argName = src(before);
      }
    }
  }
  return undefined;
}
