/**
 * Plain-TypeScript spike kernels (always available; the reference-speed fallback).
 *
 * Contract (see spike-matmul.ts): every output element is the sequential float32 sum over
 * ASCENDING k of spike*weight, starting from +0. Spikes are in {-1,0,1} and weights finite,
 * so each term is exactly ±w (or a ±0 that is skipped: adding ±0 to an accumulator that
 * started at +0 is the identity, and such an accumulator can never become -0).
 *
 * Float32 arithmetic in JS: `f32Array[o] = f32Array[o] + w` computes the sum of two floats
 * in float64 and rounds once to float32 on store; because float64 carries more than
 * 2*24+2 significand bits this equals the correctly rounded float32 sum. Negation is exact.
 *
 * Event lists: one Int32Array entry per nonzero spike, ascending k, sign in the low bit
 * (entry = 2k + (s < 0 ? 1 : 0)). Both signs share ONE list on purpose: accumulating all
 * "+" events and then all "-" events would reorder the float sum and change the bits.
 */

import { BufferPool, defaultPool } from "./buffer-pool.js";

/**
 * Build event lists for `rows` spike rows of length K, element (r,k) at S[r*srs + k*scs],
 * into `lists` (row r occupies lists[r*K .. r*K+counts[r])). Returns the total event count.
 */
function buildEventListsJS(
  S: Int8Array,
  rows: number,
  K: number,
  srs: number,
  scs: number,
  lists: Int32Array,
  counts: Int32Array,
): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const src = r * srs;
    let q = r * K;
    const q0 = q;
    for (let k = 0; k < K; k++) {
      const s = S[src + k * scs]!;
      if (s !== 0) lists[q++] = (k << 1) | (s < 0 ? 1 : 0);
    }
    counts[r] = q - q0;
    total += q - q0;
  }
  return total;
}

/**
 * Event-driven `S @ W`: per row, build the event list once, then add ±W[k,:] rows into the
 * output row. Four events are fused per pass over the row (the running value stays in a
 * register between them, rounded to f32 after each add by Math.fround), which halves the
 * loads/stores of the output row; the order of additions per element is unchanged.
 */
export function spikeMatmulEventJS(
  S: Int8Array,
  M: number,
  K: number,
  W: Float32Array,
  N: number,
  out: Float32Array,
  pool: BufferPool = defaultPool,
): Float32Array {
  const fr = Math.fround;
  const list = pool.i32("js.rowlist", Math.max(1, K));
  for (let i = 0; i < M; i++) {
    const src = i * K;
    let n = 0;
    for (let k = 0; k < K; k++) {
      const s = S[src + k]!;
      if (s !== 0) list[n++] = (k << 1) | (s < 0 ? 1 : 0);
    }
    const o = i * N;
    out.fill(0, o, o + N);
    let p = 0;
    for (; p + 4 <= n; p += 4) {
      const e0 = list[p]!;
      const e1 = list[p + 1]!;
      const e2 = list[p + 2]!;
      const e3 = list[p + 3]!;
      const a = (e0 >> 1) * N;
      const b = (e1 >> 1) * N;
      const c = (e2 >> 1) * N;
      const d = (e3 >> 1) * N;
      const sa = 1 - 2 * (e0 & 1);
      const sb = 1 - 2 * (e1 & 1);
      const sc = 1 - 2 * (e2 & 1);
      const sd = 1 - 2 * (e3 & 1);
      for (let j = 0; j < N; j++) {
        out[o + j] = fr(fr(fr(out[o + j]! + sa * W[a + j]!) + sb * W[b + j]!) + sc * W[c + j]!) + sd * W[d + j]!;
      }
    }
    for (; p < n; p++) {
      const e = list[p]!;
      const wr = (e >> 1) * N;
      const s = 1 - 2 * (e & 1);
      for (let j = 0; j < N; j++) out[o + j] = out[o + j]! + s * W[wr + j]!;
    }
  }
  return out;
}

/**
 * Dense-ternary `S @ W`: no event list; walks k in blocks of four consecutive spikes and adds
 * s*W[k,:] for all of them (s = 0 adds ±0, the identity), skipping all-zero blocks.
 */
export function spikeMatmulDenseJS(
  S: Int8Array,
  M: number,
  K: number,
  W: Float32Array,
  N: number,
  out: Float32Array,
): Float32Array {
  const fr = Math.fround;
  for (let i = 0; i < M; i++) {
    const src = i * K;
    const o = i * N;
    out.fill(0, o, o + N);
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const sa = S[src + k]!;
      const sb = S[src + k + 1]!;
      const sc = S[src + k + 2]!;
      const sd = S[src + k + 3]!;
      if ((sa | sb | sc | sd) === 0) continue;
      const a = k * N;
      const b = a + N;
      const c = b + N;
      const d = c + N;
      for (let j = 0; j < N; j++) {
        out[o + j] = fr(fr(fr(out[o + j]! + sa * W[a + j]!) + sb * W[b + j]!) + sc * W[c + j]!) + sd * W[d + j]!;
      }
    }
    for (; k < K; k++) {
      const s = S[src + k]!;
      if (s === 0) continue;
      const wr = k * N;
      for (let j = 0; j < N; j++) out[o + j] = out[o + j]! + s * W[wr + j]!;
    }
  }
  return out;
}

/** `Q @ Sᵀ` (Q [M,K] f32, S [N,K] spikes): out[i,j] = Σ_k Q[i,k]*S[j,k], gathering Q per event. */
export function denseTimesSpikeTJS(
  Q: Float32Array,
  M: number,
  K: number,
  S: Int8Array,
  N: number,
  out: Float32Array,
  pool: BufferPool = defaultPool,
): Float32Array {
  const lists = pool.i32("js.lists", Math.max(1, N * K));
  const counts = pool.i32("js.counts", Math.max(1, N));
  buildEventListsJS(S, N, K, K, 1, lists, counts);
  const fr = Math.fround;
  for (let i = 0; i < M; i++) {
    const qr = i * K;
    const o = i * N;
    for (let j = 0; j < N; j++) {
      let acc = 0;
      const p0 = j * K;
      const p1 = p0 + counts[j]!;
      for (let p = p0; p < p1; p++) {
        const e = lists[p]!;
        const q = Q[qr + (e >> 1)]!;
        acc = fr(e & 1 ? acc - q : acc + q);
      }
      out[o + j] = acc;
    }
  }
  return out;
}

/**
 * `A @ S` (A [M,K] f32, S [K,N] spikes): out[i,j] = Σ_k A[i,k]*S[k,j]. Scatter form: for k
 * ascending, add ±A[i,k] into the output columns listed for spike row k — each output
 * element still sees its terms in ascending k.
 */
export function denseTimesSpikeJS(
  A: Float32Array,
  M: number,
  K: number,
  S: Int8Array,
  N: number,
  out: Float32Array,
  pool: BufferPool = defaultPool,
): Float32Array {
  const lists = pool.i32("js.lists", Math.max(1, K * N));
  const counts = pool.i32("js.counts", Math.max(1, K));
  buildEventListsJS(S, K, N, N, 1, lists, counts);
  for (let i = 0; i < M; i++) {
    const o = i * N;
    out.fill(0, o, o + N);
    const ar = i * K;
    for (let k = 0; k < K; k++) {
      const a = A[ar + k]!;
      const p0 = k * N;
      const p1 = p0 + counts[k]!;
      for (let p = p0; p < p1; p++) {
        const e = lists[p]!;
        const j = o + (e >> 1);
        out[j] = e & 1 ? out[j]! - a : out[j]! + a;
      }
    }
  }
  return out;
}
