/**
 * The native kernels: `native/*.c`, one Node-API addon using AVX-512, compiled with the
 * system's C compiler on first use (platform.loadNativeAddon) and kept in
 * node_modules/.cache/spikelm/. The spike accumulate (`spike_native.c`) runs the same
 * `SpikeOp` as the WebAssembly backend, with the same bits (see the C file's header); the
 * other files hold attention's dense-times-levels products, the vector machine, GELU /
 * softmax / LayerNorm and the layout copies, each with the reference's bits. They run on the
 * caller's thread and threads of their own, reading the typed arrays in place (no copy into
 * a kernel memory).
 *
 * Why native code at all: WebAssembly's SIMD is 128 bits wide, while the CPUs people run
 * BERT-sized layers on have 512-bit vectors; the accumulate is the block's largest cost.
 * Where there is no addon (a browser, no compiler, a CPU without AVX-512, `SPIKELM_NATIVE=0`)
 * the WebAssembly kernels run instead; `nativeStatus()` says which and why.
 */
import { platform } from "#platform";
import type { SpikeOp } from "./wasm-backend.js";

interface NativeExports {
  spikeOp(
    S: Int8Array, R: number, K: number, srs: number, scs: number,
    W: Float32Array, C: number, wrs: number, wcs: number,
    out: Float32Array, ors: number, ocs: number, scale: Float32Array | null, threads: number,
    n: number, sStride: number, wStride: number, oStride: number, wPacked: boolean,
  ): boolean;
  /** spikeOp with the product's epilogue in its store: fround(fround(scale*sum) + bias[c]) then + residual (laid out as out). One contraction. */
  spikeOpAffine(
    S: Int8Array, R: number, K: number, srs: number, scs: number,
    W: Float32Array, C: number, wrs: number, wcs: number,
    out: Float32Array, ors: number, ocs: number, scale: Float32Array | null, threads: number,
    n: number, sStride: number, wStride: number, oStride: number, wPacked: boolean,
    bias: Float32Array, residual: Float32Array | null,
  ): boolean;
  pack(W: Float32Array, K: number, C: number, wrs: number, wcs: number, dst: Float32Array): void;
  available(): boolean;
  readonly tileWidth: number;
  denseTimesLevels(
    A: Float32Array, M: number, K: number, ars: number, acs: number, aStride: number,
    S: Int8Array, N: number, sks: number, sns: number, sStride: number,
    out: Float32Array, ors: number, ocs: number, oStride: number, n: number, threads: number,
  ): boolean;
  gather(x: Float32Array, tab: Int32Array, n: number, out: Float32Array): void;
  /** copy_native.c: bytes from the start of `buffer`'s data to its first 64-byte boundary. */
  lineOffset(buffer: ArrayBuffer): number;
  stridedCopy<T extends Float32Array | Int8Array | Int32Array>(x: T, offset: number, shape: readonly number[], strides: readonly number[], out: T): void;
  vecRun(
    prog: Int32Array, nIns: number, regs: number, scalars: number,
    inputs: readonly Float32Array[], states: readonly Float32Array[], params: readonly Float32Array[], table: Float32Array,
    levels: Int8Array | Float32Array | null, value: Float32Array | null, n: number, t0: number, t1: number, threads: number,
  ): void;
  /** float_native.c: out[i] = gelu(x[i]); softmax and LayerNorm over rows (out may be x). */
  gelu(x: Float32Array, out: Float32Array, threads: number, scale?: Float32Array, bias?: Float32Array): void;
  softmax(x: Float32Array, n: number, out: Float32Array, threads: number): void;
  /** softmax of fround(fround(fround(scale[r / rowsPerScale] * x) / divisor) + mask[(r % maskRows) * n + i]) per row r. */
  softmaxPrologue(x: Float32Array, n: number, out: Float32Array, threads: number, scale: Float32Array, rowsPerScale: number, divisor: number, mask: Float32Array, maskRows: number): void;
  layernorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number, d: number, out: Float32Array, threads: number): void;
}

type AlignedKind = "f32" | "i32" | "i8";
type AlignedArray<K extends AlignedKind> = K extends "f32" ? Float32Array : K extends "i32" ? Int32Array : Int8Array;

/**
 * A zeroed typed array of n elements whose data starts on a 64-byte boundary (a cache line,
 * one AVX-512 vector) when the addon is loaded: a view into a buffer 64 bytes longer. V8
 * aligns backing stores to 16 bytes only, and the native kernels' 64-byte loads from a
 * misaligned array touch two lines each (the spike accumulate from a misaligned packed weight
 * ran at half speed). Without the addon a plain array (nothing reads it 64 bytes at a time).
 */
