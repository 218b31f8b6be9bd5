/**
 * The spike kernels' contract as plain loops (independent of the code under test): the
 * sequential float32 sum over ascending k from +0 of level * float, a NaN level (NAN_LEVEL)
 * counting as NaN, then one float32 multiplication by the row's scale. Shared by the
 * kernel tests of every backend, with the seeded generator their inputs come from.
 */
import { NAN_LEVEL } from "../interpreter/engine/levels.js";

const fr = Math.fround;
const level = (b: number): number => (b === NAN_LEVEL ? Number.NaN : b);

/** out[i,j] = f32(scale[i] * Σ_k f32 level(S[i,k]) * W(k,j)), W(k,j) = W[k*N+j] ("kn") or W[j*K+k] ("nk"). */
export function oracleSW(S: Int8Array, M: number, K: number, W: Float32Array, N: number, nk = false, scale?: Float32Array): Float32Array {
  const o = new Float32Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc = fr(acc + fr(level(S[i * K + k]!) * W[nk ? j * K + k : k * N + j]!));
      o[i * N + j] = scale ? fr(scale[i]! * acc) : acc;
    }
  return o;
}

/** out[i,j] = Σ_k Q[i,k] * level(S[j,k]) — Q [M,K], S [N,K]. */
export function oracleQST(Q: Float32Array, M: number, K: number, S: Int8Array, N: number): Float32Array {
  const o = new Float32Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc = fr(acc + fr(Q[i * K + k]! * level(S[j * K + k]!)));
      o[i * N + j] = acc;
    }
  return o;
}

/** out[i,j] = Σ_k A[i,k] * level(S[k,j]) — A [M,K], S [K,N]. */
export function oracleAS(A: Float32Array, M: number, K: number, S: Int8Array, N: number): Float32Array {
  const o = new Float32Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc = fr(acc + fr(A[i * K + k]! * level(S[k * N + j]!)));
      o[i * N + j] = acc;
    }
  return o;
}

/** A seeded uniform [0, 1) generator (mulberry32): the kernel tests' inputs, reproducible by seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
