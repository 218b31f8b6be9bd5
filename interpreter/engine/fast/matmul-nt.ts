/**
 * Dense float32 `a @ transpose(b)` into a caller-owned buffer, reading b as stored ([N, K],
 * a weight as declared): no transposed copy of b is made. Bit-identical to
 * ../ops/matmul.ts on the transposed operand: there each output accumulates
 * fround(a[m,k] * bT[k,n]) = fround(a[m,k] * b[n,k]) in ascending k from +0, rounding the sum
 * to float32 at every step (its ikj loop only interleaves different outputs' sums). Here each
 * output is one such sum, a dot product of a row of a with a row of b, both contiguous.
 *
 * Rows of b outermost: b is the large operand (a vocabulary-sized table), so each of its rows
 * is read from memory once and reused from cache for every row of a. Each sum is a chain of
 * dependent roundings, so four outputs (two rows of a by two rows of b) are summed side by
 * side: independent chains the CPU overlaps, and each load serves two of them.
 */
export function matmulNtInto(a: Float32Array, aOff: number, b: Float32Array, bOff: number, M: number, K: number, N: number, out: Float32Array, oOff: number): void {
  const f = Math.fround;
  let j = 0;
  for (; j + 1 < N; j += 2) {
    const b0 = bOff + j * K;
    const b1 = b0 + K;
    let i = 0;
    for (; i + 1 < M; i += 2) {
      const a0 = aOff + i * K;
      const a1 = a0 + K;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[a0 + k]!, x1 = a[a1 + k]!, w0 = b[b0 + k]!, w1 = b[b1 + k]!;
        s00 = f(s00 + f(x0 * w0));
        s01 = f(s01 + f(x0 * w1));
        s10 = f(s10 + f(x1 * w0));
        s11 = f(s11 + f(x1 * w1));
      }
      const o = oOff + i * N + j;
      out[o] = s00;
      out[o + 1] = s01;
      out[o + N] = s10;
      out[o + N + 1] = s11;
    }
    if (i < M) {
      const a0 = aOff + i * K;
      let s0 = 0, s1 = 0;
      for (let k = 0; k < K; k++) {
        const x = a[a0 + k]!;
        s0 = f(s0 + f(x * b[b0 + k]!));
        s1 = f(s1 + f(x * b[b1 + k]!));
      }
      out[oOff + i * N + j] = s0;
      out[oOff + i * N + j + 1] = s1;
    }
  }
  if (j < N) {
    const b0 = bOff + j * K;
    for (let i = 0; i < M; i++) {
      const a0 = aOff + i * K;
      let s = 0;
      for (let k = 0; k < K; k++) s = f(s + f(a[a0 + k]! * b[b0 + k]!));
      out[oOff + i * N + j] = s;
    }
  }
}
