/**
 * Reductions over one axis or over all elements, reference numerics.
 *
 * Owns: `sum`, `mean`, `max`. Inputs must be f32. Reductions run SEQUENTIALLY in ascending
 * index order along the reduced axis (for "all elements": ascending row-major flat index):
 *
 *   sum:  acc = 0; for each x in order: acc = fround(acc + x)     (empty -> +0; all -0 -> +0)
 *   mean: fround(sum / n)                                           (n = 0 gives NaN)
 *   max:  acc = -Infinity; for each x in order: acc = Math.max(acc, x)
 *         (propagates NaN; max(-0, +0) = +0; reducing an empty axis throws RangeError)
 *
 * `axis` may be negative (counted from the end). Without an axis the result has shape []
 * (or all-ones of the input's rank with keepdims). With keepdims the reduced axis stays
 * with size 1.
 */

import type { F32Tensor, Tensor } from "../tensor.js";
import { f32, numel, shapeString } from "../tensor.js";
import { expectF32, normalizeAxis } from "./checks.js";
import { allocF32 } from "../arena.js";

type Kind = "sum" | "mean" | "max";

function reduce(kind: Kind, t: Tensor, axis: number | undefined, keepdims: boolean): F32Tensor {
  const x = expectF32(t, kind);
  const rank = x.shape.length;
  // View the input as [outer, n, inner] with the reduced span in the middle.
  let outer: number, n: number, inner: number, outShape: number[];
  if (axis === undefined) {
    outer = 1;
    n = x.data.length;
    inner = 1;
    outShape = keepdims ? new Array<number>(rank).fill(1) : [];
  } else {
    const ax = normalizeAxis(axis, rank, kind);
    outer = numel(x.shape.slice(0, ax));
    n = x.shape[ax]!;
    inner = numel(x.shape.slice(ax + 1));
    outShape = keepdims ? x.shape.map((d, i) => (i === ax ? 1 : d)) : x.shape.filter((_, i) => i !== ax);
  }
  if (kind === "max" && n === 0 && outer * inner > 0)
    throw new RangeError(`max: cannot reduce an empty axis of ${shapeString(x.shape)}`);
  const out = allocF32(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let acc = kind === "max" ? -Infinity : 0;
      for (let k = 0; k < n; k++) {
        const v = x.data[base + k * inner]!;
        acc = kind === "max" ? Math.max(acc, v) : Math.fround(acc + v);
      }
      out[o * inner + i] = kind === "mean" ? Math.fround(acc / n) : acc;
    }
  }
  return f32(outShape, out);
}

/** Sequential float32 sum over `axis` (all elements if omitted). */
export function sum(x: Tensor, axis?: number, keepdims = false): F32Tensor {
  return reduce("sum", x, axis, keepdims);
}

/** fround(sequential float32 sum / n) over `axis` (all elements if omitted). */
export function mean(x: Tensor, axis?: number, keepdims = false): F32Tensor {
  return reduce("mean", x, axis, keepdims);
}

/** Maximum over `axis` (all elements if omitted); NaN propagates. */
export function max(x: Tensor, axis?: number, keepdims = false): F32Tensor {
  return reduce("max", x, axis, keepdims);
}
