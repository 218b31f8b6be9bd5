/**
 * Dense float32 matmul into a caller-owned buffer, bit-identical to ../ops/matmul.ts:
 * each output accumulates fround(a*b) terms in ascending k with float32 rounding. The ikj
 * loop keeps that order per output (the accumulator row is a Float32Array, so each store
 * rounds the sum) while streaming rows of b.
 */
export function matmulInto(a: Float32Array, aOff: number, b: Float32Array, bOff: number, M: number, K: number, N: number, out: Float32Array, oOff: number): void {
  out.fill(0, oOff, oOff + M * N);
  for (let i = 0; i < M; i++) {
    const o = oOff + i * N;
    const ai = aOff + i * K;
    for (let k = 0; k < K; k++) {
      const x = a[ai + k]!;
      const bk = bOff + k * N;
      for (let j = 0; j < N; j++) out[o + j] = out[o + j]! + Math.fround(x * b[bk + j]!);
    }
  }
}
