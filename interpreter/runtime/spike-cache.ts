/**
 * One key/value cache of incremental decoding: everything a `cache_concat` node
 * (passes/incremental.ts) has seen so far, appended along its sequence axis call after call.
 *
 * The storage is what generation reports, measured, not computed from a formula:
 * - a spike operand is held as one int8 code per element: the level itself for a `levels`
 *   operand (what the lowering feeds a matmul: the amplitude is factored out and applied to
 *   the matmul's result, so it is not needed here), or level × a per-step amplitude for a
 *   `scaled` operand, with that amplitude held once per time step as float32;
 * - any other operand is held as float32.
 *
 * Decoding is exact: every value read back has the float32 bits that were appended, so
 * cached and uncached generation give identical logits. Code -128 (never a spike level)
 * stands for -0, which a zero level can carry (alpha · round(-0.3) = -0). An appended segment
 * that is not exactly codes × amplitude (NaN, ±Infinity, a non-integer or out-of-range
 * level, an amplitude that changed between calls) turns the whole cache into float32 from
 * then on: still exact, and the byte count says so.
 */
import { type F32Tensor, type Tensor, f32, numel } from "../engine/tensor.js";

/** What the cached operand holds, from its value set: spike levels, levels × a per-step amplitude, or reals. */
export type CacheValues = "levels" | "scaled" | "real";

/** The int8 code of -0 (a level is at most 127 in magnitude). */
const NEG_ZERO = -128;
/** An amplitude not yet known (its step has held only zeros so far). */
const UNKNOWN = Number.NaN;

/** What generation reports about a cache, on either executor (runtime/planned-cache.ts). */
export interface CacheContents {
  /** Positions held along the sequence axis. */
  readonly length: number;
  /** The typed arrays holding the contents. */
  arrays(): readonly (Int8Array | Float32Array)[];
  /** Bytes of the contents: the sum of `arrays()`' byte lengths. */
  readonly bytes: number;
  /** Bytes the same contents take as float32. */
  readonly float32Bytes: number;
  readonly storage: "int8 levels" | "int8 levels + amplitudes" | "float32" | "empty";
}

export class SpikeCache implements CacheContents {
  private codes: Int8Array | undefined;
  /** Per time step (`scaled` only). */
  private amplitudes: Float32Array | undefined;
  private floats: Float32Array | undefined;
  private shape: number[] | undefined;

  /**
   * @param values what the operand holds (its value set's kind)
   * @param axis the sequence axis, counted from the right (-1 = last)
   * @param timed whether the leading axis is time (one amplitude per step along it)
   */
  constructor(
    readonly values: CacheValues,
    readonly axis: number,
    readonly timed: boolean,
  ) {}

  /** Appends this call's values and returns everything so far as float32 (a fresh array, not kept). */
  append(x: Tensor): F32Tensor {
    if (x.dtype !== "f32") throw new Error(`internal: a cached operand must be f32, found ${x.dtype}`);
    const data = x.data as Float32Array;
    const steps = this.timed ? x.shape[0]! : 1;
    if (this.shape === undefined) {
      this.shape = [...x.shape];
      if (this.values === "real") this.floats = Float32Array.from(data);
      else {
        const amps = this.values === "scaled" ? new Float32Array(steps).fill(UNKNOWN) : undefined;
        this.codes = encode(data, steps, amps);
        if (this.codes) this.amplitudes = amps;
        else this.floats = Float32Array.from(data);
      }
      return this.read();
    }
    const ax = this.shape.length + this.axis;
    if (x.shape.length !== this.shape.length || x.shape.some((d, i) => i !== ax && d !== this.shape![i]))
      throw new Error(`internal: cache of shape [${this.shape.join(", ")}] cannot take [${x.shape.join(", ")}] along axis ${this.axis}`);
    const shape = this.shape.map((d, i) => (i === ax ? d + x.shape[ax]! : d));
    if (this.codes) {
      const amps = this.amplitudes ? Float32Array.from(this.amplitudes) : undefined;
      const more = encode(data, steps, amps);
      if (more) {
        this.codes = concatAlong(this.codes, this.shape, more, x.shape, ax, Int8Array);
        this.amplitudes = amps;
      } else {
        this.floats = decode(this.codes, steps, this.amplitudes);
        this.codes = undefined;
        this.amplitudes = undefined;
      }
    }
    if (this.floats) this.floats = concatAlong(this.floats, this.shape, data, x.shape, ax, Float32Array);
    this.shape = shape;
    return this.read();
  }

