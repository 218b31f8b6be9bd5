/**
 * The builtin functions of the language, as a table: name, signature (shown by hover,
 * completion and signature help), doc, and how a call lowers to IR. Adding a builtin is
 * adding a row; the elaborator knows none of them by name.
 */
import type { Span } from "../../grammar/source.js";
import { type Dim, constDim, dimValue, mulDim } from "../types/dims.js";
import type { Code } from "./codes.js";
import type { Lowering, UnaryOp } from "./lowering.js";
import type { TensorValue, Value } from "./values.js";
import { UNKNOWN } from "./values.js";
import { binaryScalar, unaryScalar } from "../engine/ops/elementwise.js";

/** What a builtin's lowering can ask of its call site. */
export interface BuiltinCall {
  readonly name: string;
  readonly args: readonly Value[];
  readonly spans: readonly Span[];
  readonly span: Span;
  readonly lower: Lowering | undefined;
  /** The i-th argument as a tensor (numbers become constants); reports and returns undefined otherwise. */
  tensor(i: number): TensorValue | undefined;
  /** The i-th argument as a compile-time number (undefined if symbolic or not a number; reports if not a number). */
  num(i: number): number | undefined;
  /** The i-th argument as a dimension (symbolic allowed). */
  dim(i: number): Dim | undefined;
  bool(i: number, dflt: boolean): boolean;
  report(code: Code, span: Span, message: string): void;
}

export interface BuiltinSpec {
  readonly name: string;
  readonly signature: string;
  readonly doc: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  /** Pure scalar function for compile-time folding (`sqrt(d / heads)`). */
  readonly fold?: (...xs: number[]) => number;
  readonly lower: (c: BuiltinCall) => Value;
}

const unaryRow = (name: UnaryOp, doc: string, fold?: (x: number) => number): BuiltinSpec => ({
  name,
  signature: `${name}(x)`,
  doc,
  minArgs: 1,
  maxArgs: 1,
  fold,
  lower: (c) => {
    const x = c.tensor(0);
    return x && c.lower ? c.lower.unary(name, x, c.span) : UNKNOWN;
  },
});

const reduceRow = (name: "sum" | "mean" | "max", doc: string): BuiltinSpec => ({
  name,
  signature: `${name}(x, axis?)`,
  doc,
  minArgs: 1,
  maxArgs: 2,
  lower: (c) => {
    const x = c.tensor(0);
    const axis = c.args.length > 1 ? c.num(1) : undefined;
    if (c.args.length > 1 && axis === undefined) return UNKNOWN;
    return x && c.lower ? (c.lower.reduce(name, x, axis, c.span) ?? UNKNOWN) : UNKNOWN;
  },
});

/** Compile-time folds use the kernels' scalar functions: a folded constant has the runtime bits. */
const U = (op: UnaryOp) => unaryScalar(op);

