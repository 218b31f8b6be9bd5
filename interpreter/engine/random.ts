/**
 * Deterministic seeded random numbers for weight initialisation.
 *
 * Owns: `streamFor` (one independent random stream per (seed, parameter path)) and
 * `initTensor` (fill a float32 tensor from a stream). Because every parameter path has its
 * own stream, adding, removing or reordering parameters never changes another's values.
 *
 * The scheme, precisely (all arithmetic on unsigned 32-bit words, mod 2^32):
 *
 * 1. Key: the UTF-8 bytes of the string `${seed}:${path}`, seed a safe integer written in
 *    decimal by JS `String(seed)` (e.g. "42:encoder.layer.0.query.weight", "-1:w").
 * 2. Hash: h = FNV-1a 32 of the key (h = 0x811c9dc5; per byte: h ^= byte,
 *    h = h * 0x01000193), then h = fmix32(h), MurmurHash3's finalizer
 *    (h ^= h >>> 16; h *= 0x85ebca6b; h ^= h >>> 13; h *= 0xc2b2ae35; h ^= h >>> 16).
 * 3. State: xoshiro128** state words s[k] = fmix32(h + (k + 1) * 0x9e3779b9) for
 *    k = 0, 1, 2, 3. (fmix32 is a bijection and the four inputs differ, so the state is never
 *    all zero.) Streams for different keys are independent up to 32-bit hash collisions
 *    (probability ~2^-32 per pair of paths).
 * 4. Generator: xoshiro128** (Blackman & Vigna, 2018). nextU32():
 *      result = rotl(s[1] * 5, 7) * 9
 *      t = s[1] << 9
 *      s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11)
 *      return result
 * 5. uniform() = nextU32() / 2^32, a double in [0, 1) (consumes one word).
 * 6. normal(): Box–Muller in pairs. On an even call (1st, 3rd, ...): u1 = 1 - uniform()
 *    (in (0, 1]), u2 = uniform(), r = Math.sqrt(-2 * Math.log(u1)), th = 2 * Math.PI * u2;
 *    return r * Math.cos(th) and keep r * Math.sin(th), which the next call returns without
 *    consuming words. Interleaving uniform() with normal() does not drop the kept value.
 *    (Math.log/cos/sin are V8's fdlibm ports; results are rounded to float32 before use,
 *    so another libm would almost never change a weight.)
 * 7. initTensor fills in row-major order: uniform -> fround(bound * (2 * uniform() - 1))
 *    (values in [-bound, bound]); normal -> fround(std * normal()); zeros/ones use no words.
 */

import type { F32Tensor } from "./tensor.js";
import { f32, numel } from "./tensor.js";

export interface RandomStream {
  /** Next raw 32-bit output of xoshiro128**, as an unsigned integer. */
  nextU32(): number;
  /** Uniform double in [0, 1): nextU32() / 2^32. */
  uniform(): number;
  /** Standard normal double (Box–Muller, generated in pairs). */
  normal(): number;
}

export type Init =
  | { kind: "uniform"; bound: number }
  | { kind: "normal"; std: number }
  | { kind: "zeros" }
  | { kind: "ones" };

/** FNV-1a 32-bit hash of a byte string, unsigned. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** MurmurHash3's 32-bit finalizer (a bijection on 32-bit words), unsigned. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The xoshiro128** state words of `path` under `seed` (module header, steps 1-3). */
function initialState(seed: number, path: string): Uint32Array {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const h = fmix32(fnv1a32(new TextEncoder().encode(`${String(seed)}:${path}`)));
  const s = new Uint32Array(4);
  for (let k = 0; k < 4; k++) s[k] = fmix32((h + Math.imul(k + 1, 0x9e3779b9)) >>> 0);
  return s;
}