export function alignedArray<K extends AlignedKind>(kind: K, n: number): AlignedArray<K> {
  const ctor = kind === "f32" ? Float32Array : kind === "i32" ? Int32Array : Int8Array;
  if (!addon) return new ctor(n) as AlignedArray<K>;
  const buffer = new ArrayBuffer(n * ctor.BYTES_PER_ELEMENT + 64);
  return new ctor(buffer, addon.lineOffset(buffer), n) as AlignedArray<K>;
}

/** The native addon's exports, or null when it is not loaded or turned off (startNative() loads it). */
export function nativeAddon(): NativeExports | null {
  return enabled ? addon : null;
}

/** The addon's C files (in native/), compiled together into one module, and the header they share (hashed into the cache key). */
const NATIVE_SOURCES = ["spike_native.c", "vec_native.c", "float_native.c", "levels_native.c", "copy_native.c", "napi_args.c", "parallel.c", "napi_args.h", "parallel.h"];

let addon: NativeExports | null = null;
let tried = false;
let why = "";

let enabled = true;

/**
 * Turns the native kernels off (false) or back on for this process: every "auto" choice
 * then takes the WebAssembly/JavaScript kernels. For side-by-side measurements (the layers
 * bench's `spikelm wasm kernels` row); `SPIKELM_NATIVE=0` does the same from the start.
 */
export function setNativeEnabled(on: boolean): void {
  enabled = on;
}

/** Loads (building it if needed) the native addon once; whether it is usable (and enabled). */
export function startNative(): boolean {
  if (!enabled) return false;
  if (tried) return addon !== null;
  tried = true;
  const env = typeof process === "object" ? process.env?.SPIKELM_NATIVE : undefined;
  if (env === "0") {
    why = "turned off (SPIKELM_NATIVE=0)";
    return false;
  }
  const dir = platform.path.join(platform.repoRoot, "interpreter", "engine", "kernels", "native");
  const sources = NATIVE_SOURCES.map((f) => platform.path.join(dir, f));
  const cacheDir = platform.path.join(platform.repoRoot, "node_modules", ".cache", "spikelm");
  const got = platform.loadNativeAddon("spikelm-native", sources, cacheDir);
  if ("error" in got) {
    why = got.error;
    return false;
  }
  const ex = got.exports as NativeExports;
  if (!ex.available()) {
    why = "this CPU has no AVX-512 (avx512f, avx512bw)";
    return false;
  }
  addon = ex;
  return true;
}

/** Whether the native backend has been loaded (does not try to load it). */
export function nativeReady(): boolean {
  return enabled && addon !== null;
}

/** The native kernels (AVX-512) are in use, or why the WebAssembly kernels run instead. */
export function nativeStatus(): { readonly ready: boolean; readonly reason: string } {
  startNative();
  if (!enabled) return { ready: false, reason: "turned off in this process (setNativeEnabled(false))" };
  return addon ? { ready: true, reason: "native spike-accumulate kernels (AVX-512)" } : { ready: false, reason: why };
}

interface PackedWeight {
  K: number;
  C: number;
  wrs: number;
  wcs: number;
  length: number;
  packed: Float32Array | null;
  /**
   * False after releaseNativePacked(W): the contents are stale, the buffer is kept and
   * packed again in place on W's next use, so a training step (the optimizer changes every
   * weight in place, then releases it) allocates nothing. It is freed with W, or by the LRU.
   */
  current: boolean;
  lastUse: number;
}

/** Packed forms of cached weights, keyed by the weight array (freed with it). */
const packedCache = new WeakMap<Float32Array, PackedWeight>();
const live = new Set<PackedWeight>();
let liveBytes = 0;
let clock = 0;
/** Bytes the packed forms of cached weights may hold (least recently used dropped beyond it). */
let cacheLimit = 1024 * 1024 * 1024;

export function setNativePackedLimit(bytes: number): void {
  cacheLimit = bytes;
}

/** Bytes now held by packed forms of cached weights (tests, diagnostics). */
export function nativePackedBytes(): number {
  return liveBytes;
}

function drop(e: PackedWeight): void {
  if (!live.delete(e)) return;
  liveBytes -= e.packed?.buffer.byteLength ?? 0;
  e.packed = null;
}

/** Forget the packed contents of `W` (after mutating a weight used with cacheWeights); its buffer is reused by W's next packing. */
export function releaseNativePacked(W: Float32Array): void {
  const e = packedCache.get(W);
  if (e) e.current = false;
}

function packedLength(K: number, C: number, tw: number): number {
  return Math.ceil(C / tw) * K * tw;
}

