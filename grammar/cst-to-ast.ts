/**
 * CST → AST: turns the concrete syntax tree of `SpkParser` into the nodes of `ast.ts`.
 *
 * This module owns the mapping and its tolerance of partial trees. After error recovery any
 * child may be absent, and a token may be a virtual one Chevrotain inserted (no offsets).
 * Every converter therefore takes `at`, the offset where its construct would start (the end
 * of the last real token before it): a missing name becomes `Ident { name: "" }` with an
 * empty span there, a missing expression an `ErrorExpr` with an empty span there. All spans
 * go through `span()`, which clamps them into the document.
 */
import type { CstElement, CstNode, IToken } from "chevrotain";
import type {
  Arg,
  AmplitudeDecl,
  Block,
  ConstDecl,
  Decl,
  EllipsisDim,
  Expr,
  Ident,
  ImportDecl,
  ModuleDecl,
  ModuleMember,
  NeuronDecl,
  NeuronMember,
  Param,
  SliceItem,
  StateDecl,
  StepDecl,
  Stmt,
  TypedParam,
  TypeExpr,
  BinaryOp,
  FieldDecl,
  WeightDecl,
  TimestepsDecl,
  ForwardDecl,
} from "./ast.js";
import type { Span } from "./source.js";
import type { DocLookup } from "./doc-comments.js";
import { stringValue } from "./tokens.js";

export interface ConvertResult {
  readonly imports: ImportDecl[];
  readonly decls: Decl[];
  /** Internal errors met while converting one declaration (that declaration is dropped). */
  readonly internalErrors: { readonly span: Span; readonly error: unknown }[];
}

