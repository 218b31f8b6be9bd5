/**
 * GELU, softmax and LayerNorm rows on the native addon (native/float_native.c, AVX-512): the
 * same float32 bits as engine/numerics.ts gelu and engine/ops/nn.ts softmax and layernorm
 * (the C file's header says how), read and written in place in the caller's typed arrays.
 * GELU and softmax's exps take a fast path (no divisions) that gives the exact kernels' float32
 * bits or leaves the element to them; test/engine.native-float-exhaustive.test.ts checks that
 * on every float32 input (nativeFloatMap runs either path alone).
 *
 * Each function returns false, doing nothing, when the native backend is not available
 * (startNative(): no compiler, no AVX-512, SPIKELM_NATIVE=0, ...): callers then run the
 * WebAssembly or JavaScript kernels.
 */
import { nativeAddon, startNative } from "./native-backend.js";

/** float_native.c's test and diagnostic entry points (not in native-backend.ts's list of the kernels). */
interface FloatFastExports {
  floatMap(kind: FloatMapKind, x: Float32Array, out: Float32Array, threads: number): void;
  floatFastStats(): [number, number, number, number];
}

function fastAddon(): (NonNullable<ReturnType<typeof nativeAddon>> & FloatFastExports) | null {
  return startNative() ? (nativeAddon() as (NonNullable<ReturnType<typeof nativeAddon>> & FloatFastExports) | null) : null;
}

/**
 * Elements below which one thread runs: starting a pthread costs tens of microseconds, about
 * what GELU takes for 2^13 elements, softmax for 2^14.
 */
export const NATIVE_FLOAT_THREAD_MIN = { gelu: 1 << 15, softmax: 1 << 15, layernorm: 1 << 16 };

const tuning = { ...NATIVE_FLOAT_THREAD_MIN };
/** Tests lower the thresholds so that small inputs run split over threads too. */
export function setNativeFloatThreadMin(t: Partial<typeof NATIVE_FLOAT_THREAD_MIN>): void {
  Object.assign(tuning, NATIVE_FLOAT_THREAD_MIN, t);
}

/** Calls that ran on the native kernels since the process started (tests, diagnostics). */
export const nativeFloatCalls = { gelu: 0, geluAffine: 0, softmax: 0, softmaxPrologue: 0, layernorm: 0 };

/** Whether the native float kernels can run (loads the addon on first call). */
export function nativeFloatReady(): boolean {
  return startNative();
}

/** The kernels take Float32Arrays only (an executor's view may be another typed array). */
function isF32(...xs: unknown[]): boolean {
  return xs.every((x) => x instanceof Float32Array);
}

/** Whether x and out share memory without being the same elements. */
function partlyOverlap(x: Float32Array, out: Float32Array): boolean {
  if (x.buffer !== out.buffer || x.byteOffset === out.byteOffset) return false;
  return x.byteOffset < out.byteOffset + out.byteLength && out.byteOffset < x.byteOffset + x.byteLength;
}

function threadsFor(work: number, min: number, threads: number): number {
  return work < min ? 1 : Math.max(1, Math.floor(threads));
}

/**
 * out[i] = gelu(x[i]) (engine/numerics.ts gelu) for i < x.length. `out` may be `x`; false
 * also when it is shorter or partly overlaps x (the caller's kernels handle those).
 */
export function nativeGeluInto(x: Float32Array, out: Float32Array, threads = 1): boolean {
  const a = startNative() ? nativeAddon() : null;
  if (!a || !isF32(x, out) || out.length < x.length || partlyOverlap(x, out)) return false;
  a.gelu(x, out, threadsFor(x.length, tuning.gelu, threads));
  nativeFloatCalls.gelu++;
  return true;
}

/**
 * out[i] = gelu(fround(fround(scale[i / (x.length / scale.length)] * x[i]) + bias[i % bias.length]))
 * (the optimized executor's fused `mul, add, gelu` of a spiking layer's output, in one pass):
 * x.length a multiple of scale's and bias's lengths, `out` may be `x`; false when those do
 * not hold or out partly overlaps x.
 */
export function nativeGeluAffineInto(x: Float32Array, scale: Float32Array, bias: Float32Array, out: Float32Array, threads = 1): boolean {
  const a = startNative() ? nativeAddon() : null;
  const n = x.length;
  if (!a || !isF32(x, out, scale, bias) || out.length < n || partlyOverlap(x, out) || scale.length === 0 || bias.length === 0 || n % scale.length !== 0 || n % bias.length !== 0) return false;
  a.gelu(x, out, threadsFor(n, tuning.gelu, threads), scale, bias);
  nativeFloatCalls.geluAffine++;
  return true;
}

/**
 * engine/ops/nn.ts softmax over rows of n, into `out` (may be `x`); false also when x.length is
 * not a multiple of n, out is shorter or partly overlaps x.
 */
