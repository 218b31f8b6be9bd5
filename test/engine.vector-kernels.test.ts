/**
 * The WebAssembly SIMD vector machine (engine/kernels/wasm-vector*.ts) against the scalar
 * definitions (engine/ops/elementwise.ts: double, then one float32 rounding), op by op, on
 * edge values (±0, subnormals, ties, ±Infinity, NaN, the float32 extremes) and random
 * floats; rows that are not a multiple of 16, several chunks, steps, and both threads. The
 * same checks run on the native vector machine (engine/kernels/native/vec_native.c, AVX-512)
 * where it loads, and are reported as skipped with the reason where it does not.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initSpikeKernels, nativeStatus, shutdownKernelPool } from "../interpreter/engine/kernels/spike-matmul.js";
import { runVecProgram, setVecTuning, type VecInstr } from "../interpreter/engine/kernels/wasm-vector.js";
import type { VecOp } from "../interpreter/engine/kernels/wasm-vector-wat.js";
import { binaryScalar, unaryScalar } from "../interpreter/engine/ops/elementwise.js";
import { levelToInt8 } from "../interpreter/engine/levels.js";

const EDGE = [0, -0, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, -0.49999997, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, Infinity, -Infinity, NaN, 8388607.5, -8388608.5, 1e-5, 0.25];

const f = Math.fround;
const REF: Record<string, (a: number, b: number) => number> = {
  copy: (a) => a,
  add: binaryScalar("add"), sub: binaryScalar("sub"), mul: binaryScalar("mul"), div: binaryScalar("div"),
  min: binaryScalar("min"), max: binaryScalar("max"), at_least: binaryScalar("at_least"),
  neg: unaryScalar("neg"), abs: unaryScalar("abs"), round: unaryScalar("round"), sign: unaryScalar("sign"),
  heaviside: unaryScalar("heaviside"), relu: unaryScalar("relu"), sqrt: unaryScalar("sqrt"),
  canon: (a) => a + 0,
};

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** x op y over [T, n] inputs, out as value [T, n]; plus levels = i8(round-clamped x). */
function check(op: VecOp, x: Float32Array, y: Float32Array, n: number, T: number, threads: number, machine: Machine): void {
  const value = new Float32Array(T * n);
  const levels = new Int8Array(T * n);
  const instrs: VecInstr[] = [
    { op, d: { kind: "reg", index: 0 }, a: { kind: "input", index: 0 }, b: { kind: "input", index: 1 } },
    { op: "copy", d: { kind: "value" }, a: { kind: "reg", index: 0 } },
    // levels: clamp(round(x), lo, 1) with lo from the scalar table (per step), as int8
    { op: "splat", d: { kind: "reg", index: 1 }, a: { kind: "scalar", index: 0 } },
    { op: "round", d: { kind: "reg", index: 2 }, a: { kind: "input", index: 0 } },
    { op: "max", d: { kind: "reg", index: 2 }, a: { kind: "reg", index: 2 }, b: { kind: "reg", index: 1 } },
    { op: "splat", d: { kind: "reg", index: 3 }, a: { kind: "scalar", index: 1 } },
    { op: "min", d: { kind: "reg", index: 2 }, a: { kind: "reg", index: 2 }, b: { kind: "reg", index: 3 } },
    { op: "i8", d: { kind: "levels" }, a: { kind: "reg", index: 2 } },
  ];
  const table = new Float32Array(2 * T);
  for (let t = 0; t < T; t++) [table[2 * t], table[2 * t + 1]] = [-1 - (t % 2), 1];
  runVecProgram({ instrs, regs: 4, scalars: 2 }, { inputs: [x, y], states: [], params: [], table, levels, value }, n, 0, T, threads, machine);
  const want = new Float32Array(T * n);
  const wantLv = new Int8Array(T * n);
  for (let i = 0; i < T * n; i++) {
    want[i] = f(REF[op]!(x[i]!, y[i]!));
    const t = Math.floor(i / n);
    wantLv[i] = levelToInt8(f(Math.min(Math.max(unaryScalar("round")(x[i]!), table[2 * t]!), table[2 * t + 1]!)));
  }
  expect(same(value, want), `${op} values`).toBe(true);
  expect(same(levels, wantLv), `${op} levels`).toBe(true);
}

beforeAll(async () => {
  const { wasm, threads } = await initSpikeKernels({ threads: 2 });
  expect(wasm).toBe(true);
  expect(threads).toBe(2);
  setVecTuning({ chunk: 32, threadMin: 0 });
});
afterAll(() => {
  setVecTuning({});
  return shutdownKernelPool();
});

type Machine = "wasm" | "native";
const native = nativeStatus();
const machines: [Machine, string | null][] = [
  ["wasm", null],
  ["native", native.ready ? null : native.reason],
];

describe.each(machines)("%s vector machine ops equal the scalar definitions", (machine, skipWhy) => {
  const ops = Object.keys(REF) as VecOp[];
  const title = (t: string) => (skipWhy ? `${t} (skipped: ${skipWhy})` : t);
  it.skipIf(skipWhy !== null)(title("on every pair of edge values"), () => {
    const n = EDGE.length * EDGE.length;
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    EDGE.forEach((a, i) => EDGE.forEach((b, j) => ((x[i * EDGE.length + j] = a), (y[i * EDGE.length + j] = b))));
    for (const op of ops) for (const threads of [1, 2]) check(op, x, y, n, 1, threads, machine);
  });
  it.skipIf(skipWhy !== null)(title("on random floats, any row length, several steps"), () => {
    const float = fc.oneof(fc.float({ noDefaultInfinity: false, noNaN: false }), fc.constantFrom(...EDGE), fc.float({ min: -3, max: 3 }));
    fc.assert(
      fc.property(fc.constantFrom(...ops), fc.integer({ min: 1, max: 700 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.array(float, { minLength: 600, maxLength: 600 }), (op, n, T, threads, vals) => {
        const x = Float32Array.from({ length: T * n }, (_, i) => vals[i % 300]!);
        const y = Float32Array.from({ length: T * n }, (_, i) => vals[300 + (i % 300)]!);
        check(op, x, y, n, T, threads, machine);
      }),
      { numRuns: 150, seed: 11 },
    );
  });
});
