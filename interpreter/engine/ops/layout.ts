/**
 * Layout ops: moving, copying and selecting elements without arithmetic.
 *
 * Owns: `transpose`, `reshape`, `splitHeads`, `mergeHeads`, `overTime`, `meanTime`, `index`,
 * `toF32`, `concat`. All of them except `meanTime` and `toF32` work on f32 and i32 alike and
 * keep the dtype; values are copied bit for bit. Every result is a fresh contiguous
 * (row-major) tensor: nothing here aliases its input's storage.
 */

import type { F32Tensor, I32Tensor, Tensor } from "../tensor.js";
import { f32, i32, numel, shapeString, stridesOf } from "../tensor.js";
import { ShapeError } from "./broadcast.js";
import { expectF32, expectSize, normalizeAxis } from "./checks.js";
import { allocF32, allocI32 } from "../arena.js";

/** A tensor of `like`'s dtype with the given shape and storage. */
function build<T extends Tensor>(like: T, shape: readonly number[], data: Float32Array | Int32Array): T {
  return (like.dtype === "f32" ? f32(shape, data as Float32Array) : i32(shape, data as Int32Array)) as unknown as T;
}

/** Fresh zeroed storage of `like`'s dtype. */
function alloc(like: Tensor, n: number): Float32Array | Int32Array {
  return like.dtype === "f32" ? allocF32(n) : allocI32(n);
}

/**
 * Permute axes: out.shape[i] = x.shape[perm[i]], out[c] = x[c'] with c'[perm[i]] = c[i].
 * Default perm swaps the last two axes (rank >= 2 required). Materialises a contiguous copy.
 */
export function transpose<T extends Tensor>(x: T, perm?: readonly number[]): T {
  const rank = x.shape.length;
  let p: number[];
  if (perm === undefined) {
    if (rank < 2) throw new ShapeError(`transpose: default perm needs rank >= 2, got ${shapeString(x.shape)}`);
    p = [...Array(rank).keys()];
    p[rank - 2] = rank - 1;
    p[rank - 1] = rank - 2;
  } else {
    p = perm.map((a) => normalizeAxis(a, rank, "transpose"));
    if (p.length !== rank || new Set(p).size !== rank)
      throw new ShapeError(`transpose: [${perm.join(", ")}] is not a permutation of the axes of ${shapeString(x.shape)}`);
  }
  const outShape = p.map((a) => x.shape[a]!);
  const inStrides = stridesOf(x.shape);
  const srcStride = p.map((a) => inStrides[a]!); // input stride of each output axis
  const n = numel(outShape);
  const out = alloc(x, n);
  const coord = new Array<number>(rank).fill(0);
  let src = 0;
  for (let flat = 0; flat < n; flat++) {
    out[flat] = x.data[src]!;
    for (let ax = rank - 1; ax >= 0; ax--) {
      const c = coord[ax]! + 1;
      if (c < outShape[ax]!) {
        coord[ax] = c;
        src += srcStride[ax]!;
        break;
      }
      coord[ax] = 0;
      src -= (c - 1) * srcStride[ax]!;
    }
  }
  return build(x, outShape, out);
}

/**
 * Same elements in the same row-major order, new shape. One entry may be -1 (inferred);
 * ShapeError naming both shapes if the element counts differ. Copies the storage.
 */
export function reshape<T extends Tensor>(x: T, shape: readonly number[]): T {
  const n = x.data.length;
  const holes = shape.filter((d) => d === -1).length;
  if (holes > 1 || shape.some((d) => d !== -1 && (!Number.isInteger(d) || d < 0)))
    throw new ShapeError(`reshape: invalid target shape ${shapeString(shape)} for ${shapeString(x.shape)}`);
  let target = [...shape];
  if (holes === 1) {
    const known = numel(shape.filter((d) => d !== -1));
    if (known === 0 || n % known !== 0)
      throw new ShapeError(`reshape: cannot reshape ${shapeString(x.shape)} to ${shapeString(shape)}`);
    target = shape.map((d) => (d === -1 ? n / known : d));
  }
  if (numel(target) !== n) throw new ShapeError(`reshape: cannot reshape ${shapeString(x.shape)} to ${shapeString(shape)}`);
  const out = alloc(x, n); // a copy (ops never share storage), from the arena when there is one
  out.set(x.data);
  return build(x, target, out);
}

/**
 * [..., L, d] -> [..., h, L, d/h]: out[..., j, l, e] = x[..., l, j*(d/h) + e].
 * ShapeError if rank < 2 or d % h != 0. Equals transpose(reshape(x, [..., L, h, d/h]), swap -3/-2).
 */
export function splitHeads<T extends Tensor>(x: T, h: number): T {
  const rank = x.shape.length;
  if (rank < 2) throw new ShapeError(`splitHeads: need rank >= 2, got ${shapeString(x.shape)}`);
  if (!Number.isInteger(h) || h <= 0) throw new RangeError(`splitHeads: head count must be a positive integer, got ${h}`);
  const L = x.shape[rank - 2]!;
  const d = x.shape[rank - 1]!;
  if (d % h !== 0) throw new ShapeError(`splitHeads: last dim ${d} of ${shapeString(x.shape)} is not divisible by ${h} heads`);
  const lead = x.shape.slice(0, -2);
  const r = reshape(x, [...lead, L, h, d / h]);
  const perm = [...lead.keys(), rank - 1, rank - 2, rank];
  return transpose(r, perm);
}

/**
 * [..., h, L, e] -> [..., L, h*e]: out[..., l, j*e + k] = x[..., j, l, k]. Exact inverse of
 * `splitHeads`. ShapeError if rank < 3.
 */
