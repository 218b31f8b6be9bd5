/**
 * A fused elementwise program (passes/fuse-elementwise.ts) on the WebAssembly SIMD vector
 * machine (engine/kernels/wasm-vector*.ts), for a timed node over all its time steps: the
 * spiking layers' epilogues (scale * accumulate + bias, + residual), the attention scores'
 * scaling and mask. Same bits as the generated JavaScript of fused-codegen.ts: every vector
 * op is the scalar op of scalar-code.ts on float32 values (see wasm-vector-wat.ts).
 *
 * Each input must be one of (shapes aligned under the time axis, output [T, ...step]):
 *  - "elem": the output's own shape, a row of [T, n] per step;
 *  - "stepScalar": one value per step ([T, 1, ...]), e.g. a neuron's emitted scale;
 *  - "scalar": one value;
 *  - "static": not timed, broadcast over a step (a bias, a mask): expanded to [n] per call.
 * Programs with another operand shape or an op the machine lacks (exp, log, tanh, gelu, erf,
 * pow) are not compiled (undefined): the JavaScript kernel runs them.
 */
import { gatherNative } from "../engine/kernels/native-backend.js";
import { runVecProgram, vecReady, type VecInstr, type VecOperand, type VecProgram } from "../engine/kernels/wasm-vector.js";
import type { VecOp } from "../engine/kernels/wasm-vector-wat.js";
import type { FusedStep } from "../passes/fuse-elementwise.js";

export type FusedOperandKind = "elem" | "stepScalar" | "scalar" | "static";

export interface FusedWasm {
  readonly program: VecProgram;
  readonly kinds: readonly FusedOperandKind[];
}

const UNARY: Record<string, VecOp> = { neg: "neg", abs: "abs", round: "round", sign: "sign", heaviside: "heaviside", relu: "relu", sqrt: "sqrt" };
const BINARY: Record<string, VecOp> = { add: "add", sub: "sub", mul: "mul", div: "div", min: "min", max: "max", at_least: "at_least" };
const MARKERS = new Set(["detach", "grad_scale", "surrogate"]);

/** Element-steps below which the JavaScript kernel runs (copying in and out would dominate). */
const FUSED_WASM_MIN = 4096;
const tuning = { min: FUSED_WASM_MIN };
/** Tests set 0 so that small programs run on the vector machine too; results never depend on it. */
export function setFusedWasmMin(min?: number): void {
  tuning.min = min ?? FUSED_WASM_MIN;
}
/** Whether `steps` element-steps are worth the vector machine. */
export function fusedWasmWorthIt(steps: number): boolean {
  return steps >= tuning.min;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * Operand kinds for inputs of aligned shapes `shapes` ([T or 1, ...]) under an output of
 * aligned shape `out` ([T, ...]), or undefined if one fits none.
 */
export function classifyFusedOperands(shapes: readonly (readonly number[])[], out: readonly number[], T: number): FusedOperandKind[] | undefined {
  const kinds: FusedOperandKind[] = [];
  for (const s of shapes) {
    if (numel(s) === 1) kinds.push("scalar");
    else if (s[0] === T && numel(s.slice(1)) === 1) kinds.push("stepScalar");
    else if (s.length === out.length && s.every((v, i) => v === out[i])) kinds.push("elem");
    else if (s[0] === 1) kinds.push("static");
    else return undefined;
  }
  return kinds;
}

export function compileFusedWasm(program: readonly FusedStep[], kinds: readonly FusedOperandKind[]): FusedWasm | undefined {
  let regs = 0;
  let elems = 0;
  let params = 0;
  let scalars = 0;
  const splats: VecInstr[] = [];
  const inputOperand = kinds.map((k): VecOperand => {
    if (k === "elem") return { kind: "input", index: elems++ };
    if (k === "static") return { kind: "param", index: params++ };
    const r: VecOperand = { kind: "reg", index: regs++ };
    splats.push({ op: "splat", d: r, a: { kind: "scalar", index: scalars++ } });
    return r;
  });
  const instrs: VecInstr[] = [];
  const stepOperand: VecOperand[] = [];
  for (const step of program) {
    const args = step.args.map((a) => ("in" in a ? inputOperand[a.in] : stepOperand[a.tmp]));
    if (args.some((a) => a === undefined)) return undefined;
    const [a, b, c] = args as VecOperand[];
    if (MARKERS.has(step.op)) {
      stepOperand.push(a!);
      continue;
    }
    const d: VecOperand = { kind: "reg", index: regs++ };
    if (step.op in BINARY) instrs.push({ op: BINARY[step.op]!, d, a: a!, b: b! });
    else if (step.op in UNARY) instrs.push({ op: UNARY[step.op]!, d, a: a! });
    else if (step.op === "clamp") {
      // min(max(x, lo), hi): what the scalar code computes, NaN and -0 included
      instrs.push({ op: "max", d, a: a!, b: b! });
      instrs.push({ op: "min", d, a: d, b: c! });
    } else return undefined;
    stepOperand.push(d);
  }
  const last = stepOperand[stepOperand.length - 1];
  if (!last) return undefined;
  instrs.push({ op: "copy", d: { kind: "value" }, a: last });
  return { program: { instrs: [...splats, ...instrs], regs: Math.max(1, regs), scalars }, kinds };
}

const scratch = new WeakMap<FusedWasm, { T: number; n: number; table: Float32Array; params: Float32Array[] }>();

/**
 * Runs `fw` over T steps of n elements: `ins` are the node's inputs (whole time axis),
 * `tables` the executor's broadcast offsets of each input into the output (used to expand
 * "static" inputs: the first n offsets are step 0's, the same for every step). Returns false,
 * doing nothing, when WebAssembly is not ready.
 */
export function runFusedWasm(fw: FusedWasm, ins: readonly Float32Array[], tables: readonly (Int32Array | undefined)[], T: number, n: number, out: Float32Array, threads: number): boolean {
  if (!vecReady() || ins.some((x) => !(x instanceof Float32Array))) return false;
  const scalarCount = fw.program.scalars;
  // The scalar table and the static operands' expansions are scratch: reused by the next
  // run of the same program at the same sizes (training runs it every step), never shared.
  let sc = scratch.get(fw);
  if (!sc || sc.T !== T || sc.n !== n) scratch.set(fw, (sc = { T, n, table: new Float32Array(T * scalarCount), params: [] }));
  const table = sc.table.fill(0);
  const inputs: Float32Array[] = [];
  const params: Float32Array[] = [];
  let slot = 0;
  for (let k = 0; k < fw.kinds.length; k++) {
    const x = ins[k]!;
    switch (fw.kinds[k]) {
      case "elem":
        inputs.push(x);
        break;
      case "static": {
        const tab = tables[k];
        const p = (sc.params[params.length] ??= new Float32Array(n));
        // the expansion runs on every call (a weight may have changed in place): natively
        // where the addon is loaded (a JS loop here cost ~5 ms per BERT-base block)
        if (tab) {
          if (!gatherNative(x, tab, n, p)) for (let i = 0; i < n; i++) p[i] = x[tab[i]!]!;
        } else p.set(x.subarray(0, n));
        params.push(p);
        break;
      }
      case "scalar":
        for (let t = 0; t < T; t++) table[t * scalarCount + slot] = x[0]!;
        slot++;
        break;
      case "stepScalar":
        for (let t = 0; t < T; t++) table[t * scalarCount + slot] = x[t]!;
        slot++;
        break;
    }
  }
  runVecProgram(fw.program, { inputs, states: [], params, table, value: out }, n, 0, T, threads);
  return true;
}