/** Converts the top-level items of a `file` CST node. */
export function cstToAst(cst: CstNode | undefined, text: string, docFor: DocLookup): ConvertResult {
  const c = new Converter(text, docFor);
  const result: ConvertResult = { imports: [], decls: [], internalErrors: [] };
  let at = 0;
  for (const item of cst ? nodes(cst, "item") : []) {
    try {
      const node = c.topLevel(item, at);
      if (node === undefined) continue;
      if (node.kind === "Import") result.imports.push(node);
      else result.decls.push(node);
      at = node.span.end;
    } catch (error) {
      result.internalErrors.push({ span: c.range(item) ?? c.span(at, at), error });
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// CST access helpers

function isNode(e: CstElement | undefined): e is CstNode {
  return e !== undefined && "children" in e;
}

function nodes(n: CstNode, key: string): CstNode[] {
  const list = n.children[key];
  return list ? list.filter(isNode) : [];
}

function node(n: CstNode | undefined, key: string): CstNode | undefined {
  if (n === undefined) return undefined;
  const e = n.children[key]?.[0];
  return isNode(e) ? e : undefined;
}

/** A token child, only if it is real (not inserted by recovery). */
function tok(n: CstNode | undefined, key: string): IToken | undefined {
  if (n === undefined) return undefined;
  const e = n.children[key]?.[0];
  return e !== undefined && !isNode(e) && isReal(e) ? e : undefined;
}

/** Every real token child under `key`, in source order. */
function toks(n: CstNode | undefined, key: string): IToken[] {
  return (n?.children[key] ?? []).filter((e): e is IToken => !isNode(e) && isReal(e));
}

function isReal(t: IToken): boolean {
  return t.isInsertedInRecovery !== true && Number.isFinite(t.startOffset) && t.startOffset >= 0;
}

const BINARY_OPS: ReadonlySet<string> = new Set(["+", "-", "*", "/", "@"]);

// ---------------------------------------------------------------------------------------

class Converter {
  private readonly ranges = new WeakMap<CstNode, Span | null>();

  constructor(
    private readonly text: string,
    private readonly docFor: DocLookup,
  ) {}

  /** A span clamped into the document, with start <= end. */
  span(start: number, end: number): Span {
    const len = this.text.length;
    const s = Number.isFinite(start) ? Math.max(0, Math.min(start, len)) : len;
    const e = Number.isFinite(end) ? Math.max(s, Math.min(end, len)) : s;
    return { start: s, end: e };
  }

  private empty(at: number): Span {
    return this.span(at, at);
  }

  private tokSpan(t: IToken): Span {
    return this.span(t.startOffset, t.startOffset + t.image.length);
  }

  /** The smallest span covering all given spans and tokens; `fallback` if none. */
  private cover(fallback: number, ...parts: (Span | IToken | undefined)[]): Span {
    let start = Infinity;
    let end = -Infinity;
    for (const p of parts) {
      if (p === undefined) continue;
      const s = "start" in p ? p : this.tokSpan(p);
      if (s.start < start) start = s.start;
      if (s.end > end) end = s.end;
    }
    return start === Infinity ? this.empty(fallback) : this.span(start, end);
  }

  /** Span of all real tokens inside a CST node, or undefined when it holds none. */
  range(n: CstNode): Span | undefined {
    const cached = this.ranges.get(n);
    if (cached !== undefined) return cached ?? undefined;
    let start = Infinity;
    let end = -Infinity;
    for (const list of Object.values(n.children)) {
      for (const e of list) {
        let s: Span | undefined;
        if (isNode(e)) s = this.range(e);
        else if (isReal(e)) s = this.tokSpan(e);
        if (s === undefined) continue;
        if (s.start < start) start = s.start;
        if (s.end > end) end = s.end;
      }
    }
    const r = start === Infinity ? null : this.span(start, end);
    this.ranges.set(n, r);
    return r ?? undefined;
  }

  private after(fallback: number, ...parts: (Span | IToken | undefined)[]): number {
    let at = fallback;
    for (const p of parts) {
      if (p === undefined) continue;
      const end = "start" in p ? (p as Span).end : (p as IToken).startOffset + (p as IToken).image.length;
      if (end > at) at = end;
    }
    return at;
  }

  private ident(t: IToken | undefined, at: number): Ident {
    if (t === undefined) return { kind: "Ident", name: "", span: this.empty(at) };
    return { kind: "Ident", name: t.image, span: this.tokSpan(t) };
  }

  private withDoc<T extends { span: Span }>(n: T): T & { doc?: string } {
    const doc = this.docFor(n.span.start);
    return doc === undefined ? n : { ...n, doc };
  }

  // -------------------------------------------------------------------------------------
  // Declarations

  topLevel(n: CstNode, at: number): ImportDecl | Decl | undefined {
    switch (n.name) {
      case "importDecl":
        return this.importDecl(n, at);
      case "constDecl":
        return this.constDecl(n, at);
      case "neuronDecl":
        return this.neuronDecl(n, at);
      case "moduleDecl":
        return this.moduleDecl(n, at);
    }
    return undefined;
  }

  private importDecl(n: CstNode, at: number): ImportDecl | undefined {
    const kw = tok(n, "kw");
    const path = tok(n, "path");
    if (kw === undefined && path === undefined) return undefined;
    const pathSpan = path ? this.tokSpan(path) : this.empty(this.after(at, kw));
    return {
      kind: "Import",
      path: path ? stringValue(path.image) : "",
      pathSpan,
      span: this.cover(at, kw, path),
    };
  }

  private constDecl(n: CstNode, at: number): ConstDecl | undefined {
    const kw = tok(n, "kw");
    if (kw === undefined) return undefined;
    const nameTok = tok(n, "name");
    const name = this.ident(nameTok, this.after(at, kw));
    const eq = tok(n, "eq");
    const value = this.expr(node(n, "value"), this.after(at, kw, nameTok, eq));
    const d: ConstDecl = { kind: "Const", name, value, span: this.cover(at, kw, name.span, eq, value.span) };
    return this.withDoc(d);
  }

  private neuronDecl(n: CstNode, at: number): NeuronDecl | undefined {
    const kw = tok(n, "kw");
    if (kw === undefined) return undefined;
    const nameTok = tok(n, "name");
    const name = this.ident(nameTok, this.after(at, kw));
    const paramsNode = node(n, "params");
    const params = paramsNode ? this.params(paramsNode) : [];
    const members: NeuronMember[] = [];
    for (const m of nodes(n, "member")) {
      const member = this.neuronMember(m);
      if (member) members.push(member);
    }
    const span = this.cover(at, kw, name.span, paramsNode && this.range(paramsNode), tok(n, "lbrace"), ...members.map((m) => m.span), tok(n, "rbrace"));
    const d: NeuronDecl = { kind: "Neuron", name, params, members, span };
    return this.withDoc(d);
  }

  private moduleDecl(n: CstNode, at: number): ModuleDecl | undefined {
    const kw = tok(n, "kw");
    if (kw === undefined) return undefined;
    const nameTok = tok(n, "name");
    const name = this.ident(nameTok, this.after(at, kw));
    const paramsNode = node(n, "params");
    const params = paramsNode ? this.params(paramsNode) : [];
    const members: ModuleMember[] = [];
    for (const m of nodes(n, "member")) {
      const member = this.moduleMember(m);
      if (member) members.push(member);
    }
    const span = this.cover(at, kw, name.span, paramsNode && this.range(paramsNode), tok(n, "lbrace"), ...members.map((m) => m.span), tok(n, "rbrace"));
    const d: ModuleDecl = { kind: kw.image === "model" ? "Model" : "Layer", name, params, members, span };
    return this.withDoc(d);
  }

  private params(n: CstNode): Param[] {
    const out: Param[] = [];
    let at = this.after(0, tok(n, "lparen"));
    for (const p of nodes(n, "param")) {
      const nameTok = tok(p, "name");
      const pAt = this.range(p)?.start ?? at;
      const name = this.ident(nameTok, pAt);
      const eq = tok(p, "eq");
      const defNode = node(p, "default");
      const def = eq !== undefined || defNode !== undefined ? this.expr(defNode, this.after(pAt, nameTok, eq)) : undefined;
      const param: Param = def
        ? { kind: "Param", name, default: def, span: this.cover(pAt, name.span, eq, def.span) }
        : { kind: "Param", name, span: name.span };
      out.push(param);
      at = param.span.end;
    }
    return out;
  }

  private typedParams(n: CstNode | undefined, at: number): TypedParam[] {
    if (n === undefined) return [];
    const out: TypedParam[] = [];
    at = this.after(at, tok(n, "lparen"));
    for (const p of nodes(n, "param")) {
      const nameTok = tok(p, "name");
      const pAt = this.range(p)?.start ?? at;
      const name = this.ident(nameTok, pAt);
      const colon = tok(p, "colon");
      const typeNode = node(p, "type");
      const type = colon !== undefined || typeNode !== undefined ? this.type(typeNode, this.after(pAt, nameTok, colon)) : undefined;
      const param: TypedParam = type
        ? { kind: "TypedParam", name, type, span: this.cover(pAt, name.span, colon, type.span) }
        : { kind: "TypedParam", name, span: name.span };
      out.push(param);
      at = param.span.end;
    }
    return out;
  }

  // -------------------------------------------------------------------------------------
  // Members

  private neuronMember(m: CstNode): NeuronMember | undefined {
    const d = node(m, "decl");
    if (d === undefined) return undefined;
    const kw = tok(d, "kw");
    if (kw === undefined) return undefined;
    const at = this.after(kw.startOffset, kw);
    switch (d.name) {
      case "stateDecl": {
        const nameTok = tok(d, "name");
        const name = this.ident(nameTok, at);
        const eq = tok(d, "eq");
        const init = this.expr(node(d, "value"), this.after(at, nameTok, eq));
        const s: StateDecl = { kind: "State", name, init, span: this.cover(at, kw, name.span, eq, init.span) };
        return this.withDoc(s);
      }
      case "amplitudeDecl": {
        const nameTok = tok(d, "name");
        const name = this.ident(nameTok, at);
        const lb = tok(d, "lbracket");
        const axisTok = tok(d, "axis");
        const axis = this.ident(axisTok, this.after(at, nameTok, lb));
        const rb = tok(d, "rbracket");
        const eq = tok(d, "eq");
        const init = this.expr(node(d, "value"), this.after(at, nameTok, lb, axisTok, rb, eq));
        const a: AmplitudeDecl = {
          kind: "Amplitude",
          name,
          axis,
          init,
          span: this.cover(at, kw, name.span, lb, axis.span, rb, eq, init.span),
        };
        return this.withDoc(a);
      }
      case "stepDecl": {
        const paramsNode = node(d, "params");
        const params = this.typedParams(paramsNode, at);
        const body = this.block(node(d, "body"), this.after(at, paramsNode && this.range(paramsNode)));
        const s: StepDecl = { kind: "Step", params, body, span: this.cover(at, kw, paramsNode && this.range(paramsNode), body.span) };
        return s;
      }
    }
    return undefined;
  }

  private moduleMember(m: CstNode): ModuleMember | undefined {
    const d = node(m, "decl");
    if (d === undefined) return undefined;
    if (d.name === "fieldDecl") {
      const nameTok = tok(d, "name");
      if (nameTok === undefined) return undefined;
      const name = this.ident(nameTok, nameTok.startOffset);
      const eq = tok(d, "eq");
      const value = this.expr(node(d, "value"), this.after(name.span.end, eq));
      const f: FieldDecl = { kind: "Field", name, value, span: this.cover(name.span.end, name.span, eq, value.span) };
      return this.withDoc(f);
    }
    const kw = tok(d, "kw");
    if (kw === undefined) return undefined;
    const at = this.after(kw.startOffset, kw);
    switch (d.name) {
      case "weightDecl": {
        const nameTok = tok(d, "name");
        const name = this.ident(nameTok, at);
        const colon = tok(d, "colon");
        const type = this.type(node(d, "type"), this.after(at, nameTok, colon));
        const eq = tok(d, "eq");
        const valueNode = node(d, "value");
        const init = eq !== undefined || valueNode !== undefined ? this.expr(valueNode, this.after(type.span.end, eq)) : undefined;
        const span = this.cover(at, kw, name.span, colon, type.span, eq, init?.span);
        const w: WeightDecl = init ? { kind: "Weight", name, type, init, span } : { kind: "Weight", name, type, span };
        return this.withDoc(w);
      }
      case "timestepsDecl": {
        const nameTok = tok(d, "name");
        const name = this.ident(nameTok, at);
        const eq = tok(d, "eq");
        const value = this.expr(node(d, "value"), this.after(at, nameTok, eq));
        const t: TimestepsDecl = { kind: "Timesteps", name, value, span: this.cover(at, kw, name.span, eq, value.span) };
        return t;
      }
      case "forwardDecl": {
        const paramsNode = node(d, "params");
        const params = this.typedParams(paramsNode, at);
        let cursor = this.after(at, paramsNode && this.range(paramsNode));
        const arrow = tok(d, "arrow");
        const resultNode = node(d, "result");
        let result: TypeExpr | undefined;
        if (arrow !== undefined || resultNode !== undefined) {
          result = this.type(resultNode, this.after(cursor, arrow));
          cursor = this.after(cursor, arrow, result.span);
        }
        const body = this.block(node(d, "body"), cursor);
        const span = this.cover(at, kw, paramsNode && this.range(paramsNode), arrow, result?.span, body.span);
        const f: ForwardDecl = result ? { kind: "Forward", params, result, body, span } : { kind: "Forward", params, body, span };
        return f;
      }
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------
  // Types, blocks, statements

  private type(n: CstNode | undefined, at: number): TypeExpr {
    if (n === undefined) return { kind: "Type", dims: [], span: this.empty(at) };
    const dtypeTok = tok(n, "dtype");
    const lb = tok(n, "lbracket");
    const dims: (Expr | EllipsisDim)[] = [];
    let cursor = this.after(at, dtypeTok, lb);
    for (const d of nodes(n, "dim")) {
      const ell = tok(d, "ellipsis");
      const dim: Expr | EllipsisDim = ell ? { kind: "Ellipsis", span: this.tokSpan(ell) } : this.expr(node(d, "value"), this.range(d)?.start ?? cursor);
      dims.push(dim);
      cursor = this.after(cursor, dim.span);
    }
    const rb = tok(n, "rbracket");
    const span = this.cover(at, dtypeTok, lb, ...dims.map((d) => d.span), rb);
    const dtype = dtypeTok?.image === "f32" ? "f32" : dtypeTok?.image === "int" ? "int" : undefined;
    return dtype ? { kind: "Type", dtype, dims, span } : { kind: "Type", dims, span };
  }

  private block(n: CstNode | undefined, at: number): Block {
    if (n === undefined) return { kind: "Block", stmts: [], span: this.empty(at) };
    const lb = tok(n, "lbrace");
    const stmts: Stmt[] = [];
    for (const s of nodes(n, "stmt")) {
      const stmt = this.stmt(node(s, "stmt"));
      if (stmt) stmts.push(stmt);
    }
    const span = this.cover(at, lb, ...stmts.map((s) => s.span), tok(n, "rbrace"));
    return { kind: "Block", stmts, span };
  }

  private stmt(d: CstNode | undefined): Stmt | undefined {
    if (d === undefined) return undefined;
    if (d.name === "assignStmt") {
      const nameTok = tok(d, "name");
      if (nameTok === undefined) return undefined;
      const target = this.ident(nameTok, nameTok.startOffset);
      const members = toks(d, "member").map((m) => this.ident(m, m.startOffset));
      // `lin. = x`: a `.` whose name is missing (reported by the parser) still makes a member
      // path, with an empty name there, so the checker does not take it for `lin = x`.
      const dots = toks(d, "dot");
      if (dots.length > members.length) members.push(this.ident(undefined, this.after((members[members.length - 1]?.span ?? target.span).end, dots[dots.length - 1])));
      const last = members[members.length - 1]?.span ?? target.span;
      const eq = tok(d, "eq");
      const value = this.expr(node(d, "value"), this.after(last.end, eq));
      const span = this.cover(target.span.end, target.span, last, eq, value.span);
      return members.length > 0 ? { kind: "Assign", target, members, value, span } : { kind: "Assign", target, value, span };
    }
    const kw = tok(d, "kw");
    if (kw === undefined) return undefined;
    const at = this.after(kw.startOffset, kw);
    switch (d.name) {
      case "letStmt": {
        const nameTok = tok(d, "name");
        const name = this.ident(nameTok, at);
        const eq = tok(d, "eq");
        const value = this.expr(node(d, "value"), this.after(at, nameTok, eq));
        return { kind: "Let", name, value, span: this.cover(at, kw, name.span, eq, value.span) };
      }
      case "emitStmt": {
        const value = this.expr(node(d, "value"), at);
        return { kind: "Emit", value, span: this.cover(at, kw, value.span) };
      }
      case "returnStmt": {
        const value = this.expr(node(d, "value"), at);
        return { kind: "Return", value, span: this.cover(at, kw, value.span) };
      }
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------
  // Expressions

  private error(at: number): Expr {
    return { kind: "ErrorExpr", span: this.empty(at) };
  }

  /** `expression` and `term` share one shape: operands separated by left-associative operators. */
  expr(n: CstNode | undefined, at: number): Expr {
    if (n === undefined) return this.error(at);
    switch (n.name) {
      case "expression":
      case "term":
        return this.binary(n, at);
      case "unary":
        return this.unary(n, at);
      case "postfix":
        return this.postfix(n, at);
    }
    return this.error(at);
  }

  private binary(n: CstNode, at: number): Expr {
    const operands = nodes(n, "operand");
    const ops = (n.children["op"] ?? []).filter((e): e is IToken => !isNode(e));
    let left = this.expr(operands[0], this.range(n)?.start ?? at);
    for (let i = 0; i < ops.length; i++) {
      const opTok = ops[i]!;
      if (!isReal(opTok) || !BINARY_OPS.has(opTok.image)) continue;
      const right = this.expr(operands[i + 1], this.after(left.span.end, opTok));
      left = {
        kind: "Binary",
        op: opTok.image as BinaryOp,
        left,
        right,
        span: this.cover(at, left.span, opTok, right.span),
      };
    }
    return left;
  }

  private unary(n: CstNode, at: number): Expr {
    const minus = tok(n, "minus");
    if (minus === undefined) return this.expr(node(n, "postfix") ?? node(n, "operand"), this.range(n)?.start ?? at);
    const operand = this.expr(node(n, "operand"), this.after(at, minus));
    return { kind: "Unary", op: "-", operand, span: this.cover(at, minus, operand.span) };
  }

  private postfix(n: CstNode, at: number): Expr {
    let target = this.primary(node(n, "primary"), this.range(n)?.start ?? at);
    for (const s of nodes(n, "suffix")) {
      if (s.name === "callArgs") {
        const args: Arg[] = [];
        let cursor = this.after(target.span.end, tok(s, "lparen"));
        for (const a of nodes(s, "arg")) {
          const arg = this.arg(a, this.range(a)?.start ?? cursor);
          args.push(arg);
          cursor = arg.span.end;
        }
        const span = this.cover(at, target.span, this.range(s));
        target = { kind: "Call", callee: target, args, span };
      } else if (s.name === "indexArgs") {
        const items: (Expr | SliceItem)[] = [];
        let cursor = this.after(target.span.end, tok(s, "lbracket"));
        for (const it of nodes(s, "item")) {
          const item = this.indexItem(it, this.range(it)?.start ?? cursor);
          items.push(item);
          cursor = item.span.end;
        }
        const span = this.cover(at, target.span, this.range(s));
        target = { kind: "Index", target, items, span };
      } else if (s.name === "memberAccess") {
        const dot = tok(s, "dot");
        const name = this.ident(tok(s, "name"), this.after(target.span.end, dot));
        target = { kind: "Member", target, name, span: this.cover(at, target.span, dot, name.span) };
      }
    }
    return target;
  }

  private arg(n: CstNode, at: number): Arg {
    const nameTok = tok(n, "name");
    const eq = tok(n, "eq");
    if (nameTok !== undefined || eq !== undefined) {
      const name = this.ident(nameTok, at);
      const value = this.expr(node(n, "value"), this.after(at, nameTok, eq));
      return { kind: "Arg", name, value, span: this.cover(at, name.span, eq, value.span) };
    }
    const value = this.expr(node(n, "value"), at);
    return { kind: "Arg", value, span: value.span };
  }

  private indexItem(n: CstNode, at: number): Expr | SliceItem {
    const colon = tok(n, "colon");
    const startNode = node(n, "start");
    if (colon === undefined && !(n.children["colon"]?.length)) return this.expr(startNode, at);
    const start = startNode ? this.expr(startNode, at) : undefined;
    const endNode = node(n, "end");
    const end = endNode ? this.expr(endNode, this.after(at, start?.span, colon)) : undefined;
    const span = this.cover(at, start?.span, colon, end?.span);
    const slice: { -readonly [K in keyof SliceItem]: SliceItem[K] } = { kind: "Slice", span };
    if (start) slice.start = start;
    if (end) slice.end = end;
    return slice;
  }

  private primary(n: CstNode | undefined, at: number): Expr {
    if (n === undefined) return this.error(at);
    const num = tok(n, "number");
    if (num) return { kind: "Number", value: Number(num.image), text: num.image, span: this.tokSpan(num) };
    const str = tok(n, "string");
    if (str) return { kind: "String", value: stringValue(str.image), span: this.tokSpan(str) };
    const bool = tok(n, "bool");
    if (bool) return { kind: "Bool", value: bool.image === "true", span: this.tokSpan(bool) };
    const name = tok(n, "name");
    if (name) return { kind: "Name", name: name.image, span: this.tokSpan(name) };
    const lparen = tok(n, "lparen");
    if (lparen) return this.expr(node(n, "inner"), this.after(at, lparen));
    const rep = node(n, "repeat");
    if (rep) return this.repeat(rep, at);
    return this.error(at);
  }

  private repeat(n: CstNode, at: number): Expr {
    const kw = tok(n, "kw");
    const start = kw ? kw.startOffset : at;
    const count = this.expr(node(n, "count"), this.after(start, kw));
    const lb = tok(n, "lbrace");
    const body = this.expr(node(n, "body"), this.after(start, kw, count.span, lb));
    const span = this.cover(at, kw, count.span, lb, body.span, tok(n, "rbrace"));
    return { kind: "Repeat", count, body, span };
  }
}
