/**
 * The engine's tensor: a dense row-major typed array with a shape.
 *
 * Owns storage and layout only. Knows nothing of the language: kernels take tensors
 * and numbers, never AST or IR nodes.
 */
import { allocF32, allocI32, f32From, i32From } from "./arena.js";

export type DType = "f32" | "i32";

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

export interface F32Tensor extends Tensor {
  readonly dtype: "f32";
  readonly data: Float32Array;
}

export interface I32Tensor extends Tensor {
  readonly dtype: "i32";
  readonly data: Int32Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function f32(shape: readonly number[], data?: Float32Array | ArrayLike<number>): F32Tensor {
  const n = numel(shape);
  const buf = data instanceof Float32Array ? data : data ? f32From(data) : allocF32(n);
  if (buf.length !== n) throw new RangeError(`data has ${buf.length} elements, shape [${shape.join(", ")}] needs ${n}`);
  return { dtype: "f32", shape: [...shape], data: buf };
}

export function i32(shape: readonly number[], data?: Int32Array | ArrayLike<number>): I32Tensor {
  const n = numel(shape);
  const buf = data instanceof Int32Array ? data : data ? i32From(data) : allocI32(n);
  if (buf.length !== n) throw new RangeError(`data has ${buf.length} elements, shape [${shape.join(", ")}] needs ${n}`);
  return { dtype: "i32", shape: [...shape], data: buf };
}

export function scalar(x: number): F32Tensor {
  return f32([], [x]);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Stacks per-step tensors (same dtype and shape) into one [T, ...] tensor, copying the data. */
export function stackSteps(steps: readonly Tensor[]): Tensor {
  const first = steps[0]!;
  const n = first.data.length;
  const data = first.dtype === "i32" ? allocI32(n * steps.length) : allocF32(n * steps.length);
  steps.forEach((s, t) => data.set(s.data, t * n));
  return { dtype: first.dtype, shape: [steps.length, ...first.shape], data } as Tensor;
}

/** A tensor with the same dtype and shape and its own copy of the data (e.g. out of an executor's arena). */
export function copyTensor<T extends Tensor>(t: T): T {
  return (t.dtype === "i32" ? i32(t.shape, Int32Array.from(t.data)) : f32(t.shape, Float32Array.from(t.data))) as T;
}

/** A view of sub-tensor `index` along the leading axis (shares storage). */
export function sliceLeading<T extends Tensor>(t: T, index: number): T {
  const inner = t.shape.slice(1);
  const n = numel(inner);
  const data = t.data.subarray(index * n, (index + 1) * n);
  return { dtype: t.dtype, shape: inner, data } as unknown as T;
}
