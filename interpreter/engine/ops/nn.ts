/**
 * Neural-network building blocks with reference numerics.
 *
 * Owns: `softmax` and `layernorm` (both over the last axis), `causalMask`, `gather`
 * (embedding lookup) and `positions`. The exact float32 rounding sequence of softmax and
 * layernorm is spelled out on each function; optimized kernels must follow it step by step.
 */

import type { F32Tensor, I32Tensor, Tensor } from "../tensor.js";
import { f32, i32, shapeString } from "../tensor.js";
import { F32_LOWEST } from "../numerics.js";
import { ShapeError } from "./broadcast.js";
import { expectF32, expectI32, expectSize } from "./checks.js";
import { allocF32, allocF64, allocI32 } from "../arena.js";

/**
 * Softmax over the last axis, per row x[0..n-1]:
 *   m   = max (acc = -Infinity; acc = Math.max(acc, x_i), ascending i)
 *   e_i = fround(Math.exp(fround(x_i - m)))
 *   s   = acc = 0; acc = fround(acc + e_i), ascending i
 *   out_i = fround(e_i / s)
 * Masked entries (x_i = F32_LOWEST, as from causalMask or (1 - mask) * F32_LOWEST) give
 * exactly 0 as long as the row has an entry above F32_LOWEST (in fact any entry more than
 * ~104 below the row max gives 0: its exp underflows float32). A fully masked row (all
 * F32_LOWEST) gives the uniform 1/n, like PyTorch with an additive mask. NaN in a row makes the row NaN; a row
 * containing +Infinity gives NaN (Infinity - Infinity), as in PyTorch. Rank >= 1.
 */
export function softmax(x: Tensor): F32Tensor {
  const t = expectF32(x, "softmax");
  if (t.shape.length < 1) throw new ShapeError(`softmax: need rank >= 1, got ${shapeString(t.shape)}`);
  const n = t.shape[t.shape.length - 1]!;
  const rows = n === 0 ? 0 : t.data.length / n;
  const out = allocF32(t.data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, t.data[base + i]!);
    let s = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.fround(Math.exp(Math.fround(t.data[base + i]! - m)));
      out[base + i] = e;
      s = Math.fround(s + e);
    }
    for (let i = 0; i < n; i++) out[base + i] = Math.fround(out[base + i]! / s);
  }
  return f32(t.shape, out);
}

/**
 * LayerNorm over the last axis (size d), per row x[0..d-1], with gamma and beta of shape [d]:
 *   mean  = fround(seqsum(x_i) / d)             seqsum: acc = 0; acc = fround(acc + v), ascending
 *   d_i   = fround(x_i - mean)
 *   var   = fround(seqsum(fround(d_i * d_i)) / d)   (biased, as PyTorch)
 *   inv   = fround(1 / Math.sqrt(fround(var + eps)))
 *   out_i = fround(fround(fround(d_i * inv) * gamma_i) + beta_i)
 * This matches PyTorch to ~1e-6. ShapeError if gamma or beta is not [d].
 */
export function layernorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): F32Tensor {
  const t = expectF32(x, "layernorm");
  const g = expectF32(gamma, "layernorm gamma");
  const b = expectF32(beta, "layernorm beta");
  if (t.shape.length < 1) throw new ShapeError(`layernorm: need rank >= 1, got ${shapeString(t.shape)}`);
  const d = t.shape[t.shape.length - 1]!;
  if (g.shape.length !== 1 || g.shape[0] !== d || b.shape.length !== 1 || b.shape[0] !== d)
    throw new ShapeError(
      `layernorm: gamma ${shapeString(g.shape)} and beta ${shapeString(b.shape)} must be [${d}] for input ${shapeString(t.shape)}`,
    );
  const rows = d === 0 ? 0 : t.data.length / d;
  const out = allocF32(t.data.length);
  const dev = allocF64(d);
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    let acc = 0;
    for (let i = 0; i < d; i++) acc = Math.fround(acc + t.data[base + i]!);
    const mean = Math.fround(acc / d);
    let sq = 0;
    for (let i = 0; i < d; i++) {
      const di = Math.fround(t.data[base + i]! - mean);
      dev[i] = di;
      sq = Math.fround(sq + Math.fround(di * di));
    }
    const variance = Math.fround(sq / d);
    const inv = Math.fround(1 / Math.sqrt(Math.fround(variance + eps)));
    for (let i = 0; i < d; i++) {
      out[base + i] = Math.fround(Math.fround(Math.fround(dev[i]! * inv) * g.data[i]!) + b.data[i]!);
    }
  }
  return f32(t.shape, out);
}

/** [L, L] f32 additive causal mask: 0 where j <= i (on/below the diagonal), F32_LOWEST where j > i. */
export function causalMask(L: number): F32Tensor {
  expectSize(L, "causalMask: L");
  const out = allocF32(L * L);
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) out[i * L + j] = F32_LOWEST;
  return f32([L, L], out);
}

/**
 * Embedding lookup: table [N, D] (any dtype), ids i32 [...] -> [..., D] with
 * out[..., :] = table[ids[...], :] copied bit for bit. RangeError naming the id and N if an
 * id is outside [0, N).
 */
export function gather<T extends Tensor>(table: T, ids: Tensor): T {
  const idx = expectI32(ids, "gather ids");
  if (table.shape.length !== 2) throw new ShapeError(`gather: table must be [N, D], got ${shapeString(table.shape)}`);
  const [N, D] = table.shape as [number, number];
  const out = table.dtype === "f32" ? allocF32(idx.data.length * D) : allocI32(idx.data.length * D);
  for (let p = 0; p < idx.data.length; p++) {
    const id = idx.data[p]!;
    if (id < 0 || id >= N) throw new RangeError(`gather: id ${id} is out of range for a table of ${N} rows`);
    out.set(table.data.subarray(id * D, (id + 1) * D), p * D);
  }
  const shape = [...idx.shape, D];
  return (table.dtype === "f32" ? f32(shape, out as Float32Array) : i32(shape, out as Int32Array)) as unknown as T;
}

/** Position ids for ids [..., L]: i32 [L] = 0, 1, ..., L-1 (any dtype of ids; only the shape is read). */
export function positions(ids: Tensor): I32Tensor {
  if (ids.shape.length < 1) throw new ShapeError(`positions: need rank >= 1, got ${shapeString(ids.shape)}`);
  const L = ids.shape[ids.shape.length - 1]!;
  const out = allocI32(L);
  for (let i = 0; i < L; i++) out[i] = i;
  return i32([L], out);
}

