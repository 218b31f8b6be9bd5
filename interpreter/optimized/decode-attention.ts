/**
 * Attention of ONE query row against int8 spike levels: the shape of every decoding step
 * (passes/incremental.ts), where the keys and values are the whole key/value cache and the
 * query is the new position. Per batch matrix that is a vector against a [positions, e]
 * matrix, too small for the event-list kernels (engine/kernels/spike-matmul.ts) to win back
 * their per-call planning, rate sampling and list building, which there happen once per
 * head and time step.
 *
 * Each output is the reference matmul's loop itself (engine/ops/matmul.ts): terms
 * fround(x * level) added in ascending k to an accumulator starting at +0, rounded to
 * float32 at every step, with the int8 NAN_LEVEL read as NaN (engine/levels.ts). So the bits
 * are the reference's on every input, non-finite ones included, with no special cases.
 */
import { NAN_LEVEL } from "../engine/levels.js";

const fr = Math.fround;

/** out[j] = Σ_k q[k] · S[j, k] for one query row q [K] and levels S [N, K] (`Q @ Sᵀ`). */
export function rowTimesLevelsT(q: Float32Array, qOff: number, K: number, S: Int8Array, sOff: number, N: number, out: Float32Array, oOff: number): void {
  for (let j = 0; j < N; j++) {
    let acc = 0;
    const s0 = sOff + j * K;
    for (let k = 0; k < K; k++) {
      const s = S[s0 + k]!;
      acc = fr(acc + fr(q[qOff + k]! * (s === NAN_LEVEL ? Number.NaN : s)));
    }
    out[oOff + j] = acc;
  }
}

/** out[n] = Σ_k a[k] · S[k, n] for one row a [K] and levels S [K, N] (`A @ S`), i-k-j order. */
export function rowTimesLevels(a: Float32Array, aOff: number, K: number, S: Int8Array, sOff: number, N: number, out: Float32Array, oOff: number): void {
  out.fill(0, oOff, oOff + N);
  for (let k = 0; k < K; k++) {
    const x = a[aOff + k]!;
    const s0 = sOff + k * N;
    for (let n = 0; n < N; n++) {
      const s = S[s0 + n]!;
      out[oOff + n] = out[oOff + n]! + fr(x * (s === NAN_LEVEL ? Number.NaN : s));
    }
  }
}
