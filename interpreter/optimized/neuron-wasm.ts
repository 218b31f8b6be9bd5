/**
 * A neuron's step compiled for the WebAssembly SIMD vector machine
 * (engine/kernels/wasm-vector-wat.ts): the per-element part of the body becomes a
 * straight-line program of f32x4 ops, branch-free (round is f32x4.nearest, clamp is max then
 * min, comparisons are masks), over chunks of elements, time steps inner, rows split between
 * the threads of the kernel pool. The per-step scalars (amplitudes, the clamped amplitude,
 * constants, the emitted scale) are computed by generated JavaScript exactly as the JS kernel
 * computes them and handed to the program as a table, so only the elementwise work moves.
 *
 * Each vector op equals the scalar JavaScript of scalar-code.ts bit for bit (see the op
 * notes in wasm-vector-wat.ts), so the spikes, values and states are the JS kernel's, hence
 * the reference's. Bodies using an op the machine lacks (exp, log, tanh, gelu, erf, pow),
 * anything not per-element or per-step, or levels outside [-127, 127] are not compiled
 * (undefined): the JS kernel runs them.
 */
import type { IRNode, StepGraph } from "../ir/graph.js";
import { runVecProgram, vecReady, type VecInstr, type VecOperand, type VecProgram } from "../engine/kernels/wasm-vector.js";
import type { VecOp } from "../engine/kernels/wasm-vector-wat.js";
import { compileShared, literal, type ScalarEnv, scalarExpr, slotOf } from "./scalar-code.js";
import { type NeuronKernel, type NeuronKernelIO, reachableInStep } from "./neuron-codegen.js";

export type NeuronBackend = "js" | "wasm" | "auto";

/** Diagnostics: calls run on the vector machine, bodies it could not take. */
export const wasmNeuronStats = { runs: 0, declined: 0 };

/** Element-steps below which "auto" keeps the JS kernel (copying in and out would dominate). */
const WASM_NEURON_MIN = 2048;

const UNARY: Record<string, VecOp> = { neg: "neg", abs: "abs", round: "round", sign: "sign", heaviside: "heaviside", relu: "relu", sqrt: "sqrt" };
const BINARY: Record<string, VecOp> = { add: "add", sub: "sub", mul: "mul", div: "div", min: "min", max: "max", at_least: "at_least" };
const MARKERS = new Set(["detach", "grad_scale", "surrogate"]);

export interface WasmNeuronOptions {
  readonly backend: "wasm" | "auto";
  readonly threads?: number;
}

/**
 * A kernel with the interface of the JS one (`run(io, n, t0, t1)`) that runs the program on
 * WebAssembly and `fallback` (the JS kernel) where the backend is "auto" and the work is small
 * or WebAssembly is not ready. Undefined if the body cannot be compiled.
 */
