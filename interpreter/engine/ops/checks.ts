/**
 * Argument checks shared by the ops: dtype requirements and axis normalisation.
 *
 * Owns nothing numeric; every function either returns its (normalised) argument or throws
 * (TypeError for a wrong dtype, RangeError for a bad axis or size).
 */

import type { F32Tensor, I32Tensor, Tensor } from "../tensor.js";
import { shapeString } from "../tensor.js";

/** `t` as an F32Tensor, or a TypeError naming the op (i32 must go through `toF32` first). */
export function expectF32(t: Tensor, op: string): F32Tensor {
  if (t.dtype !== "f32" || !(t.data instanceof Float32Array))
    throw new TypeError(`${op}: expected an f32 tensor, got ${t.dtype} ${shapeString(t.shape)} (use toF32)`);
  return t as F32Tensor;
}

/** `t` as an I32Tensor, or a TypeError naming the op. */
export function expectI32(t: Tensor, op: string): I32Tensor {
  if (t.dtype !== "i32" || !(t.data instanceof Int32Array))
    throw new TypeError(`${op}: expected an i32 tensor, got ${t.dtype} ${shapeString(t.shape)}`);
  return t as I32Tensor;
}

/** `axis` in [-rank, rank) mapped to [0, rank); RangeError otherwise. */
export function normalizeAxis(axis: number, rank: number, op: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new RangeError(`${op}: axis ${axis} out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** A non-negative integer size (`what` names it in the error). */
export function expectSize(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
  return n;
}
