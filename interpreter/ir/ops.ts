/**
 * The op table: for each IR op, its meaning on one time step's tensors (forward), how it
 * extends over the time axis, and a slot for its gradient rule (training, a later issue).
 * The reference interpreter is a loop over this table; passes read its flags.
 *
 * Time: `batched` ops may be applied to a whole [T, ...] tensor at once after aligning
 * static operands (a leading axis of 1); the others are applied per step and stacked.
 * Ops marked `special` (sources, neurons, time ops) are handled by the interpreter itself.
 */
import * as K from "../engine/ops/index.js";
import { F32_LOWEST } from "../engine/numerics.js";
import { type F32Tensor, type Tensor, f32, i32 } from "../engine/tensor.js";
import { UserError } from "../io/errors.js";
import * as G from "../engine/grad/index.js";
import { f32From, i32From } from "../engine/arena.js";

export interface OpContext {
  readonly attrs: Readonly<Record<string, unknown>>;
}

/**
 * A vector-Jacobian product: the gradient of each input (undefined: none flows there) from
 * the inputs, the output and dL/doutput, on one step's tensors (or a whole time axis for
 * `batched` ops, operands aligned as the forward saw them). interpreter/autodiff runs them.
 */
export type GradRule = (inputs: readonly Tensor[], output: Tensor, gradOut: F32Tensor, ctx: OpContext) => (Tensor | undefined)[];

export interface OpDef {
  readonly name: string;
  readonly time: "batched" | "per-step" | "special";
  readonly elementwise?: boolean;
  readonly forward?: (inputs: readonly Tensor[], ctx: OpContext) => Tensor;
  grad?: GradRule;
}

const unary = (name: K.UnaryOp): OpDef => ({
  name,
  time: "batched",
  elementwise: true,
  forward: ([x]) => K.unary(name, x!),
  grad: ([x], y, g) => [G.unaryGrad(name, x!, y, g)],
});
const binary = (name: K.BinaryOp): OpDef => ({
  name,
  time: "batched",
  elementwise: true,
  forward: ([a, b]) => K.binary(name, a!, b!),
  grad: ([a, b], _, g) => G.binaryGrad(name, a!, b!, g),
});
const copy = (x: Tensor): Tensor => (x.dtype === "f32" ? f32(x.shape, f32From(x.data)) : i32(x.shape, i32From(x.data)));
const axisOf = (c: OpContext) => (c.attrs.axis as number | null) ?? undefined;
const indexItems = (c: OpContext): K.IndexItem[] =>
  (c.attrs.items as ({ index: number } | { start: number | null; end: number | null })[]).map((it) =>
    "index" in it ? it.index : { start: it.start ?? undefined, end: it.end ?? undefined },
  );