/** The random stream of parameter `path` under `seed` (see the module header for the scheme). */
export function streamFor(seed: number, path: string): RandomStream {
  const s = initialState(seed, path);
  let spare: number | undefined;

  const nextU32 = (): number => {
    const s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    s[1] = s1 ^ n2;
    s[0] = s0 ^ n3;
    s[2] = n2 ^ t;
    s[3] = rotl(n3, 11);
    return result;
  };
  const uniform = (): number => nextU32() / 4294967296;
  const normal = (): number => {
    if (spare !== undefined) {
      const z = spare;
      spare = undefined;
      return z;
    }
    const u1 = 1 - uniform();
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const th = 2 * Math.PI * u2;
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
  return { nextU32, uniform, normal };
}

/** A float32 tensor of `shape` filled in row-major order per `init` from `stream` (module header, step 7). */
export function initTensor(shape: readonly number[], init: Init, stream: RandomStream): F32Tensor {
  const n = numel(shape);
  const out = new Float32Array(n);
  switch (init.kind) {
    case "zeros":
      break;
    case "ones":
      out.fill(1);
      break;
    case "uniform":
      for (let i = 0; i < n; i++) out[i] = Math.fround(init.bound * (2 * stream.uniform() - 1));
      break;
    case "normal":
      for (let i = 0; i < n; i++) out[i] = Math.fround(init.std * stream.normal());
      break;
  }
  return f32(shape, out);
}

/**
 * `out` filled with exactly what `initTensor(shape, init, streamFor(seed, path))` gives from
 * element `first` on (`out` is that piece of the tensor; `first` is even for normal): the
 * same words, float64 arithmetic and rounding, but fast: the generator's state lives in
 * locals and values go straight into the Float32Array (measured 8.5 -> 5.4 ns per uniform and
 * 38 -> 30 ns per normal value; the seeded BERT-base parameters are 109 M values).
 */
export function fillSeeded(out: Float32Array, init: Init, seed: number, path: string, first = 0): Float32Array {
  if (init.kind === "zeros") return out.fill(0);
  if (init.kind === "ones") return out.fill(1);
  // A piece of the tensor starting at element `first` (threads fill pieces): element i
  // uses word i (uniform) or words i and i + 1 of its pair (normal), so skip `first` words.
  if (!Number.isInteger(first) || first < 0 || (init.kind === "normal" && first % 2 !== 0)) throw new RangeError(`fillSeeded: a ${init.kind} piece cannot start at element ${first}`);
  return fillFromState(out, init, initialState(seed, path), first);
}

/**
 * The xoshiro128** state words of `path` under `seed` after `skip` words: where the stream of
 * element `skip` of a uniform tensor starts (a seeder that keeps the state elsewhere, such as
 * the WebAssembly one in runtime/seed-wasm.ts, starts from these).
 */
export function stateAfter(seed: number, path: string, skip = 0): Uint32Array {
  if (!Number.isInteger(skip) || skip < 0) throw new RangeError(`stateAfter: cannot skip ${skip} words`);
  const st = initialState(seed, path);
  fillFromState(new Float32Array(0), { kind: "zeros" }, st, skip);
  return st;
}

/**
 * The generator run on `st` (xoshiro128** state words, advanced in place): `skip` words
 * stepped over, then `out` filled (uniform or normal, as initTensor). Each nextU32 below is
 * the module header's step 4 on local copies of the words.
 */
function fillFromState(out: Float32Array, init: Init, st: Uint32Array, skip: number): Float32Array {
  let s0 = st[0]! | 0;
  let s1 = st[1]! | 0;
  let s2 = st[2]! | 0;
  let s3 = st[3]! | 0;
  for (let i = 0; i < skip; i++) {
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
  }
  const n = out.length;
  if (init.kind === "uniform") {
    const bound = init.bound;
    for (let i = 0; i < n; i++) {
      const m = Math.imul(s1, 5);
      const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = bound * (2 * (r / 4294967296) - 1);
    }
  } else if (init.kind === "normal") {
    const std = init.std;
    for (let i = 0; i < n; i += 2) {
      let m = Math.imul(s1, 5);
      const a = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      let t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      m = Math.imul(s1, 5);
      const b = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      // Box–Muller as normal() computes it: cos on even calls, the kept sin on odd ones.
      const r = Math.sqrt(-2 * Math.log(1 - a / 4294967296));
      const th = 2 * Math.PI * (b / 4294967296);
      out[i] = std * (r * Math.cos(th));
      if (i + 1 < n) out[i + 1] = std * (r * Math.sin(th));
    }
  }
  st[0] = s0;
  st[1] = s1;
  st[2] = s2;
  st[3] = s3;
  return out;
}

/**
 * Only rows `rows` (ascending, each in [0, out.length / width)) of a [n, width] tensor
 * seeded as `fillSeeded` would fill it; other rows are left as they are. Between rows the
 * generator only steps (no float work), so rows of a 30522-row embedding table cost one
 * pass of ~23 M steps instead of 23 M Box–Muller values. `width` must be even for normal.
 */
export function fillSeededRows(out: Float32Array, init: Init, seed: number, path: string, width: number, rows: readonly number[]): Float32Array {
  if (init.kind === "zeros" || init.kind === "ones") return fillSeeded(out, init, seed, path);
  if (init.kind === "normal" && width % 2 !== 0) throw new RangeError(`fillSeededRows: normal rows of odd width ${width} split Box–Muller pairs`);
  const st = initialState(seed, path);
  let at = 0; // words consumed so far = elements before the current position
  for (const r of rows) {
    if (!Number.isInteger(r) || r * width < at || (r + 1) * width > out.length) throw new RangeError(`fillSeededRows: row ${r} is out of order or out of range`);
    fillFromState(out.subarray(r * width, (r + 1) * width), init, st, r * width - at);
    at = (r + 1) * width;
  }
  return out;
}

/**
 * The source of `fillSeeded` and what it calls, as plain JavaScript defining `fillSeeded`:
 * the body of a thread that fills pieces of tensors (runtime/seed-threads.ts), so the thread
 * runs this very code rather than a copy of it.
 */
export function fillSeededSource(): string {
  return `${fnv1a32.toString()}\n${fmix32.toString()}\n${initialState.toString()}\n${fillFromState.toString()}\nconst fillSeeded = ${fillSeeded.toString()};\n`;
}
