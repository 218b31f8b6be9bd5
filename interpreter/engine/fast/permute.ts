/**
 * Strided copies for layout ops (transpose, split/merge heads, slicing): the output visits
 * its elements in order while an odometer walks the input offset, so no index arrays are
 * allocated. Works for any typed array (float32 values or int8 spike levels).
 */
type Arr = Float32Array | Int8Array | Int32Array;

/** out[...] = x permuted: out axis i is input axis perm[i]. */
export function permuteInto(x: Arr, shape: readonly number[], perm: readonly number[], out: Arr): void {
  const r = shape.length;
  const inStrides = new Array<number>(r);
  let acc = 1;
  for (let i = r - 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= shape[i]!;
  }
  const oShape = perm.map((p) => shape[p]!);
  const oStrides = perm.map((p) => inStrides[p]!);
  stridedCopy(x, 0, oShape, oStrides, out);
}

/** Copies the strided view (offset, shape, strides) of x into out, row-major. */
export function stridedCopy(x: Arr, offset: number, shape: readonly number[], strides: readonly number[], out: Arr): void {
  const r = shape.length;
  const n = out.length;
  if (n === 0) return;
  if (r === 0) {
    out[0] = x[offset]!;
    return;
  }
  const last = shape[r - 1]!;
  const lastStride = strides[r - 1]!;
  const idx = new Array<number>(r).fill(0);
  let base = offset;
  for (let o = 0; o < n; o += last) {
    if (lastStride === 1) out.set(x.subarray(base, base + last), o);
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
