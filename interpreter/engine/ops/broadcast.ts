/**
 * NumPy broadcasting for the reference engine.
 *
 * Owns: `ShapeError` (the error every op throws for incompatible shapes), the broadcast
 * shape rule and the index mapping from an output element to the input element it reads.
 *
 * Rule (NumPy): shapes are aligned on the right; missing leading axes count as 1; two sizes
 * are compatible if equal or if one of them is 1, and the result takes the other. A size-0
 * axis broadcasts with 1 (giving 0) and with 0 only.
 */

import { numel, shapeString, stridesOf } from "../tensor.js";

/** Thrown when shapes do not fit an op. The message always names the shapes involved. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}

/** The broadcast shape of `shapes`; throws ShapeError naming all of them if incompatible. */
export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      const cur = out[o]!;
      if (cur === d || d === 1) continue;
      if (cur === 1) out[o] = d;
      else throw new ShapeError(`cannot broadcast shapes ${shapes.map(shapeString).join(" and ")}`);
    }
  }
  return out;
}

/**
 * For every element of `outShape` (row-major order), the flat index of the element of a
 * tensor of shape `inShape` that broadcasting reads. `inShape` must broadcast to `outShape`
 * (throws ShapeError otherwise). out[i] = sum over axes of (size 1 ? 0 : coord) * stride.
 */
export function broadcastOffsets(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  // The same shapes come back every step of a training run: the tables are memoized (callers
  // only read them), up to a bounded number of entries and elements.
  const key = `${inShape.join(",")}|${outShape.join(",")}`;
  const hit = offsetCache.get(key);
  if (hit) return hit;
  const table = computeOffsets(inShape, outShape);
  if (table.length <= 1 << 22) {
    if (offsetCache.size >= 512) offsetCache.clear();
    offsetCache.set(key, table);
  }
  return table;
}

const offsetCache = new Map<string, Int32Array>();

/**
 * `broadcastOffsets` written into `into` (its first numel(outShape) entries; it must be at
 * least that long), not memoized: for shapes that change every call (a decoding step's
 * growing key length) without allocating.
 */
export function broadcastOffsetsInto(inShape: readonly number[], outShape: readonly number[], into: Int32Array): Int32Array {
  if (into.length < numel(outShape)) throw new Error(`internal: an offset table of ${into.length} entries for ${numel(outShape)} elements`);
  return computeOffsets(inShape, outShape, into);
}

function computeOffsets(inShape: readonly number[], outShape: readonly number[], into?: Int32Array): Int32Array {
  const rank = outShape.length;
  const lead = rank - inShape.length;
  if (lead < 0) throw new ShapeError(`cannot broadcast shape ${shapeString(inShape)} to ${shapeString(outShape)}`);
  const inStrides = stridesOf(inShape);
  const strides = new Array<number>(rank).fill(0);
  for (let i = 0; i < inShape.length; i++) {
    const d = inShape[i]!;
    const o = outShape[lead + i]!;
    if (d !== o && d !== 1) throw new ShapeError(`cannot broadcast shape ${shapeString(inShape)} to ${shapeString(outShape)}`);
    strides[lead + i] = d === 1 ? 0 : inStrides[i]!;
  }
  const n = numel(outShape);
  const offsets = into ?? new Int32Array(n);
  if (rank === 0) {
    if (n > 0) offsets[0] = 0;
    return offsets;
  }
  // Rows of the last axis in a tight loop (a decoding step rebuilds tables of ~10^5 entries
  // per layer as its key length grows); the multi-index of the other axes steps per row.
  const last = rank - 1;
  const row = outShape[last]!;
  const step = strides[last]!;
  const coord = new Array<number>(rank).fill(0);
  let off = 0;
  for (let flat = 0; flat < n; flat += row) {
    for (let i = 0; i < row; i++) offsets[flat + i] = off + i * step;
    // increment the multi-index of the axes before the last, keeping `off` in step
    for (let ax = last - 1; ax >= 0; ax--) {
      const c = coord[ax]! + 1;
      if (c < outShape[ax]!) {
        coord[ax] = c;
        off += strides[ax]!;
        break;
      }
      coord[ax] = 0;
      off -= (c - 1) * strides[ax]!;
    }
  }
  return offsets;
}

/**
 * How an operand of shape `inShape` (already known to broadcast to `outShape`) is laid out
 * over the output, for loops without offset tables:
 * - "block": its elements repeat over contiguous runs of `size` outputs (shape = a prefix of
 *   the output's, then 1s: a per-time-step amplitude [T, 1, 1, 1]); size 1 = no broadcast;
 * - "period": the whole operand repeats every `size` outputs (shape = 1s, then a suffix of
 *   the output's: a bias [1, 1, d]); a single element is both;
 * - undefined: anything else (use broadcastOffsets).
 */
export function broadcastLayout(inShape: readonly number[], outShape: readonly number[]): { readonly kind: "block" | "period"; readonly size: number } | undefined {
  const lead = outShape.length - inShape.length;
  if (lead < 0) return undefined;
  const d = (ax: number) => (ax < lead ? 1 : inShape[ax - lead]!);
  // block: axes [0, j) equal to the output's, axes [j, rank) of size 1
  let j = 0;
  while (j < outShape.length && d(j) === outShape[j]) j++;
  let ok = true;
  for (let ax = j; ax < outShape.length; ax++) if (d(ax) !== 1) ok = false;
  if (ok) return { kind: "block", size: numel(outShape.slice(j)) };
  // period: axes [0, j) of size 1, axes [j, rank) equal to the output's
  j = 0;
  while (j < outShape.length && d(j) === 1) j++;
  for (let ax = j; ax < outShape.length; ax++) if (d(ax) !== outShape[ax]) return undefined;
  return { kind: "period", size: numel(outShape.slice(j)) };
}