export function mergeHeads<T extends Tensor>(x: T): T {
  const rank = x.shape.length;
  if (rank < 3) throw new ShapeError(`mergeHeads: need rank >= 3, got ${shapeString(x.shape)}`);
  const lead = x.shape.slice(0, -3);
  const [h, L, e] = x.shape.slice(-3) as [number, number, number];
  const perm = [...lead.keys(), rank - 2, rank - 3, rank - 1];
  return reshape(transpose(x, perm), [...lead, L, h * e]);
}

/** [...] -> [T, ...]: T copies of x along a new leading time axis. */
export function overTime<X extends Tensor>(x: X, T: number): X {
  expectSize(T, "overTime: T");
  const n = x.data.length;
  const out = alloc(x, T * n);
  for (let t = 0; t < T; t++) out.set(x.data, t * n);
  return build(x, [T, ...x.shape], out);
}

/**
 * [T, ...] -> [...]: per element, acc = 0; for t = 0 .. T-1: acc = fround(acc + x[t, ...]);
 * out = fround(acc / T). (Same as mean(x, 0).) x must be f32 with rank >= 1.
 */
export function meanTime(x: Tensor): F32Tensor {
  const t = expectF32(x, "meanTime");
  if (t.shape.length < 1) throw new ShapeError(`meanTime: need rank >= 1, got ${shapeString(t.shape)}`);
  const T = t.shape[0]!;
  const inner = t.shape.slice(1);
  const n = numel(inner);
  const out = allocF32(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let s = 0; s < T; s++) acc = Math.fround(acc + t.data[s * n + i]!);
    out[i] = Math.fround(acc / T);
  }
  return f32(inner, out);
}

/** A basic-indexing item: an integer (removes the axis) or a half-open slice [start, end). */
export type IndexItem = number | { start?: number; end?: number };

/**
 * NumPy basic indexing with integers and step-1 slices, one item per leading axis; axes
 * without an item are kept whole.
 * - Integer i: negative counts from the end (i + size); must land in [0, size) or
 *   RangeError; the axis is removed.
 * - Slice {start, end}: defaults 0 and size; negatives add size; then both are clamped to
 *   [0, size]; the axis keeps max(0, end - start) entries (an empty axis is fine).
 * More items than axes is a RangeError. Returns a contiguous copy.
 */
export function index<T extends Tensor>(x: T, items: readonly IndexItem[]): T {
  const rank = x.shape.length;
  if (items.length > rank)
    throw new RangeError(`index: ${items.length} indices for ${rank}-d tensor ${shapeString(x.shape)}`);
  const starts: number[] = [];
  const counts: number[] = [];
  const outShape: number[] = [];
  for (let ax = 0; ax < rank; ax++) {
    const size = x.shape[ax]!;
    const it = items[ax];
    if (typeof it === "number") {
      if (!Number.isInteger(it)) throw new RangeError(`index: ${it} is not an integer`);
      const i = it < 0 ? it + size : it;
      if (i < 0 || i >= size) throw new RangeError(`index ${it} is out of range for axis ${ax} of size ${size}`);
      starts.push(i);
      counts.push(1);
    } else {
      const clampTo = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
      const s = clampTo(it?.start ?? 0);
      const e = clampTo(it?.end ?? size);
      const c = Math.max(0, e - s);
      starts.push(s);
      counts.push(c);
      outShape.push(c);
    }
  }
  const inStrides = stridesOf(x.shape);
  const n = numel(counts);
  const out = alloc(x, n);
  const coord = new Array<number>(rank).fill(0);
  for (let flat = 0; flat < n; flat++) {
    let src = 0;
    for (let ax = 0; ax < rank; ax++) src += (starts[ax]! + coord[ax]!) * inStrides[ax]!;
    out[flat] = x.data[src]!;
    for (let ax = rank - 1; ax >= 0; ax--) {
      if (++coord[ax]! < counts[ax]!) break;
      coord[ax] = 0;
    }
  }
  return build(x, outShape, out);
}

/** i32 -> f32 with each value rounded to the nearest float32 (exact for |v| <= 2^24). An f32 input is copied. */
export function toF32(x: Tensor): F32Tensor {
  const out = allocF32(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(x.data[i]!);
  return f32(x.shape, out);
}

/**
 * Join tensors along `axis` (may be negative). All must share dtype and rank and agree on
 * every other axis (ShapeError naming all shapes otherwise); at least one tensor.
 */
export function concat<T extends Tensor>(tensors: readonly T[], axis: number): T {
  const first = tensors[0];
  if (first === undefined) throw new RangeError("concat: needs at least one tensor");
  const rank = first.shape.length;
  const ax = normalizeAxis(axis, rank, "concat");
  const shapes = tensors.map((t) => shapeString(t.shape)).join(", ");
  for (const t of tensors) {
    if (t.dtype !== first.dtype) throw new TypeError(`concat: mixed dtypes ${first.dtype} and ${t.dtype}`);
    if (t.shape.length !== rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i]))
      throw new ShapeError(`concat: shapes ${shapes} do not agree outside axis ${axis}`);
  }
  const outer = numel(first.shape.slice(0, ax));
  const inner = numel(first.shape.slice(ax + 1));
  const total = tensors.reduce((s, t) => s + t.shape[ax]!, 0);
  const out = alloc(first, outer * total * inner);
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    for (const t of tensors) {
      const chunk = t.shape[ax]! * inner;
      out.set(t.data.subarray(o * chunk, (o + 1) * chunk), pos);
      pos += chunk;
    }
  }
  const outShape = first.shape.map((d, i) => (i === ax ? total : d));
  return build(first, outShape, out);
}