export function compileNeuronWasm(
  body: StepGraph,
  n: number,
  want: { levels: boolean; levelsInt8?: boolean; value: boolean; scale: boolean },
  fallback: NeuronKernel,
  opts: WasmNeuronOptions,
): (NeuronKernel & { readonly program: VecProgram }) | undefined {
  const byId = new Map(body.nodes.map((x) => [x.id, x]));
  const numel = (x: IRNode) => (x.attrs.outShape as number[] | undefined)?.reduce((a, b) => a * b, 1);
  const kind = new Map<number, "elem" | "scalar" | "other">();
  for (const x of body.nodes) {
    const m = numel(x);
    if (m === undefined) return undefined;
    kind.set(x.id, x.type.shape.length === 0 ? "scalar" : m === n ? "elem" : "other");
  }
  const roots: number[] = [...body.states.map((s) => s.write)];
  if (want.levels && body.emit.levels !== undefined) roots.push(body.emit.levels);
  if (want.scale && body.emit.scale !== undefined) roots.push(body.emit.scale);
  if (want.value) roots.push(body.emit.value);
  const needed = reachableInStep(byId, roots, { valueOnly: true });
  // Per-element sources must be elem-shaped (a neuron over single elements stays in JS).
  for (const x of body.nodes) {
    if (!needed.has(x.id)) continue;
    const k = kind.get(x.id)!;
    if (k === "other") return undefined;
    if ((x.op === "state_read" || x.op === "step_input") && k !== "elem") return undefined;
    if (k === "scalar" && x.inputs.some((i) => kind.get(i) === "elem")) return undefined;
  }
  // Int8 levels are narrowed with saturation; the JS store wraps. They agree on [-127, 127].
  if (want.levels && want.levelsInt8 && body.emit.levels !== undefined) {
    const v = byId.get(body.emit.levels)!.type.values;
    if (!("levels" in v) || v.levels.some((l) => l < -127 || l > 127)) return undefined;
  }

  // ---- the per-step scalars: generated JavaScript, as neuron-codegen.ts writes them
  const constants = new Map<string, number>();
  const env: ScalarEnv = { functions: new Map(), constants };
  const amplitudes: string[] = [];
  const params: string[] = [];
  const scalarLines: string[] = [];
  // by position, not id: neurons of one kind share one compiled function (compileShared)
  const position = new Map(body.nodes.map((x, k) => [x.id, k]));
  const name = (id: number) => `v${position.get(id)!}`;
  for (const x of body.nodes) {
    if (!needed.has(x.id) || kind.get(x.id) !== "scalar") continue;
    let expr: string | undefined;
    switch (x.op) {
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
        expr = `par${p}[0]`;
        break;
      }
      default:
        expr = scalarExpr(x.op, x.inputs.map(name), env);
    }
    if (expr === undefined) return undefined;
    scalarLines.push(`const ${name(x.id)} = ${expr};`);
  }

  // ---- the per-element program
  const instrs: VecInstr[] = [];
  const splats: VecInstr[] = [];
  let regs = 0;
  const tableIds: number[] = [];
  const elemParams: number[] = []; // vector param index -> index into `params`
  const operand = new Map<number, VecOperand>();
  const splatOf = new Map<number, VecOperand>();
  /** A node's value as a vector operand (a scalar is splatted into a register once per step). */
  const vec = (id: number): VecOperand => {
    if (kind.get(id) === "scalar") {
      let r = splatOf.get(id);
      if (!r) {
        r = { kind: "reg", index: regs++ };
        // a constant's register is filled once per call (registers persist across chunks)
        splats.push({ op: "splat", d: r, a: { kind: "scalar", index: tableIds.push(id) - 1 }, once: byId.get(id)!.op === "const" });
        splatOf.set(id, r);
      }
      return r;
    }
    return operand.get(id)!;
  };
  const stateIndex = new Map(body.states.map((s, k) => [s.read, k]));
  for (const x of body.nodes) {
    if (!needed.has(x.id) || kind.get(x.id) !== "elem") continue;
    const ins = x.inputs;
    switch (x.op) {
      case "step_input":
        operand.set(x.id, { kind: "input", index: x.attrs.index as number });
        continue;
      case "state_read":
        operand.set(x.id, { kind: "state", index: stateIndex.get(x.id)! });
        continue;
      case "param": {
        const p = slotOf(params, x.attrs.path as string);
        operand.set(x.id, { kind: "param", index: elemParams.push(p) - 1 });
        continue;
      }
    }
    if (MARKERS.has(x.op)) {
      operand.set(x.id, vec(ins[0]!));
      continue;
    }
    const d: VecOperand = { kind: "reg", index: regs++ };
    if (x.op in BINARY) instrs.push({ op: BINARY[x.op]!, d, a: vec(ins[0]!), b: vec(ins[1]!) });
    else if (x.op in UNARY) instrs.push({ op: UNARY[x.op]!, d, a: vec(ins[0]!) });
    else if (x.op === "clamp") {
      // min(max(x, lo), hi), as the reference computes it
      instrs.push({ op: "max", d, a: vec(ins[0]!), b: vec(ins[1]!) });
      instrs.push({ op: "min", d, a: d, b: vec(ins[2]!) });
    } else return undefined;
    operand.set(x.id, d);
  }
  if (want.levels && body.emit.levels !== undefined)
    instrs.push({ op: want.levelsInt8 ? "i8" : "canon", d: { kind: "levels" }, a: vec(body.emit.levels) });
  if (want.value) instrs.push({ op: "copy", d: { kind: "value" }, a: vec(body.emit.value) });
  // State writes come last; a write that reads a state's memory is staged in a register
  // first, so every write reads the step's old values (s0 = s1, s1 = s0 swaps correctly).
  const sources = body.states.map((st) => {
    const src = vec(st.write);
    if (src.kind !== "state") return src;
    const r: VecOperand = { kind: "reg", index: regs++ };
    instrs.push({ op: "copy", d: r, a: src });
    return r;
  });
  body.states.forEach((_, k) => instrs.push({ op: "copy", d: { kind: "state", index: k }, a: sources[k]! }));
  const program: VecProgram = { instrs: writeStatesInPlace([...splats, ...instrs], body.states.length), regs, scalars: tableIds.length };

  const src = [
    "return function neuronScalars(io, t0, t1, tab) {",
    ...amplitudes.map((_, k) => `  const amp${k} = io.amplitudes[${k}];`),
    ...params.map((_, k) => `  const par${k} = io.params[${k}];`),
    "  const sc = io.scale;",
    "  for (let t = t0; t < t1; t++) {",
    ...scalarLines.map((l) => `    ${l}`),
    want.scale && body.emit.scale !== undefined ? `    sc[t] = ${name(body.emit.scale)};` : "",
    `    const o = (t - t0) * ${tableIds.length};`,
    ...tableIds.map((id, j) => `    tab[o + ${j}] = ${name(id)};`),
    "  }",
    "};",
  ].join("\n");
  const scalars = compileShared<(io: NeuronKernelIO, t0: number, t1: number, tab: Float32Array) => void>(src, env);

  // The executor hands the kernel its io arrays ordered by the JS kernel's lists; this
  // kernel found the same paths in the same walk minus the per-element part, so map them.
  const ai = amplitudes.map((a) => fallback.amplitudes.indexOf(a));
  const pi = params.map((p) => fallback.params.indexOf(p));
  if (ai.some((i) => i < 0) || pi.some((i) => i < 0)) return undefined;
  let scratchTable = new Float32Array(0);
  const run = (io: NeuronKernelIO, nn: number, t0: number, t1: number): void => {
    const ready = vecReady();
    if (opts.backend === "auto" && (!ready || nn * (t1 - t0) < WASM_NEURON_MIN)) return fallback.run(io, nn, t0, t1);
    if (!ready) throw new Error('neuron kernels: backend "wasm" requested before initSpikeKernels() resolved');
    const mine = { ...io, amplitudes: ai.map((i) => io.amplitudes[i]!), params: pi.map((i) => io.params[i]!) };
    wasmNeuronStats.runs++;
    // scratch, reused by the next run of the same length (scalars() writes every entry)
    const len = Math.max(1, (t1 - t0) * tableIds.length);
    if (scratchTable.length !== len) scratchTable = new Float32Array(len);
    const table = scratchTable;
    scalars(mine, t0, t1, table);
    const vio = {
      inputs: io.inputs,
      states: io.states,
      params: elemParams.map((p) => mine.params[p]!),
      table,
      levels: want.levels && body.emit.levels !== undefined ? io.levels : undefined,
      value: want.value ? io.value : undefined,
    };
    try {
      // "wasm" asks for WebAssembly's machine; "auto" takes the native one when it is loaded
      runVecProgram(program, vio, nn, t0, t1, opts.threads ?? 1, opts.backend === "wasm" ? "wasm" : "auto");
    } catch (e) {
      // Out of WebAssembly memory (2 GiB): nothing was written yet; "auto" runs it in JS.
      if (opts.backend === "auto" && e instanceof RangeError) return fallback.run(io, nn, t0, t1);
      throw e;
    }
  };
  return { amplitudes: fallback.amplitudes, params: fallback.params, run, source: src, program };
}

