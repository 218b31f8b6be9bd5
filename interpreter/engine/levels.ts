/**
 * Spike levels stored as int8, and the one level an int8 cannot hold: NaN.
 *
 * A neuron's level is `clamp(round(u / alpha), -1, 1)` or similar: an integer, except that a
 * NaN membrane or amplitude gives NaN (clamp propagates NaN, as torch.clamp does). PyTorch
 * would carry that NaN into the matmul, where `NaN * w` poisons every output it touches. So
 * the level is kept: int8 buffers hold it as NAN_LEVEL, layout ops copy it like any byte,
 * and the spike kernels (kernels/spike-matmul.ts) compute such a contraction with the
 * reference loop on float levels. Reading a level back as a float gives NaN again.
 * (±Infinity and -0 never reach a level store: clamp bounds the first, and levels are
 * canonical, -0 stored as 0.)
 */
export const NAN_LEVEL = -128;

/** The int8 byte of a float level (NaN -> NAN_LEVEL; -0 -> 0 by the int8 store). */
export function levelToInt8(v: number): number {
  return v === v ? v : NAN_LEVEL;
}

/** The float level of an int8 byte (NAN_LEVEL -> NaN). */
function int8ToLevel(b: number): number {
  return b === NAN_LEVEL ? Number.NaN : b;
}

/** Float levels of an int8 buffer. */
export function levelsToF32(s: Int8Array): Float32Array {
  return levelsInto(s, new Float32Array(s.length));
}

/** Float levels of an int8 buffer, written into `out` (as long as `s`); returns `out`. */
export function levelsInto(s: Int8Array, out: Float32Array): Float32Array {
  for (let i = 0; i < s.length; i++) out[i] = int8ToLevel(s[i]!);
  return out;
}

/** Writes float levels into an int8 buffer at `offset`, NaN as NAN_LEVEL. */
export function storeLevels(src: ArrayLike<number>, dst: Int8Array, offset: number): void {
  for (let i = 0; i < src.length; i++) dst[offset + i] = levelToInt8(src[i]!);
}
