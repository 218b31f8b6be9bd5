/**
 * The matmul backward, a [..., M, K] @ b [..., K, N] = y:
 *   dL/da[m, k] = Σ_n g[m, n] · b[k, n]        (summed over the batch positions a was broadcast to)
 *   dL/db[k, n] = Σ_(batch, m) a[m, k] · g[m, n] (terms with a[m, k] = 0 skipped: spike levels are
 *                                                  mostly 0, and 0 · Infinity would give NaN)
 * Numerics (the rule every path shares, so gradients are the same bits everywhere): every
 * product and sum in double, each sum in ascending n (for a) or ascending (batch, m) (for b),
 * rounded to float32 once at the end.
 *
 * Speed without changing a bit: dL/da keeps 2 × 4 dot products in flight (independent
 * accumulators sharing the loads of g and b rows, each still summed in ascending n);
 * dL/db walks, per k, the rows m with a[m, k] ≠ 0 four at a time into one running sum per
 * n (the same additions in the same order, with a quarter of the loads and stores).
 * Scratch (the nonzero row lists) is kept between calls. Once initGradKernels() has run
 * (./matmul-wasm.ts), large products take the same sums on WebAssembly SIMD.
 */
import { allocF64, f32From } from "../arena.js";
import { broadcastOffsets, broadcastShapes } from "../ops/broadcast.js";
import { gradKernelsReady, matmulGradWasm } from "./matmul-wasm.js";
import { type F32Tensor, type Tensor, f32, numel } from "../tensor.js";

type Data = Float32Array | Int32Array;

/** Below this many multiply-adds the copies into WebAssembly memory cost more than they save. */
const WASM_MIN_MACS = 1 << 14;

let rowsScratch = new Int32Array(0);
let valsScratch = new Float64Array(0);

export function matmulGrad(a: Tensor, b: Tensor, g: F32Tensor): [F32Tensor, F32Tensor] {
  return matmulGradOn("auto", a, b, g);
}

/**
 * matmulGrad on a chosen implementation ("auto": WebAssembly for large float products once
 * initGradKernels() has run, JavaScript otherwise); every choice gives the same bits (the
 * tests force each one).
 */
export function matmulGradOn(backend: "auto" | "js" | "wasm", a: Tensor, b: Tensor, g: F32Tensor): [F32Tensor, F32Tensor] {
  const M = a.shape[a.shape.length - 2]!;
  const Kd = a.shape[a.shape.length - 1]!;
  const N = b.shape[b.shape.length - 1]!;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB);
  const offA = broadcastOffsets(batchA, batch);
  const offB = broadcastOffsets(batchB, batch);
  const nb = numel(batch);
  const ga = allocF64(a.data.length);
  const gb = allocF64(b.data.length);
  if (rowsScratch.length < M) {
    rowsScratch = new Int32Array(M);
    valsScratch = new Float64Array(M);
  }
  const floats = a.data instanceof Float32Array && b.data instanceof Float32Array;
  if (backend === "wasm" && (!gradKernelsReady() || !floats)) throw new Error("internal: the WebAssembly matmul backward needs initGradKernels() and float operands");
  if (floats && (backend === "wasm" || (backend === "auto" && gradKernelsReady() && nb * M * Kd * N >= WASM_MIN_MACS))) {
    matmulGradWasm(a.data as Float32Array, b.data as Float32Array, g.data, offA, offB, nb, M, Kd, N, ga, gb);
    return [f32(a.shape, f32From(ga)), f32(b.shape, f32From(gb))];
  }
  for (let bi = 0; bi < nb; bi++) {
    const baseA = offA[bi]! * M * Kd;
    const baseB = offB[bi]! * Kd * N;
    const baseG = bi * M * N;
    gradA(ga, baseA, g.data, baseG, b.data, baseB, M, Kd, N);
    gradB(gb, baseB, a.data, baseA, g.data, baseG, M, Kd, N, rowsScratch, valsScratch);
  }
  return [f32(a.shape, f32From(ga)), f32(b.shape, f32From(gb))];
}

