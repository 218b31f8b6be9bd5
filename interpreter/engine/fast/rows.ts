/**
 * Row kernels that write into caller-owned buffers: layernorm, softmax, embedding rows,
 * time repetition and averaging. Each reproduces the reference kernel in ../ops bit for bit
 * (same operations, same order, same rounding); the tests check that.
 */
const fround = Math.fround;

/** ../ops/nn.ts layernorm, into `out`. `dev` is scratch of length >= d. */
export function layernormInto(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number, d: number, out: Float32Array, dev: Float64Array): void {
  const rows = d === 0 ? 0 : x.length / d;
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    let acc = 0;
    for (let i = 0; i < d; i++) acc = fround(acc + x[base + i]!);
    const mean = fround(acc / d);
    let sq = 0;
    for (let i = 0; i < d; i++) {
      const di = fround(x[base + i]! - mean);
      dev[i] = di;
      sq = fround(sq + fround(di * di));
    }
    const inv = fround(1 / Math.sqrt(fround(fround(sq / d) + eps)));
    for (let i = 0; i < d; i++) out[base + i] = fround(fround(fround(dev[i]! * inv) * gamma[i]!) + beta[i]!);
  }
}

/** ../ops/nn.ts softmax over rows of n, into `out` (may alias x). */
export function softmaxInto(x: Float32Array, n: number, out: Float32Array): void {
  const rows = n === 0 ? 0 : x.length / n;
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, x[base + i]!);
    let s = 0;
    for (let i = 0; i < n; i++) {
      const e = fround(Math.exp(fround(x[base + i]! - m)));
      out[base + i] = e;
      s = fround(s + e);
    }
    for (let i = 0; i < n; i++) out[base + i] = fround(out[base + i]! / s);
  }
}

/**
 * Rows of table [N, D] picked by ids, into out [ids.length, D]. Returns the position of the
 * first id outside [0, N), or -1 (a position, not the id: a negative id such as -1 would be
 * indistinguishable from "all fine").
 */
export function gatherInto(table: Float32Array, N: number, D: number, ids: Int32Array, out: Float32Array): number {
  for (let p = 0; p < ids.length; p++) {
    const id = ids[p]!;
    if (id < 0 || id >= N) return p;
    out.set(table.subarray(id * D, (id + 1) * D), p * D);
  }
  return -1;
}

/** [n] repeated T times into out [T, n]. */
export function overTimeInto(x: Float32Array | Int32Array, T: number, out: Float32Array | Int32Array): void {
  const n = x.length;
  for (let t = 0; t < T; t++) out.set(x, t * n);
}

/** acc = 0; for t ascending: acc = f32(acc + x[t]); out = f32(acc / T) — as ../ops meanTime. */
export function meanTimeInto(x: Float32Array, T: number, out: Float32Array): void {
  const n = out.length;
  out.fill(0);
  for (let t = 0; t < T; t++) {
    const base = t * n;
    for (let i = 0; i < n; i++) out[i] = fround(out[i]! + x[base + i]!);
  }
  for (let i = 0; i < n; i++) out[i] = fround(out[i]! / T);
}