/** The packed form of a cached weight: made once, or null when the cache may not hold it. */
function packedFor(a: NativeExports, op: SpikeOp): Float32Array | null {
  const { K, C, wrs, wcs } = op;
  const length = packedLength(K, C, a.tileWidth);
  let e = packedCache.get(op.weight);
  if (e && e.packed && e.K === K && e.C === C && e.wrs === wrs && e.wcs === wcs && e.length === op.weight.length) {
    e.lastUse = ++clock;
    if (!e.current) a.pack(op.weight, K, C, wrs, wcs, e.packed);
    e.current = true;
    return e.packed;
  }
  if (e) drop(e);
  const bytes = length * 4;
  if (bytes > cacheLimit) return null;
  // least recently used first, until the new one fits
  if (liveBytes + bytes > cacheLimit) {
    for (const old of [...live].sort((x, y) => x.lastUse - y.lastUse)) {
      drop(old);
      if (liveBytes + bytes <= cacheLimit) break;
    }
  }
  const packed = alignedArray("f32", length);
  a.pack(op.weight, K, C, wrs, wcs, packed);
  e = { K, C, wrs, wcs, length: op.weight.length, packed, current: true, lastUse: ++clock };
  packedCache.set(op.weight, e);
  live.add(e);
  liveBytes += packed.buffer.byteLength; // the bytes held, alignment slack included
  return packed;
}

/**
 * Run a SpikeOp on the native backend (startNative() must have returned true). False, with
 * nothing written, when the spikes hold a NaN level (NAN_LEVEL): the caller's general path
 * then runs (it removes them and poisons their edges).
 */
export function runSpikeOpNative(op: SpikeOp): boolean {
  const a = addon;
  if (!a) throw new Error("spike kernels: native backend not loaded");
  if (op.R === 0 || op.C === 0) return true;
  const b = op.batch;
  const packed = op.cacheWeights && !b ? packedFor(a, op) : null;
  return a.spikeOp(
    op.spike, op.R, op.K, op.srs, op.scs,
    packed ?? op.weight, op.C, op.wrs, op.wcs,
    op.out, op.ors, op.ocs, op.scale ?? null, Math.max(1, op.threads),
    b?.n ?? 1, b?.sStride ?? 0, b?.wStride ?? 0, b?.oStride ?? 0, packed !== null,
  );
}

/**
 * A SpikeOp (one contraction, not batched) with its epilogue on the native kernel:
 * out = fround(fround(scale[r] * sum) + bias[c]), then + residual[r, c] when given (laid out
 * as out). False, with nothing written, on a NaN level, as runSpikeOpNative.
 */
export function runSpikeOpAffineNative(op: SpikeOp, bias: Float32Array, residual: Float32Array | null): boolean {
  const a = addon;
  if (!a) throw new Error("spike kernels: native backend not loaded");
  if (op.batch) throw new Error("spike kernels: the affine epilogue takes one contraction");
  if (op.R === 0 || op.C === 0) return true;
  const packed = op.cacheWeights ? packedFor(a, op) : null;
  return a.spikeOpAffine(
    op.spike, op.R, op.K, op.srs, op.scs,
    packed ?? op.weight, op.C, op.wrs, op.wcs,
    op.out, op.ors, op.ocs, op.scale ?? null, Math.max(1, op.threads),
    1, 0, 0, 0, packed !== null, bias, residual,
  );
}

/** A dense-times-levels product's operands in the kernel's terms (levels_native.c). */
export interface LevelsProduct {
  readonly A: Float32Array;
  readonly M: number;
  readonly K: number;
  readonly ars: number;
  readonly acs: number;
  readonly aStride: number;
  readonly S: Int8Array;
  readonly N: number;
  readonly sks: number;
  readonly sns: number;
  readonly sStride: number;
  readonly out: Float32Array;
  readonly ors: number;
  readonly ocs: number;
  readonly oStride: number;
  readonly n: number;
}

/**
 * `n` products out = A @ S (S ternary levels) on the native dense kernel; false when the
 * addon is not loaded or an operand is not finite / a level is NaN (the caller then runs
 * its general path, which knows those edges; `out` is then undefined).
 */
export function denseTimesLevelsNative(p: LevelsProduct, threads: number): boolean {
  const a = addon;
  if (!a) return false;
  return a.denseTimesLevels(p.A, p.M, p.K, p.ars, p.acs, p.aStride, p.S, p.N, p.sks, p.sns, p.sStride, p.out, p.ors, p.ocs, p.oStride, p.n, Math.max(1, threads));
}

/** out[i] = x[tab[i]] for i < n on the native addon (copy_native.c); false when it is not loaded. */
export function gatherNative(x: Float32Array, tab: Int32Array, n: number, out: Float32Array): boolean {
  const a = nativeAddon();
  if (!a) return false;
  a.gather(x, tab, n, out);
  return true;
}
