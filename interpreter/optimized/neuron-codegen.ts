/**
 * The fused neuron-step kernel: a neuron's whole `step` body compiled into one JavaScript
 * loop over elements (outer) and time steps (inner), state held in locals, spike levels
 * written as int8 (or float) straight into the output buffer. Each op is the reference's
 * scalar function with one float32 rounding, in the reference's order, so the spikes are
 * bit-identical.
 *
 * The amplitude initialiser (a reduction over all elements) is not compiled: a call that
 * still has an uncalibrated amplitude runs the reference step instead (the first call only).
 * Bodies that use anything else that is not elementwise-per-element or per-step-scalar are
 * not compiled either (`compileNeuron` returns undefined) and run on the reference path.
 */
import type { IRNode, StepGraph } from "../ir/graph.js";
import { NAN_LEVEL } from "../engine/levels.js";
import { compileShared, literal, type ScalarEnv, scalarExpr, slotOf } from "./scalar-code.js";

export interface NeuronKernelIO {
  /** Step inputs, each [T * n] (index t * n + i). */
  readonly inputs: readonly Float32Array[];
  /** One array of n per state, in body.states order; read at t0, written back after t1. */
  readonly states: readonly Float32Array[];
  /** Amplitude values [T], in the order of `NeuronKernel.amplitudes`. */
  readonly amplitudes: readonly Float32Array[];
  /** Parameters read inside the body, in the order of `NeuronKernel.params`. */
  readonly params: readonly Float32Array[];
  readonly levels?: Int8Array | Float32Array;
  readonly value?: Float32Array;
  /** Per-step scale [T]. */
  readonly scale?: Float32Array;
}

export interface NeuronKernel {
  readonly amplitudes: readonly string[];
  readonly params: readonly string[];
  readonly run: (io: NeuronKernelIO, n: number, t0: number, t1: number) => void;
  readonly source: string;
}

type Kind = "elem" | "scalar";

/**
 * The step nodes the results `roots` depend on, found from the roots (in the order met):
 * everything reachable through inputs, not entering an `amplitude`'s initialiser (it is
 * calibrated once, not computed per step). Shared by the forward kernel and the compiled
 * backward (autodiff/neuron-compiled.ts), which must agree on what a step evaluates.
 * `valueOnly`: `surrogate(value, proxy)` forwards its value and the proxy only matters to
 * gradients, so a kernel that is never differentiated (the WebAssembly one) skips the proxy.
 */
export function reachableInStep(byId: ReadonlyMap<number, IRNode>, roots: readonly number[], opts: { valueOnly?: boolean } = {}): Set<number> {
  const needed = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (needed.has(id)) continue;
    needed.add(id);
    const x = byId.get(id)!;
    if (opts.valueOnly && x.op === "surrogate") stack.push(x.inputs[0]!);
    else if (x.op !== "amplitude") stack.push(...x.inputs);
  }
  return needed;
}

