/**
 * Strided copies for layout ops (transpose, split/merge heads, slicing): the output visits
 * its elements in order while an odometer walks the input offset, so no index arrays are
 * allocated. Works for any typed array (float32 values or int8 spike levels).
 */
import { nativeAddon, startNative } from "../kernels/native-backend.js";

type Arr = Float32Array | Int8Array | Int32Array;

/** Elements below which a strided copy stays in JavaScript (calling out costs about a microsecond). */
const NATIVE_COPY_MIN = 4096;

/** out[...] = x permuted: out axis i is input axis perm[i]. */
export function permuteInto(x: Arr, shape: readonly number[], perm: readonly number[], out: Arr): void {
  const r = shape.length;
  const inStrides = new Array<number>(r);
  let acc = 1;
  for (let i = r - 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= shape[i]!;
  }
  // Swapping the last two axes (weight transposes, attention keys): blocked, so that both
  // the reads and the writes stay within a few cache lines (the odometer below reads with a
  // stride of a whole row per element: ~5x slower on weight-sized matrices).
  if (r >= 2 && perm.every((p, i) => (i < r - 2 ? p === i : p === (i === r - 2 ? r - 1 : r - 2)))) {
    const R = shape[r - 2]!;
    const C = shape[r - 1]!;
    const batches = R * C === 0 ? 0 : x.length === 0 ? 0 : acc / (R * C);
    for (let b = 0; b < batches; b++) transpose2d(x, b * R * C, R, C, out, b * R * C);
    return;
  }
  const oShape = perm.map((p) => shape[p]!);
  const oStrides = perm.map((p) => inStrides[p]!);
  stridedCopy(x, 0, oShape, oStrides, out);
}

const BLOCK = 32;

/** out[c, r] = x[r, c] for an R x C matrix at xOff, in BLOCK x BLOCK tiles. */
function transpose2d(x: Arr, xOff: number, R: number, C: number, out: Arr, oOff: number): void {
  for (let r0 = 0; r0 < R; r0 += BLOCK) {
    const r1 = Math.min(R, r0 + BLOCK);
    for (let c0 = 0; c0 < C; c0 += BLOCK) {
      const c1 = Math.min(C, c0 + BLOCK);
      for (let c = c0; c < c1; c++) {
        const o = oOff + c * R;
        for (let rr = r0, p = xOff + r0 * C + c; rr < r1; rr++, p += C) out[o + rr] = x[p]!;
      }
    }
  }
}

/** Copies the strided view (offset, shape, strides) of x into out, row-major. */
export function stridedCopy(x: Arr, offset: number, shape: readonly number[], strides: readonly number[], out: Arr): void {
  const r = shape.length;
  const n = out.length;
  if (n === 0) return;
  // the native copy (copy_native.c) where it is loaded: the same walk, a memcpy per run
  if (n >= NATIVE_COPY_MIN && x.constructor === out.constructor && startNative()) {
    nativeAddon()!.stridedCopy(x, offset, shape, strides, out);
    return;
  }
  if (r === 0) {
    out[0] = x[offset]!;
    return;
  }
  const last = shape[r - 1]!;
  const lastStride = strides[r - 1]!;
  const idx = new Array<number>(r).fill(0);
  let base = offset;
  for (let o = 0; o < n; o += last) {
    // short contiguous rows (split heads: 16) by hand: a subarray per row is an object per row
    if (lastStride === 1 && last > 64) out.set(x.subarray(base, base + last), o);
    else if (lastStride === 1) for (let j = 0; j < last; j++) out[o + j] = x[base + j]!;
    else for (let j = 0, p = base; j < last; j++, p += lastStride) out[o + j] = x[p]!;
    // advance the odometer over all but the last axis
    for (let ax = r - 2; ax >= 0; ax--) {
      idx[ax]!++;
      base += strides[ax]!;
      if (idx[ax]! < shape[ax]!) break;
      base -= strides[ax]! * shape[ax]!;
      idx[ax] = 0;
    }
  }
}
