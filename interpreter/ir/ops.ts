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
import { type Tensor, f32, i32 } from "../engine/tensor.js";
import { UserError } from "../io/errors.js";

export interface OpContext {
  readonly attrs: Readonly<Record<string, unknown>>;
}

/** A vector-Jacobian product: input gradients from the output gradient. Filled in by training. */
export type GradRule = (inputs: readonly Tensor[], output: Tensor, gradOut: Tensor, ctx: OpContext) => (Tensor | undefined)[];

export interface OpDef {
  readonly name: string;
  readonly time: "batched" | "per-step" | "special";
  readonly elementwise?: boolean;
  readonly forward?: (inputs: readonly Tensor[], ctx: OpContext) => Tensor;
  grad?: GradRule;
}

const unary = (name: K.UnaryOp): OpDef => ({ name, time: "batched", elementwise: true, forward: ([x]) => K.unary(name, x!) });
const binary = (name: K.BinaryOp): OpDef => ({ name, time: "batched", elementwise: true, forward: ([a, b]) => K.binary(name, a!, b!) });

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
  ...(["add", "sub", "mul", "div", "max", "min", "at_least"] as const).map(binary),
  { name: "clamp", time: "batched", elementwise: true, forward: ([x, lo, hi]) => K.clamp(x!, lo!, hi!) },
  // a fused elementwise program (elementwise-fusion pass): the same ops in the same order
  { name: "fused", time: "batched", elementwise: true, forward: (xs, c) => runFusedProgram(xs, c.attrs.program as FusedProgram) },
  { name: "to_f32", time: "batched", elementwise: true, forward: ([x]) => K.toF32(x!) },
  // contractions and last-axis ops: the time axis is one more batch axis
  { name: "matmul", time: "batched", forward: ([a, b]) => K.matmul(a!, b!) },
  // a matmul with a spike-levels operand (spike-accumulate pass); form "nt" takes the right
  // operand untransposed. The reference meaning is the plain matmul on the levels.
  { name: "spike_matmul", time: "batched", forward: ([a, b], c) => K.matmul(a!, c.attrs.form === "nt" ? K.transpose(b!) : b!) },
  { name: "softmax", time: "batched", forward: ([x]) => K.softmax(x!) },
  { name: "layernorm", time: "batched", forward: ([x, g, b], c) => K.layernorm(x!, g!, b!, c.attrs.eps as number) },
  { name: "split_heads", time: "batched", forward: ([x], c) => K.splitHeads(x!, c.attrs.heads as number) },
  { name: "merge_heads", time: "batched", forward: ([x]) => K.mergeHeads(x!) },
  {
    name: "gather",
    time: "batched",
    forward: ([t, ids]) => {
      // An id outside the table is the user's input, not a bug.
      const N = t!.shape[0]!;
      for (const id of ids!.data) if (id < 0 || id >= N) throw new UserError(`token id ${id} is out of range for an embedding table of ${N} rows`);
      return K.gather(t!, ids!);
    },
  },
  // axis-addressed ops: axes count per step, so they run per step
  { name: "transpose", time: "per-step", forward: ([x], c) => K.transpose(x!, c.attrs.perm as number[]) },
  { name: "reshape", time: "per-step", forward: ([x], c) => K.reshape(x!, c.attrs.shape as number[]) },
  {
    name: "index",
    time: "per-step",
    forward: ([x], c) =>
      K.index(
        x!,
        (c.attrs.items as ({ index: number } | { start: number | null; end: number | null })[]).map((it) =>
          "index" in it ? it.index : { start: it.start ?? undefined, end: it.end ?? undefined },
        ),
      ),
  },
  { name: "sum", time: "per-step", forward: ([x], c) => K.sum(x!, (c.attrs.axis as number | null) ?? undefined) },
  { name: "mean", time: "per-step", forward: ([x], c) => K.mean(x!, (c.attrs.axis as number | null) ?? undefined) },
  { name: "max", time: "per-step", forward: ([x], c) => K.max(x!, (c.attrs.axis as number | null) ?? undefined) },
  { name: "positions", time: "per-step", forward: ([ids]) => K.positions(ids!) },
  {
    name: "causal_mask",
    time: "per-step",
    forward: (_, c) => {
      const L = c.attrs.size as number;
      return c.attrs.enabled ? K.causalMask(L) : f32([L, L]);
    },
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
