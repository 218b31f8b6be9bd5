/**
 * The project's dense float reference matmul (benchmark baseline), plain JavaScript.
 *
 *   out[i, j] = Σ_k A[i, k] * W[k, j]      A [M,K], W [K,N], out [M,N], row-major f32
 *
 * Loop order i-k-j ("ikj"): for each row i the output row is zeroed, then for k ascending
 * the scaled weight row A[i,k]*W[k,:] is added into it. Accumulation order per output
 * element is therefore sequential over ASCENDING k, starting from +0, each step rounded to
 * float32 as `acc = f32(acc + f32(a*w))`, so for ternary A in {-1,0,1} and finite W this is
 * bit-identical to the spike kernels. It is a plain dense kernel: zeros in A are not skipped.
 *
 * Rounding detail: `a * w` is computed in float64 then explicitly rounded with Math.fround,
 * and `out[o] + p` is computed in float64 and rounded to f32 by the Float32Array store —
 * which equals a correctly rounded float32 addition (float64 has > 2*24+2 mantissa bits).
 */
export function denseMatmulRef(
  A: Float32Array,
  M: number,
  K: number,
  W: Float32Array,
  N: number,
  out: Float32Array = new Float32Array(M * N),
): Float32Array {
  if (A.length < M * K || W.length < K * N || out.length < M * N) throw new RangeError("denseMatmulRef: buffer too small");
  for (let i = 0; i < M; i++) {
    const o = i * N;
    out.fill(0, o, o + N);
    const ar = i * K;
    for (let k = 0; k < K; k++) {
      const a = A[ar + k]!;
      const wr = k * N;
      for (let j = 0; j < N; j++) out[o + j] = out[o + j]! + Math.fround(a * W[wr + j]!);
    }
  }
  return out;
}