/** ga[m, k] += Σ_n g[m, n] b[k, n] for one batch position. */
function gradA(ga: Float64Array, baseA: number, gd: Float32Array, baseG: number, bd: Data, baseB: number, M: number, K: number, N: number): void {
  let m = 0;
  for (; m + 1 < M; m += 2) {
    const g0 = baseG + m * N;
    const g1 = g0 + N;
    const o0 = baseA + m * K;
    const o1 = o0 + K;
    let k = 0;
    for (; k + 3 < K; k += 4) {
      const b0 = baseB + k * N;
      const b1 = b0 + N;
      const b2 = b1 + N;
      const b3 = b2 + N;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let n = 0; n < N; n++) {
        const x0 = gd[g0 + n]!;
        const x1 = gd[g1 + n]!;
        const y0 = bd[b0 + n]!;
        const y1 = bd[b1 + n]!;
        const y2 = bd[b2 + n]!;
        const y3 = bd[b3 + n]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
      }
      ga[o0 + k] = ga[o0 + k]! + s00;
      ga[o0 + k + 1] = ga[o0 + k + 1]! + s01;
      ga[o0 + k + 2] = ga[o0 + k + 2]! + s02;
      ga[o0 + k + 3] = ga[o0 + k + 3]! + s03;
      ga[o1 + k] = ga[o1 + k]! + s10;
      ga[o1 + k + 1] = ga[o1 + k + 1]! + s11;
      ga[o1 + k + 2] = ga[o1 + k + 2]! + s12;
      ga[o1 + k + 3] = ga[o1 + k + 3]! + s13;
    }
    for (; k < K; k++) {
      const b0 = baseB + k * N;
      let s0 = 0, s1 = 0;
      for (let n = 0; n < N; n++) {
        const y = bd[b0 + n]!;
        s0 += gd[g0 + n]! * y;
        s1 += gd[g1 + n]! * y;
      }
      ga[o0 + k] = ga[o0 + k]! + s0;
      ga[o1 + k] = ga[o1 + k]! + s1;
    }
  }
  for (; m < M; m++) {
    const g0 = baseG + m * N;
    const o0 = baseA + m * K;
    for (let k = 0; k < K; k++) {
      const b0 = baseB + k * N;
      let s = 0;
      for (let n = 0; n < N; n++) s += gd[g0 + n]! * bd[b0 + n]!;
      ga[o0 + k] = ga[o0 + k]! + s;
    }
  }
}

/** gb[k, n] += Σ_m a[m, k] g[m, n] over the rows with a[m, k] ≠ 0, in ascending m, for one batch position. */
function gradB(gb: Float64Array, baseB: number, ad: Data, baseA: number, gd: Float32Array, baseG: number, M: number, K: number, N: number, rows: Int32Array, vals: Float64Array): void {
  for (let k = 0; k < K; k++) {
    let cnt = 0;
    for (let m = 0; m < M; m++) {
      const v = ad[baseA + m * K + k]!;
      if (v === 0) continue;
      rows[cnt] = baseG + m * N;
      vals[cnt++] = v;
    }
    const o = baseB + k * N;
    let j = 0;
    for (; j + 3 < cnt; j += 4) {
      const r0 = rows[j]!, r1 = rows[j + 1]!, r2 = rows[j + 2]!, r3 = rows[j + 3]!;
      const v0 = vals[j]!, v1 = vals[j + 1]!, v2 = vals[j + 2]!, v3 = vals[j + 3]!;
      for (let n = 0; n < N; n++) {
        let s = gb[o + n]!;
        s += v0 * gd[r0 + n]!;
        s += v1 * gd[r1 + n]!;
        s += v2 * gd[r2 + n]!;
        s += v3 * gd[r3 + n]!;
        gb[o + n] = s;
      }
    }
    for (; j < cnt; j++) {
      const r = rows[j]!;
      const v = vals[j]!;
      for (let n = 0; n < N; n++) gb[o + n] = gb[o + n]! + v * gd[r + n]!;
    }
  }
}
