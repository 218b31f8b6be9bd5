/**
 * The abstract syntax tree of a `.spk` file.
 *
 * Every node has a `span` inside its document. Nodes are plain immutable data: the parser
 * builds them, everything else reads them. A file with syntax errors still yields a tree;
 * where the parser had to give up on an expression it puts an `ErrorExpr`, and a missing
 * name is an `Ident` with `name === ""` (its span is empty, at the point it was expected).
 */
import type { Span } from "./source.js";

export interface Ident {
  readonly kind: "Ident";
  readonly name: string;
  readonly span: Span;
}

export interface Comment {
  readonly kind: "Comment";
  /** The comment's text including its `//` or `///` marker. */
  readonly text: string;
  /** True for `///` doc comments. */
  readonly doc: boolean;
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------
// Expressions

export type BinaryOp = "+" | "-" | "*" | "/" | "@";

export interface NumberLit {
  readonly kind: "Number";
  readonly value: number;
  /** The literal as written (`1e-12`, `0.25`), so printers keep the user's spelling. */
  readonly text: string;
  readonly span: Span;
}

export interface BoolLit {
  readonly kind: "Bool";
  readonly value: boolean;
  readonly span: Span;
}

export interface StringLit {
  readonly kind: "String";
  readonly value: string;
  readonly span: Span;
}

export interface NameExpr {
  readonly kind: "Name";
  readonly name: string;
  readonly span: Span;
}

export interface UnaryExpr {
  readonly kind: "Unary";
  readonly op: "-";
  readonly operand: Expr;
  readonly span: Span;
}

export interface BinaryExpr {
  readonly kind: "Binary";
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
  readonly span: Span;
}

export interface Arg {
  readonly kind: "Arg";
  /** Present for named arguments (`causal = true`). */
  readonly name?: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export interface CallExpr {
  readonly kind: "Call";
  readonly callee: Expr;
  readonly args: readonly Arg[];
  readonly span: Span;
}

/** `a:b` inside brackets; either bound may be absent (`:` alone is the whole axis). */
export interface SliceItem {
  readonly kind: "Slice";
  readonly start?: Expr;
  readonly end?: Expr;
  readonly span: Span;
}

export interface IndexExpr {
  readonly kind: "Index";
  readonly target: Expr;
  readonly items: readonly (Expr | SliceItem)[];
  readonly span: Span;
}

/**
 * `word.table`: a parameter of one of the layer's own fields, read by its forward (shared
 * weights: one parameter, used in two places). `target` is the field (or a longer path to it).
 */
export interface MemberExpr {
  readonly kind: "Member";
  readonly target: Expr;
  readonly name: Ident;
  readonly span: Span;
}

/** `repeat n { Block(...) }`: n fresh instances of the body, applied in sequence. */
export interface RepeatExpr {
  readonly kind: "Repeat";
  readonly count: Expr;
  readonly body: Expr;
  readonly span: Span;
}

/** Placeholder where the parser recovered from a syntax error. */
export interface ErrorExpr {
  readonly kind: "ErrorExpr";
  readonly span: Span;
}

export type Expr =
  | NumberLit
  | BoolLit
  | StringLit
  | NameExpr
  | UnaryExpr
  | BinaryExpr
  | CallExpr
  | IndexExpr
  | MemberExpr
  | RepeatExpr
  | ErrorExpr;

// ---------------------------------------------------------------------------------------
// Types

/** `...` in a shape: any number of leading axes. */
export interface EllipsisDim {
  readonly kind: "Ellipsis";
  readonly span: Span;
}

/** `f32[T, B, L, d]`, `int[B, L]`, `[out, inp]`. Dimensions are expressions over names. */
export interface TypeExpr {
  readonly kind: "Type";
  readonly dtype?: "f32" | "int";
  readonly dims: readonly (Expr | EllipsisDim)[];
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------
// Statements

export interface LetStmt {
  readonly kind: "Let";
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export interface AssignStmt {
  readonly kind: "Assign";
  readonly target: Ident;
  /**
   * `.table` in `word.table = ...`: writing a field's parameter, which the checker refuses
   * (parameters are read-only); parsed so the message can say so. Absent for `u = ...`.
   */
  readonly members?: readonly Ident[];
  readonly value: Expr;
  readonly span: Span;
}

export interface EmitStmt {
  readonly kind: "Emit";
  readonly value: Expr;
  readonly span: Span;
}

export interface ReturnStmt {
  readonly kind: "Return";
  readonly value: Expr;
  readonly span: Span;
}

export type Stmt = LetStmt | AssignStmt | EmitStmt | ReturnStmt;

export interface Block {
  readonly kind: "Block";
  readonly stmts: readonly Stmt[];
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------
// Declarations

/** Constructor parameter: `tau = 0.5`, `inp`. */
export interface Param {
  readonly kind: "Param";
  readonly name: Ident;
  readonly default?: Expr;
  readonly span: Span;
}

/** Forward / step parameter, optionally typed: `x: [T, B, L, d]`. */
export interface TypedParam {
  readonly kind: "TypedParam";
  readonly name: Ident;
  readonly type?: TypeExpr;
  readonly span: Span;
}

/** `state u = 0`: per-element neuron state, reset at the start of every forward call. */
export interface StateDecl {
  readonly kind: "State";
  readonly name: Ident;
  readonly init: Expr;
  readonly doc?: string;
  readonly span: Span;
}

/** `amplitude alpha[T] = expr`: one learned scalar per step, calibrated from `expr` on first use. */
export interface AmplitudeDecl {
  readonly kind: "Amplitude";
  readonly name: Ident;
  readonly axis: Ident;
  readonly init: Expr;
  readonly doc?: string;
  readonly span: Span;
}

/** `step(x) { ... }`: the body run once per time step on all elements at once. */
export interface StepDecl {
  readonly kind: "Step";
  readonly params: readonly TypedParam[];
  readonly body: Block;
  readonly span: Span;
}

/** `fire = act`, `q = SpikeLinear(d, d)`, `blocks = repeat depth { ... }`. */
export interface FieldDecl {
  readonly kind: "Field";
  readonly name: Ident;
  readonly value: Expr;
  readonly doc?: string;
  readonly span: Span;
}

/** `weight W: [out, inp] = zeros`. */
export interface WeightDecl {
  readonly kind: "Weight";
  readonly name: Ident;
  readonly type: TypeExpr;
  readonly init?: Expr;
  readonly doc?: string;
  readonly span: Span;
}

/** `timesteps T = 4` (models only). */
export interface TimestepsDecl {
  readonly kind: "Timesteps";
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export interface ForwardDecl {
  readonly kind: "Forward";
  readonly params: readonly TypedParam[];
  readonly result?: TypeExpr;
  readonly body: Block;
  readonly span: Span;
}

export type NeuronMember = StateDecl | AmplitudeDecl | StepDecl;
export type ModuleMember = FieldDecl | WeightDecl | TimestepsDecl | ForwardDecl;

export interface ConstDecl {
  readonly kind: "Const";
  readonly name: Ident;
  readonly value: Expr;
  readonly doc?: string;
  readonly span: Span;
}

export interface NeuronDecl {
  readonly kind: "Neuron";
  readonly name: Ident;
  readonly params: readonly Param[];
  readonly members: readonly NeuronMember[];
  readonly doc?: string;
  readonly span: Span;
}

/** `layer` and `model` share one shape; a model may declare `timesteps`. */
export interface ModuleDecl {
  readonly kind: "Layer" | "Model";
  readonly name: Ident;
  readonly params: readonly Param[];
  readonly members: readonly ModuleMember[];
  readonly doc?: string;
  readonly span: Span;
}

export type Decl = ConstDecl | NeuronDecl | ModuleDecl;

export interface ImportDecl {
  readonly kind: "Import";
  /** The path as written: `./neurons.spk` or `std/neurons`. */
  readonly path: string;
  readonly pathSpan: Span;
  readonly span: Span;
}

export interface SpkFile {
  readonly kind: "File";
  readonly uri: string;
  readonly imports: readonly ImportDecl[];
  readonly decls: readonly Decl[];
  /** Every comment in source order (doc comments too), for printers that must keep them. */
  readonly comments: readonly Comment[];
  readonly span: Span;
}