const sameOperand = (x: VecOperand | undefined, y: VecOperand): boolean =>
  x !== undefined && x.kind === y.kind && ("index" in x ? x.index === (y as { index: number }).index : true);

/**
 * Drops the final `copy state_k <- R` where the register R can be state k's memory itself:
 * R is first written by an op (not a splat), is copied to no other state, and after that
 * first write nothing reads the old state k (an op reading state k while writing R is fine:
 * each vector is loaded before it is stored). Later readers of R then read state k, which
 * holds R's value. Saves a copy per state (SpikeLMReference: 2 of 15 instructions).
 */
function writeStatesInPlace(instrs: VecInstr[], nStates: number): VecInstr[] {
  let out = instrs;
  for (let k = 0; k < nStates; k++) {
    const st: VecOperand = { kind: "state", index: k };
    const final = out.findIndex((x) => x.op === "copy" && sameOperand(x.d, st));
    if (final < 0) continue;
    const R = out[final]!.a;
    if (R.kind !== "reg") continue;
    if (out.some((x, j) => j !== final && x.op === "copy" && x.d.kind === "state" && sameOperand(x.a, R))) continue;
    const first = out.findIndex((x) => sameOperand(x.d, R));
    if (first < 0 || out[first]!.op === "splat") continue;
    if (out.some((x, j) => j > first && j !== final && (sameOperand(x.a, st) || sameOperand(x.b, st) || sameOperand(x.d, st)))) continue;
    const rename = (o: VecOperand | undefined) => (o && sameOperand(o, R) ? st : o);
    out = out.flatMap((x, j) => (j === final ? [] : j < first ? [x] : [{ ...x, d: rename(x.d)!, a: rename(x.a)!, b: rename(x.b) }]));
  }
  return out;
}