  /** Everything so far, decoded to float32 (a fresh array). */
  read(): F32Tensor {
    if (!this.shape) throw new Error("internal: an empty cache has no shape");
    const steps = this.timed ? this.shape[0]! : 1;
    return f32(this.shape, this.codes ? decode(this.codes, steps, this.amplitudes) : Float32Array.from(this.floats!));
  }

  /** Positions held along the sequence axis. */
  get length(): number {
    return this.shape ? this.shape[this.shape.length + this.axis]! : 0;
  }

  /** The typed arrays the cache holds between calls (nothing else is kept). */
  arrays(): readonly (Int8Array | Float32Array)[] {
    return [this.codes, this.amplitudes, this.floats].filter((a) => a !== undefined);
  }

  /** Bytes held: the sum of `arrays()`' byte lengths. */
  get bytes(): number {
    return this.arrays().reduce((s, a) => s + a.byteLength, 0);
  }

  /** Bytes the same contents take as float32. */
  get float32Bytes(): number {
    return this.shape ? numel(this.shape) * 4 : 0;
  }

  /** How the contents are held now. */
  get storage(): "int8 levels" | "int8 levels + amplitudes" | "float32" | "empty" {
    return !this.shape ? "empty" : this.floats ? "float32" : this.amplitudes ? "int8 levels + amplitudes" : "int8 levels";
  }
}

/**
 * int8 codes for `x` with one amplitude per step (`amps`, updated in place for steps seen
 * for the first time; undefined = amplitude 1), or undefined when some element is not
 * exactly code × amplitude in float32.
 */
function encode(x: Float32Array, steps: number, amps: Float32Array | undefined): Int8Array | undefined {
  const out = new Int8Array(x.length);
  const per = x.length / steps;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v === 0) {
      out[i] = Object.is(v, -0) ? NEG_ZERO : 0;
      continue;
    }
    let a = 1;
    if (amps) {
      const t = Math.floor(i / per);
      if (Number.isNaN(amps[t]!)) amps[t] = Math.abs(v);
      a = amps[t]!;
    }
    const level = v / a;
    if (!Number.isInteger(level) || Math.abs(level) > 127 || Math.fround(level * a) !== v) return undefined;
    out[i] = level;
  }
  return out;
}

/** The float32 values of int8 codes: -128 → -0, 0 → +0, else code × the step's amplitude. */
function decode(codes: Int8Array, steps: number, amps: Float32Array | undefined): Float32Array {
  const out = new Float32Array(codes.length);
  const per = codes.length / steps;
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    out[i] = c === NEG_ZERO ? -0 : c === 0 ? 0 : amps ? Math.fround(c * amps[Math.floor(i / per)]!) : c;
  }
  return out;
}

type Typed = Int8Array | Float32Array;

/** Row-major `a` (shape `as`) and `b` (shape `bs`) joined along axis `ax` (all other axes equal). */
function concatAlong<A extends Typed>(a: A, as: readonly number[], b: A, bs: readonly number[], ax: number, Ctor: new (n: number) => A): A {
  const outer = numel(as.slice(0, ax));
  const aBlock = numel(as.slice(ax));
  const bBlock = numel(bs.slice(ax));
  const out = new Ctor(a.length + b.length);
  for (let o = 0; o < outer; o++) {
    out.set(a.subarray(o * aBlock, (o + 1) * aBlock), o * (aBlock + bBlock));
    out.set(b.subarray(o * bBlock, (o + 1) * bBlock), o * (aBlock + bBlock) + aBlock);
  }
  return out;
}
