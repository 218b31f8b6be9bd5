/**
 * An amplitude's initialiser (e.g. `k * 2 * mean(abs(u))`) compiled into one JavaScript loop:
 * the elementwise part is evaluated per element and summed in place, then the scalar tail.
 * The reference (reference/step.ts stepEvaluator) allocates a tensor per op and walks the
 * elements once per op; on a one-shot forward of a BERT-base-sized model that first-call
 * calibration was ~0.1 s of the forward.
 *
 * Bits: each op is the reference's scalar function with one float32 rounding (scalar-code.ts,
 * as the neuron kernels), and the reduction is reduce.ts's: acc = fround(acc + x) in
 * ascending element order from +0, mean = fround(acc / n). Anything else (an initialiser
 * reading another amplitude, a reduction over an axis, more than one reduction, an op
 * scalar-code cannot write) is declined (`undefined`) and calibrated by the reference.
 */
import type { IRNode, StepGraph } from "../ir/graph.js";
import { compileShared, literal, type ScalarEnv, scalarExpr, slotOf } from "./scalar-code.js";

export interface CalibrationIO {
  /** Step inputs, each [T * n] (index t * n + i). */
  readonly inputs: readonly Float32Array[];
  /** One array of n per state, in body.states order: the state before step t. */
  readonly states: readonly Float32Array[];
  /** Parameters the initialiser reads, in the order of `Calibration.params`. */
  readonly params: readonly Float32Array[];
}

export interface Calibration {
  readonly params: readonly string[];
  /** The initialiser's value at step t (what the reference stores as the amplitude's [t]). */
  readonly run: (io: CalibrationIO, n: number, t: number) => number;
  readonly source: string;
}

/** The initialiser of amplitude node `ampId` of `body` (elements per step: n), or undefined. */
export function compileCalibration(body: StepGraph, ampId: number, n: number): Calibration | undefined {
  const byId = new Map(body.nodes.map((x) => [x.id, x]));
  const amp = byId.get(ampId);
  if (amp?.op !== "amplitude" || amp.inputs.length !== 1) return undefined;
  const root = amp.inputs[0]!;
  // the initialiser's nodes (an amplitude inside it is declined below)
  const needed = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const id = stack.pop()!;
    if (needed.has(id)) continue;
    needed.add(id);
    stack.push(...byId.get(id)!.inputs);
  }
  const size = (x: IRNode) => (x.attrs.outShape as number[] | undefined)?.reduce((a, b) => a * b, 1);
  const kind = new Map<number, "elem" | "scalar">();
  for (const x of body.nodes) {
    if (!needed.has(x.id)) continue;
    const m = size(x);
    if (x.type.shape.length === 0) kind.set(x.id, "scalar");
    else if (m === n) kind.set(x.id, "elem");
    else return undefined;
  }
  const reductions = body.nodes.filter((x) => needed.has(x.id) && (x.op === "mean" || x.op === "sum"));
  if (reductions.length !== 1) return undefined;
  const red = reductions[0]!;
  const redInput = byId.get(red.inputs[0]!)!;
  if ((red.attrs.axis ?? null) !== null || kind.get(red.id) !== "scalar" || kind.get(redInput.id) !== "elem" || redInput.type.elem !== "f32") return undefined;
  if (kind.get(root) !== "scalar") return undefined;
  // scalars that depend on the reduction come after the loop; elements never depend on it
  const afterLoop = new Set<number>();
  for (const x of body.nodes) {
    if (!needed.has(x.id)) continue;
    if (x.id === red.id || x.inputs.some((i) => afterLoop.has(i))) {
      if (kind.get(x.id) === "elem") return undefined;
      afterLoop.add(x.id);
    }
  }
  const constants = new Map<string, number>();
  const env: ScalarEnv = { functions: new Map(), constants };
  const params: string[] = [];
  const stateIndex = new Map(body.states.map((s, k) => [s.read, k]));
  const before: string[] = [];
  const elems: string[] = [];
  const after: string[] = [];
  // Names by position in the initialiser, not node id: every neuron of one kind then has the
  // same source and shares one compiled function, which gets hot (a fresh function per
  // neuron stays in the interpreter for a short loop: slower than the reference).
  const local = new Map(body.nodes.filter((x) => needed.has(x.id)).map((x, k) => [x.id, k]));
  const name = (id: number) => `v${local.get(id)!}`;
  for (const x of body.nodes) {
    if (!needed.has(x.id)) continue;
    const k = kind.get(x.id)!;
    // a scalar computed from element values other than through the reduction: declined
    if (k === "scalar" && x.id !== red.id && x.inputs.some((i) => kind.get(i) === "elem")) return undefined;
    let expr: string | undefined;
    switch (x.op) {
      case "step_input":
        if (k !== "elem") return undefined;
        expr = `in${x.attrs.index as number}[base + i]`;
        break;
      case "state_read":
        if (!stateIndex.has(x.id)) return undefined;
        expr = k === "elem" ? `st${stateIndex.get(x.id)!}[i]` : `st${stateIndex.get(x.id)!}[0]`;
        break;
      case "const":
        expr = literal(x.attrs.value as number);
        constants.set(name(x.id), x.attrs.value as number);
        break;
      case "step_index":
        expr = "t";
        break;
      case "param": {
        const p = slotOf(params, x.attrs.path as string);
        expr = k === "scalar" ? `par${p}[0]` : `par${p}[i]`;
        break;
      }
      case "mean":
      case "sum":
        // x is the reduction (the only one): its sum is `acc`, accumulated in the loop
        expr = x.op === "mean" ? "F(acc / n)" : "acc";
        break;
      default:
        expr = scalarExpr(x.op, x.inputs.map(name), env);
    }
    if (expr === undefined) return undefined;
    const line = `const ${name(x.id)} = ${expr};`;
    (afterLoop.has(x.id) ? after : k === "elem" ? elems : before).push(line);
  }
  const src = [
    "return function calibrate(io, n, t) {",
    ...body.inputs.map((_, k) => `  const in${k} = io.inputs[${k}];`),
    ...body.states.map((_, k) => `  const st${k} = io.states[${k}];`),
    ...params.map((_, k) => `  const par${k} = io.params[${k}];`),
    "  const base = t * n;",
    ...before.map((l) => `  ${l}`),
    "  let acc = 0;",
    "  for (let i = 0; i < n; i++) {",
    ...elems.map((l) => `    ${l}`),
    `    acc = F(acc + ${name(redInput.id)});`,
    "  }",
    ...after.map((l) => `  ${l}`),
    `  return ${name(root)};`,
    "};",
  ].join("\n");
  return { params, run: compileShared<Calibration["run"]>(src, env), source: src };
}