export function compileNeuron(body: StepGraph, n: number, want: { levels: boolean; levelsInt8?: boolean; value: boolean; scale: boolean }): NeuronKernel | undefined {
  const byId = new Map(body.nodes.map((x) => [x.id, x]));
  const kind = new Map<number, Kind>();
  const numel = (x: IRNode) => (x.attrs.outShape as number[] | undefined)?.reduce((a, b) => a * b, 1);
  for (const x of body.nodes) {
    const m = numel(x);
    if (m === undefined) return undefined;
    kind.set(x.id, x.type.shape.length === 0 ? "scalar" : m === n ? "elem" : ("other" as Kind));
  }
  // Nodes the calibrated step needs: everything reachable from the results, not entering
  // amplitude initialisers.
  const roots: number[] = [...body.states.map((s) => s.write)];
  if (want.levels && body.emit.levels !== undefined) roots.push(body.emit.levels);
  if (want.scale && body.emit.scale !== undefined) roots.push(body.emit.scale);
  if (want.value) roots.push(body.emit.value);
  const needed = reachableInStep(byId, roots);
  const constants = new Map<string, number>();
  const env: ScalarEnv = { functions: new Map(), constants };
  const amplitudes: string[] = [];
  const params: string[] = [];
  const stateIndex = new Map(body.states.map((s, k) => [s.read, k]));
  const scalarLines: string[] = [];
  const elemLines: string[] = [];
  // by position, not id: neurons of one kind share one compiled kernel (compileShared)
  const position = new Map(body.nodes.map((x, k) => [x.id, k]));
  const name = (id: number) => `v${position.get(id)!}`;
  for (const x of body.nodes) {
    if (!needed.has(x.id)) continue;
    const k = kind.get(x.id)!;
    if (k !== "elem" && k !== "scalar") return undefined;
    let expr: string | undefined;
    switch (x.op) {
      case "step_input":
        if (k !== "elem") return undefined;
        expr = `in${x.attrs.index as number}[t * n + i]`;
        break;
      case "state_read":
        expr = `s${stateIndex.get(x.id)!}`;
        break;
      case "const":
        expr = literal(x.attrs.value as number);
        constants.set(name(x.id), x.attrs.value as number);
        break;
      case "step_index":
        expr = "t";
        break;
      case "amplitude": {
        const a = slotOf(amplitudes, x.attrs.path as string);
        expr = `amp${a}[t]`;
        break;
      }
      case "param": {
        const p = slotOf(params, x.attrs.path as string);
        expr = k === "scalar" ? `par${p}[0]` : `par${p}[i]`;
        break;
      }
      default:
        expr = scalarExpr(x.op, x.inputs.map(name), env);
    }
    if (expr === undefined) return undefined;
    // A scalar that depends only on t and constants is computed per step (outside the element loop).
    (k === "scalar" && x.op !== "state_read" ? scalarLines : elemLines).push(`const ${name(x.id)} = ${expr};`);
  }
  // Scalars must not depend on per-element values.
  for (const x of body.nodes) if (needed.has(x.id) && kind.get(x.id) === "scalar" && x.inputs.some((i) => kind.get(i) === "elem")) return undefined;
  // Time outer, elements inner: every array is walked sequentially (state lives in its
  // Float32Array between steps; values are already float32, so storing changes nothing).
  const src = [
    "return function neuronStep(io, n, t0, t1) {",
    ...body.inputs.map((_, k) => `  const in${k} = io.inputs[${k}];`),
    ...body.states.map((_, k) => `  const st${k} = io.states[${k}];`),
    ...amplitudes.map((_, k) => `  const amp${k} = io.amplitudes[${k}];`),
    ...params.map((_, k) => `  const par${k} = io.params[${k}];`),
    "  const lv = io.levels, val = io.value, sc = io.scale;",
    "  for (let t = t0; t < t1; t++) {",
    ...scalarLines.map((l) => `    ${l}`),
    want.scale && body.emit.scale !== undefined ? `    sc[t] = ${name(body.emit.scale)};` : "",
    "    const base = t * n;",
    "    for (let i = 0; i < n; i++) {",
    ...body.states.map((_, k) => `      const s${k} = st${k}[i];`),
    ...elemLines.map((l) => `      ${l.replace("[t * n + i]", "[base + i]")}`),
    // Levels are canonical (-0 stored as 0); an int8 buffer holds a NaN level as NAN_LEVEL
    // (an Int8Array store would turn NaN into 0, a spike the reference does not have).
    want.levels && body.emit.levels !== undefined
      ? want.levelsInt8
        ? `      { const l = ${name(body.emit.levels)}; lv[base + i] = l === l ? l : ${NAN_LEVEL}; }`
        : `      lv[base + i] = ${name(body.emit.levels)} + 0;`
      : "",
    want.value ? `      val[base + i] = ${name(body.emit.value)};` : "",
    ...body.states.map((st, k) => `      st${k}[i] = ${name(st.write)};`),
    "    }",
    "  }",
    "};",
  ].join("\n");
  const run = compileShared<NeuronKernel["run"]>(src, env);
  return { amplitudes, params, run, source: src };
}