const defs: OpDef[] = [
  // sources and time structure: evaluated by the interpreter
  { name: "const", time: "special" },
  { name: "input", time: "special" },
  { name: "param", time: "special" },
  { name: "over_time", time: "special" },
  { name: "mean_time", time: "special" },
  { name: "neuron", time: "special" },
  { name: "neuron_out", time: "special" },
  { name: "step_input", time: "special" },
  { name: "step_index", time: "special" },
  { name: "state_read", time: "special" },
  { name: "amplitude", time: "special" },
  // incremental decoding (passes/incremental.ts): appends to a per-call cache
  { name: "cache_concat", time: "special" },
  // elementwise
  ...(["neg", "abs", "round", "sign", "heaviside", "exp", "log", "sqrt", "tanh", "relu", "gelu", "erf"] as const).map(unary),
  // "max" is the reduction below (one op name, one meaning): there is no elementwise maximum.
  ...(["add", "sub", "mul", "div", "min", "at_least"] as const).map(binary),
  { name: "clamp", time: "batched", elementwise: true, forward: ([x, lo, hi]) => K.clamp(x!, lo!, hi!), grad: ([x, lo, hi], _, g) => G.clampGrad(x!, lo!, hi!, g) },
  // gradient markers (docs/language.md, "Gradients"): the identity forward, a rule backward.
  // detach(x): no gradient flows to x. surrogate(v, p): v's value, p's gradient.
  // grad_scale(x, k): the gradient to x is multiplied by the constant k (LSQ's step-size scale).
  { name: "detach", time: "batched", elementwise: true, forward: ([x]) => copy(x!), grad: () => [undefined] },
  { name: "surrogate", time: "batched", elementwise: true, forward: ([v]) => copy(v!), grad: ([, p], _, g) => [undefined, G.unbroadcast(g, p!.shape)] },
  // not marked elementwise: elementwise fusion would put it in a program, which keeps no attributes (its scale)
  { name: "grad_scale", time: "batched", forward: ([x]) => copy(x!), grad: (_, __, g, c) => [G.scaleGrad(g, c.attrs.scale as number)] },
  // a fused elementwise program (elementwise-fusion pass): the same ops in the same order
  { name: "fused", time: "batched", elementwise: true, forward: (xs, c) => runFusedProgram(xs, c.attrs.program as FusedProgram), grad: (xs, _, g, c) => fusedGrad(xs, g, c.attrs.program as FusedProgram) },
  // integer → float: ids carry no gradient
  { name: "to_f32", time: "batched", elementwise: true, forward: ([x]) => K.toF32(x!), grad: () => [undefined] },
  // contractions and last-axis ops: the time axis is one more batch axis
  { name: "matmul", time: "batched", forward: ([a, b]) => K.matmul(a!, b!), grad: ([a, b], _, g) => G.matmulGrad(a!, b!, g) },
  // a matmul with a spike-levels operand (spike-accumulate pass); form "nt" takes the right
  // operand untransposed. The reference meaning is the plain matmul on the levels.
  {
    name: "spike_matmul",
    time: "batched",
    forward: ([a, b], c) => K.matmul(a!, c.attrs.form === "nt" ? K.transpose(b!) : b!),
    grad: ([a, b], _, g, c) => {
      if (c.attrs.form !== "nt") return G.matmulGrad(a!, b!, g);
      const [ga, gbt] = G.matmulGrad(a!, K.transpose(b!), g);
      return [ga, K.transpose(gbt)];
    },
  },
  { name: "softmax", time: "batched", forward: ([x]) => K.softmax(x!), grad: (_, y, g) => [G.softmaxGrad(y, g)] },
  {
    name: "layernorm",
    time: "batched",
    forward: ([x, g, b], c) => K.layernorm(x!, g!, b!, c.attrs.eps as number),
    grad: ([x, gamma], _, g, c) => G.layernormGrad(x!, gamma!, g, c.attrs.eps as number),
  },
  { name: "split_heads", time: "batched", forward: ([x], c) => K.splitHeads(x!, c.attrs.heads as number), grad: (_, __, g) => [K.mergeHeads(g)] },
  { name: "merge_heads", time: "batched", forward: ([x]) => K.mergeHeads(x!), grad: ([x], _, g) => [K.splitHeads(g, x!.shape[x!.shape.length - 3]!)] },
  {
    name: "gather",
    time: "batched",
    forward: ([t, ids]) => {
      // An id outside the table is the user's input, not a bug.
      const N = t!.shape[0]!;
      for (const id of ids!.data) if (id < 0 || id >= N) throw new UserError(`token id ${id} is out of range for an embedding table of ${N} rows`);
      return K.gather(t!, ids!);
    },
    // rows of the padding id (attrs.pad, an embedding's padding_idx) get no gradient
    grad: ([t, ids], _, g, c) => [G.gatherGrad(t!.shape, ids!, g, (c.attrs.pad as number | null | undefined) ?? undefined), undefined],
  },
  // axis-addressed ops: axes count per step, so they run per step
  { name: "transpose", time: "per-step", forward: ([x], c) => K.transpose(x!, c.attrs.perm as number[]), grad: ([x], _, g, c) => [G.transposeGrad(x!.shape, c.attrs.perm as number[], g)] },
  { name: "reshape", time: "per-step", forward: ([x], c) => K.reshape(x!, c.attrs.shape as number[]), grad: ([x], _, g) => [K.reshape(g, x!.shape)] },
  {
    name: "index",
    time: "per-step",
    forward: ([x], c) => K.index(x!, indexItems(c)),
    grad: ([x], _, g, c) => [G.indexGrad(x!.shape, indexItems(c), g)],
  },
  { name: "sum", time: "per-step", forward: ([x], c) => K.sum(x!, axisOf(c)), grad: ([x], y, g, c) => [G.reduceGrad("sum", x!, y, g, axisOf(c))] },
  { name: "mean", time: "per-step", forward: ([x], c) => K.mean(x!, axisOf(c)), grad: ([x], y, g, c) => [G.reduceGrad("mean", x!, y, g, axisOf(c))] },
  { name: "max", time: "per-step", forward: ([x], c) => K.max(x!, axisOf(c)), grad: ([x], y, g, c) => [G.reduceGrad("max", x!, y, g, axisOf(c))] },
  // integer-valued or constant: no gradient
  { name: "positions", time: "per-step", forward: ([ids]) => K.positions(ids!), grad: () => [undefined] },
  {
    name: "causal_mask",
    time: "per-step",
    forward: (_, c) => {
      const L = c.attrs.size as number;
      return c.attrs.enabled ? K.causalMask(L) : f32([L, L]);
    },
    // a constant of the shape: no inputs, no gradient
    grad: () => [],
  },
];