export function nativeSoftmaxInto(x: Float32Array, n: number, out: Float32Array, threads = 1): boolean {
  const a = startNative() ? nativeAddon() : null;
  if (!a || !isF32(x, out) || out.length < x.length || (n > 0 && x.length % n !== 0) || partlyOverlap(x, out)) return false;
  if (n === 0 || x.length === 0) return true;
  a.softmax(x, n, out, threadsFor(x.length, tuning.softmax, threads));
  nativeFloatCalls.softmax++;
  return true;
}

/** The attention scores' program before softmax: y = fround(fround(fround(scale * x) / divisor) + mask), see softmaxPrologueInto. */
export interface SoftmaxPrologue {
  /** One value per `rowsPerScale` rows (a time step's rows). */
  readonly scale: Float32Array;
  readonly rowsPerScale: number;
  /** A float32 value. */
  readonly divisor: number;
  /** `maskRows` rows of n, row r reading mask row r % maskRows. */
  readonly mask: Float32Array;
  readonly maskRows: number;
}

/**
 * Softmax over rows of n of the program's output y (rows r: y_i = fround(fround(fround(scale[r /
 * rowsPerScale] * x_i) / divisor) + mask[(r % maskRows) * n + i]), each step the float32
 * operation the elementwise program would run), into `out` (may be `x`): the program and the
 * softmax in one pass. False when the native kernels are not available or the operands do not
 * fit (then nothing is written).
 */
export function nativeSoftmaxPrologueInto(x: Float32Array, n: number, out: Float32Array, threads: number, p: SoftmaxPrologue): boolean {
  const a = startNative() ? nativeAddon() : null;
  if (!a || !isF32(x, out, p.scale, p.mask) || out.length < x.length || n <= 0 || x.length % n !== 0 || partlyOverlap(x, out)) return false;
  const rows = x.length / n;
  if (!(p.rowsPerScale >= 1) || Math.ceil(rows / p.rowsPerScale) > p.scale.length || !(p.maskRows >= 1) || p.maskRows > rows || p.maskRows * n > p.mask.length) return false;
  if (overlaps(out, p.scale) || overlaps(out, p.mask)) return false;
  a.softmaxPrologue(x, n, out, threadsFor(x.length, tuning.softmax, threads), p.scale, p.rowsPerScale, p.divisor, p.mask, p.maskRows);
  nativeFloatCalls.softmaxPrologue++;
  return true;
}

function overlaps(x: Float32Array, y: Float32Array): boolean {
  return x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
}

/**
 * engine/ops/nn.ts layernorm over rows of d, into `out` (may be `x`); false also when x.length
 * is not a multiple of d, gamma or beta is shorter than d, out is shorter or partly overlaps x.
 */
export function nativeLayernormInto(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number, d: number, out: Float32Array, threads = 1): boolean {
  const a = startNative() ? nativeAddon() : null;
  if (!a || !isF32(x, gamma, beta, out) || out.length < x.length || (d > 0 && x.length % d !== 0) || gamma.length < d || beta.length < d || d >= 2 ** 24 || partlyOverlap(x, out)) return false;
  if (d === 0 || x.length === 0) return true;
  a.layernorm(x, gamma, beta, eps, d, out, threadsFor(x.length, tuning.layernorm, threads));
  nativeFloatCalls.layernorm++;
  return true;
}

/**
 * An elementwise function of the float kernels on every element of x, into out (may be x):
 * "gelu" is what gelu runs (its fast path, with the exact kernel for the lanes it is unsure
 * of), "geluExact" the exact kernel alone; "exp" and "expExact" the same for softmax's
 * fround(exp(w)), w <= 0 or NaN (other inputs: unspecified). For the tests that compare the
 * fast paths with the exact kernels on every float32; false when the addon is unavailable.
 */
export type FloatMapKind = "gelu" | "geluExact" | "exp" | "expExact";
export function nativeFloatMap(kind: FloatMapKind, x: Float32Array, out: Float32Array, threads = 1): boolean {
  const a = fastAddon();
  if (!a || !isF32(x, out) || out.length < x.length || partlyOverlap(x, out)) return false;
  a.floatMap(kind, x, out, Math.max(1, Math.floor(threads)));
  return true;
}

/**
 * How many elements the fast GELU and softmax exp paths have seen since the addon loaded, and
 * how many of them they left to the exact kernels (unsure of the rounding, or outside the fast
 * range); null without the addon.
 */
export function nativeFloatFastStats(): { gelu: { elements: number; setAside: number }; exp: { elements: number; setAside: number } } | null {
  const a = fastAddon();
  if (!a) return null;
  const [ge, ga, ee, ea] = a.floatFastStats();
  return { gelu: { elements: ge, setAside: ga }, exp: { elements: ee, setAside: ea } };
}