const rows: BuiltinSpec[] = [
  unaryRow("abs", "Absolute value, elementwise.", U("abs")),
  unaryRow("round", "Round to the nearest integer, ties to even (as PyTorch's `torch.round`): round(0.5) = 0, round(1.5) = 2. Gradient: straight through (dL/dx = dL/dy).", U("round")),
  unaryRow("sign", "-1, 0 or 1 by the sign of each element (sign(±0) = +0, sign(NaN) = 0, like torch.sign). Its value set is {-1,0,1}. Gradient: straight through (dL/dx = dL/dy).", U("sign")),
  unaryRow("heaviside", "1 where x >= 0, else 0 (heaviside(NaN) = 0). Its value set is the binary spike {0,1}. Gradient: a rectangular surrogate, dL/dx = dL/dy where -1/2 <= x <= 1/2, else 0.", U("heaviside")),
  unaryRow("exp", "e^x, elementwise.", U("exp")),
  unaryRow("log", "Natural logarithm, elementwise.", U("log")),
  unaryRow("sqrt", "Square root, elementwise.", U("sqrt")),
  unaryRow("tanh", "Hyperbolic tangent, elementwise.", U("tanh")),
  unaryRow("relu", "max(x, 0), elementwise (relu(NaN) = NaN).", U("relu")),
  unaryRow("gelu", "GELU, the exact erf form 0.5·x·(1 + erf(x/√2)) used by BERT."),
  {
    name: "clamp",
    signature: "clamp(x, lo, hi)",
    doc: "min(max(x, lo), hi). With integer-valued x and constant integer bounds the result is a spike level set, e.g. clamp(round(u / alpha[t]), -1, 1) is {-1,0,1}. Gradient: x gets it where lo <= x <= hi (ends included), lo where x < lo, hi where x > hi.",
    minArgs: 3,
    maxArgs: 3,
    fold: (x, lo, hi) => Math.min(Math.max(x, lo), hi), // the kernel's clamp (NaN propagates)
    lower: (c) => {
      const [x, lo, hi] = [c.tensor(0), c.tensor(1), c.tensor(2)];
      return x && lo && hi && c.lower ? (c.lower.clamp(x, lo, hi, c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "at_least",
    signature: "at_least(x, lo)",
    doc: "x where x > lo, else lo: the reference's `where(alpha > eps, alpha, eps)`. Unlike a maximum, NaN gives lo (a comparison with NaN is false). `at_least(alpha[t], 1e-5)` is how the stdlib neurons fire with an amplitude of at least 1e-5.",
    minArgs: 2,
    maxArgs: 2,
    fold: binaryScalar("at_least"),
    lower: (c) => {
      const [x, lo] = [c.tensor(0), c.tensor(1)];
      return x && lo && c.lower ? (c.lower.binary("at_least", x, lo, c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "detach",
    signature: "detach(x)",
    doc: "x itself, but no gradient flows back through it (a stop-gradient, PyTorch's `.detach()`). The reference neuron's reset factor is detached: `carry = detach(0.25 * alpha[t] * (1 - s))`.",
    minArgs: 1,
    maxArgs: 1,
    lower: (c) => {
      const x = c.tensor(0);
      return x && c.lower ? (c.lower.gradMarker("detach", [x], c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "surrogate",
    signature: "surrogate(value, proxy)",
    doc: "value's value (and spike type) with proxy's gradient: the backward pass treats the expression as if it were proxy. `surrogate(clamp(round(q), -1, 1), clamp(q, -1, 1))` fires ternary levels and passes the gradient where -1 <= q <= 1 (the reference's straight-through window).",
    minArgs: 2,
    maxArgs: 2,
    lower: (c) => {
      const [v, p] = [c.tensor(0), c.tensor(1)];
      return v && p && c.lower ? (c.lower.gradMarker("surrogate", [v, p], c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "grad_scale",
    signature: "grad_scale(x, k)",
    doc: "x itself; the gradient flowing back to x is multiplied by the constant k. LSQ scales an amplitude's gradient by 1/sqrt(numel): `grad_scale(alpha[t], 1 / sqrt(numel(u)))`.",
    minArgs: 2,
    maxArgs: 2,
    lower: (c) => {
      const x = c.tensor(0);
      const k = c.num(1);
      return x && c.lower ? (c.lower.gradMarker("grad_scale", [x], c.span, { scale: k === undefined ? Number.NaN : Math.fround(k) }) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "numel",
    signature: "numel(x)",
    doc: "The number of elements of x in one time step (a compile-time number): for the membrane u [B, L, d] inside a step, B·L·d.",
    minArgs: 1,
    maxArgs: 1,
    lower: (c) => {
      const x = c.tensor(0);
      if (!x) return UNKNOWN;
      const d = x.type.shape.reduce<Dim | undefined>((acc, s) => (acc ? mulDim(acc, s) : undefined), constDim(1));
      if (!d) return UNKNOWN;
      const v = dimValue(d);
      return v === undefined ? { kind: "num", dim: d } : { kind: "num", value: v, dim: d };
    },
  },
  reduceRow("sum", "Sum over one axis (per-step axes, counted from 0 or from the end with negatives) or, with no axis, over everything."),
  reduceRow("mean", "Mean over one axis or, with no axis, over every element (as the amplitude calibration `2 * mean(abs(u))` uses it)."),
  reduceRow("max", "Maximum over one axis or over everything."),
  {
    name: "softmax",
    signature: "softmax(x)",
    doc: "Softmax over the last axis, computed in float (max-subtracted). Masked entries (float32 lowest) give exactly 0.",
    minArgs: 1,
    maxArgs: 1,
    lower: (c) => {
      const x = c.tensor(0);
      return x && c.lower ? (c.lower.lastAxis("softmax", x, c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "layernorm",
    signature: "layernorm(x, gamma, beta, eps = 1e-12)",
    doc: "Layer normalisation over the last axis with a learned scale and shift (biased variance, as PyTorch).",
    minArgs: 3,
    maxArgs: 4,
    lower: (c) => {
      const [x, g, b] = [c.tensor(0), c.tensor(1), c.tensor(2)];
      const eps = c.args.length > 3 ? c.num(3) : 1e-12;
      if (!x || !g || !b || eps === undefined || !c.lower) return UNKNOWN;
      return c.lower.layernorm(x, g, b, eps, c.span) ?? UNKNOWN;
    },
  },
  {
    name: "transpose",
    signature: "transpose(x, ...order)",
    doc: "Swap the last two axes, or reorder the per-step axes as given (`transpose(x, 0, 2, 1)`). A scaled spike stays a scaled spike.",
    minArgs: 1,
    maxArgs: 9,
    lower: (c) => {
      const x = c.tensor(0);
      const perm: number[] = [];
      for (let i = 1; i < c.args.length; i++) {
        const v = c.num(i);
        if (v === undefined) return UNKNOWN;
        perm.push(v);
      }
      return x && c.lower ? (c.lower.transpose(x, perm.length ? perm : undefined, c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "reshape",
    signature: "reshape(x, ...dims)",
    doc: "Reshape the per-step axes to the given dimensions (same element count).",
    minArgs: 2,
    maxArgs: 9,
    lower: (c) => {
      const x = c.tensor(0);
      const dims: Dim[] = [];
      for (let i = 1; i < c.args.length; i++) {
        const d = c.dim(i);
        if (!d) return UNKNOWN;
        dims.push(d);
      }
      return x && c.lower ? (c.lower.reshape(x, dims, c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "split_heads",
    signature: "split_heads(x, heads)",
    doc: "[..., L, d] -> [..., heads, L, d / heads]: split the feature axis into attention heads.",
    minArgs: 2,
    maxArgs: 2,
    lower: (c) => {
      const x = c.tensor(0);
      const h = c.dim(1);
      return x && h && c.lower ? (c.lower.splitHeads(x, h, c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "merge_heads",
    signature: "merge_heads(x)",
    doc: "[..., heads, L, e] -> [..., L, heads * e]: the inverse of split_heads.",
    minArgs: 1,
    maxArgs: 1,
    lower: (c) => {
      const x = c.tensor(0);
      return x && c.lower ? (c.lower.mergeHeads(x, c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "causal_mask",
    signature: "causal_mask(L, enabled = true)",
    doc: "[L, L] additive mask: 0 on and below the diagonal, float32 lowest above (masked probabilities come out exactly 0). With enabled = false, all zeros.",
    minArgs: 1,
    maxArgs: 2,
    lower: (c) => {
      const L = c.dim(0);
      const enabled = c.bool(1, true);
      return L && c.lower ? c.lower.causalMask(L, enabled, c.span) : UNKNOWN;
    },
  },
  {
    name: "positions",
    signature: "positions(ids)",
    doc: "int[L]: 0, 1, ..., L-1 for the last axis of ids (position ids for a position embedding).",
    minArgs: 1,
    maxArgs: 1,
    lower: (c) => {
      const x = c.tensor(0);
      return x && c.lower ? (c.lower.positions(x, c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "gather",
    signature: "gather(table, ids, pad = -1)",
    doc: "Rows of table [N, D] picked by integer ids [...]: the result is [..., D] (an embedding lookup). The row of the id `pad` (BERT's padding_idx) gets no gradient; -1: none.",
    minArgs: 2,
    maxArgs: 3,
    lower: (c) => {
      const [t, ids] = [c.tensor(0), c.tensor(1)];
      const pad = c.args.length > 2 ? c.num(2) : -1;
      if (pad === undefined) return UNKNOWN;
      return t && ids && c.lower ? (c.lower.gather(t, ids, c.span, pad) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "over_time",
    signature: "over_time(x, T)",
    doc: "Repeat x over T time steps: [...] -> [T, ...]. This is how the SpikeLM encoder feeds the embedding to every step.",
    minArgs: 2,
    maxArgs: 2,
    lower: (c) => {
      const x = c.tensor(0);
      c.dim(1);
      return x && c.lower ? (c.lower.overTime(x, c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
  {
    name: "mean_time",
    signature: "mean_time(x)",
    doc: "Average over the time axis: [T, ...] -> [...] (sequential float32 sum over t, then / T).",
    minArgs: 1,
    maxArgs: 1,
    lower: (c) => {
      const x = c.tensor(0);
      return x && c.lower ? (c.lower.meanTime(x, c.span) ?? UNKNOWN) : UNKNOWN;
    },
  },
];

/** Weight initialisers, valid only after `=` in a `weight` declaration. */
export const INITIALISERS: Record<string, { signature: string; doc: string; args: number }> = {
  zeros: { signature: "zeros", doc: "All zeros.", args: 0 },
  ones: { signature: "ones", doc: "All ones.", args: 0 },
  normal: { signature: "normal(std)", doc: "Normal(0, std²), seeded per parameter path.", args: 1 },
  uniform: { signature: "uniform(bound)", doc: "Uniform(-bound, bound), seeded per parameter path.", args: 1 },
  fill: { signature: "fill(value)", doc: "Every element equal to value.", args: 1 },
};

export const BUILTINS: ReadonlyMap<string, BuiltinSpec> = new Map(rows.map((r) => [r.name, r]));