type FusedProgram = readonly { readonly op: string; readonly args: readonly ({ readonly in: number } | { readonly tmp: number })[] }[];

function runFusedProgram(xs: readonly Tensor[], program: FusedProgram): Tensor {
  const tmps: Tensor[] = [];
  for (const step of program) {
    const args = step.args.map((r) => ("in" in r ? xs[r.in]! : tmps[r.tmp]!));
    tmps.push(opDef(step.op).forward!(args, { attrs: {} }));
  }
  return tmps[tmps.length - 1]!;
}

/** A fused program's backward: its steps' rules in reverse, over the recomputed intermediates. */
function fusedGrad(xs: readonly Tensor[], g: F32Tensor, program: FusedProgram): (Tensor | undefined)[] {
  const tmps: Tensor[] = [];
  const argsOf = (step: FusedProgram[number]) => step.args.map((r) => ("in" in r ? xs[r.in]! : tmps[r.tmp]!));
  for (const step of program) tmps.push(opDef(step.op).forward!(argsOf(step), { attrs: {} }));
  const tmpGrads: (F32Tensor | undefined)[] = program.map(() => undefined);
  const inGrads: (F32Tensor | undefined)[] = xs.map(() => undefined);
  const add = (cur: F32Tensor | undefined, d: F32Tensor) => (cur ? G.addGrad(cur, d) : d);
  tmpGrads[program.length - 1] = g;
  for (let j = program.length - 1; j >= 0; j--) {
    const gj = tmpGrads[j];
    if (!gj) continue;
    const step = program[j]!;
    const gs = opDef(step.op).grad!(argsOf(step), tmps[j]!, gj, { attrs: {} });
    step.args.forEach((r, k) => {
      const d = gs[k] as F32Tensor | undefined;
      if (!d) return;
      if ("in" in r) inGrads[r.in] = add(inGrads[r.in], d);
      else tmpGrads[r.tmp] = add(tmpGrads[r.tmp], d);
    });
  }
  return inGrads;
}

export const OPS: ReadonlyMap<string, OpDef> = new Map(defs.map((d) => [d.name, d]));

export function opDef(name: string): OpDef {
  const d = OPS.get(name);
  if (!d) throw new Error(`internal: no op "${name}" in the op table`);
  return d;
}

export function constTensor(value: number, elem: "f32" | "i32"): Tensor {
  return elem === "i32" ? i32([], [value]) : f32([], [value]);
}

export { F32_LOWEST };
