/**
 * Spike matmul kernels — public API.
 *
 * A ternary spike matrix S has levels in {-1, 0, +1} (Int8Array, row-major). The meaning of
 * `S @ W` (S [M,K], W [K,N] float32 row-major) is, bit for bit, the sequential float32 loop
 *
 *     acc = +0;  for k = 0..K-1 ascending:  acc = f32(acc + f32(S[i,k] * W[k,j]));  out[i,j] = acc
 *
 * For finite W every term is exactly ±W[k,j] or ±0, and adding ±0 to an accumulator that
 * started at +0 is the identity (such an accumulator can never be -0), so all variants here —
 * event lists, SIMD lanes over j, column tiles, rows split over threads — reproduce those
 * bits exactly. k is never split (no partial sums).
 *
 * Non-finite operands keep the same meaning, the reference loop on float levels, which is
 * what PyTorch's `levels @ W` gives: a zero spike times an infinite or NaN weight is NaN, and
 * a NaN level (stored as NAN_LEVEL, see ../levels.ts) makes every output it meets NaN. The
 * fast variants skip zero spikes and know no NaN level, so each entry point first checks its
 * operands (a byte search for NAN_LEVEL in S; a finiteness scan of the float operand, cached
 * per array for cached weights); if either finds something, the kernel runs on S with its
 * NaN levels as 0 and the outputs the reference would make NaN are then set to NaN
 * (`poisonEdges`), on every backend and thread count alike.
 *
 * Variants:
 *  - JS event-driven (spike-js.ts): per-row ascending event list, sign in the entry.
 *  - JS dense-ternary (spike-js.ts): walks the int8 row directly, no list.
 *  - WASM SIMD event-driven (wasm-kernel-wat.ts): f32x4 over output columns, 24-column
 *    tiles packed as [+W | -W] into an L2-resident per-thread scratch right before use, so
 *    the inner loop is load+add only.
 *  - WASM SIMD dense-ternary: same tiles, acc += W*f32(s) for every k.
 *  - Threads: the WASM variants share (column tile x row chunk) work items between the caller
 *    and worker_threads on the same shared wasm memory (wasm-backend.ts); k is never split.
 *
 * Choice (`backend`/`variant` "auto"), from measurements (tools/bench/calibrate.ts, recorded
 * in the constants below):
 *  - variant: event-driven at every firing rate — the dense-ternary form never won (see
 *    DENSE_MIN_RATE), so the threshold is +Infinity; `variant: "dense"` forces it.
 *  - backend: a cost model in nanoseconds, using the firing rate (nonzeros counted once, on a
 *    row sample for large S) — JS ≈ nnz*N*JS_NS_PER_ADD; WASM ≈ fixed call overhead + copying
 *    and packing W (skipped on a weight-cache hit) + nnz*N*WASM_NS_PER_ADD/threads. Tiny
 *    problems and single rows with uncached weights stay in JS; everything else goes WASM.
 *  - threads: the default (min(2, cores)) only when the estimated work exceeds THREAD_MIN_NS.
 * If WebAssembly is not ready yet, "auto" uses JS (and starts loading WASM in the background).
 */

import { BufferPool, defaultPool } from "./buffer-pool.js";
import { NAN_LEVEL } from "../levels.js";
import {
  denseTimesSpikeJS,
  denseTimesSpikeTJS,
  spikeMatmulDenseJS,
  spikeMatmulEventJS,
} from "./spike-js.js";
import {
  defaultThreads,
  kernelPoolError,
  poolThreads,
  releasePackedWeights as releasePackedWeightsWasm,
  runSpikeOpWasm,
  setPackedCacheLimit as setPackedCacheLimitWasm,
  shutdownKernelPool,
  startPool,
  startWasm,
  wasmReady,
  wasmStartError,
  type SpikeOp,
} from "./wasm-backend.js";
import { denseTimesLevelsNative, type LevelsProduct, nativeStatus, releaseNativePacked, runSpikeOpAffineNative, runSpikeOpNative, setNativePackedLimit, startNative } from "./native-backend.js";

export { BufferPool, defaultPool } from "./buffer-pool.js";
export { shutdownKernelPool, wasmMemoryBytes } from "./wasm-backend.js";
export { nativeStatus, nativePackedBytes } from "./native-backend.js";

/** Upper bound on the memory the kernels keep for packed cached weights, per backend (LRU beyond it). */
export function setPackedCacheLimit(bytes: number): void {
  setPackedCacheLimitWasm(bytes);
  setNativePackedLimit(bytes);
}

export type SpikeBackend = "js" | "wasm" | "native" | "auto";
export type SpikeVariant = "event" | "dense" | "auto";

export interface SpikeKernelOptions {
  /** "auto" (default): WASM when ready and worthwhile, else JS. "wasm" throws if not initialised. */
  backend?: SpikeBackend;
  /** "auto" (default) = event-driven (see header). */
  variant?: SpikeVariant;
  /** Total threads including the caller (WASM only). Default min(2, cores); 1 = no workers. */
  threads?: number;
  /** Scratch-buffer pool (default: the process-wide pool). */
  pool?: BufferPool;
  /** Known number of nonzero spikes (skips counting). */
  nnz?: number;
  /**
   * spikeMatmul only: keep W packed in wasm memory, keyed by the W array object, for reuse by
   * later calls. The caller promises not to mutate W (or calls releasePackedWeights(W)).
   */
  cacheWeights?: boolean;
  /**
   * spikeMatmul only: out[i, :] = f32(scale[floor(i / scaleBlock)] * (S @ W)[i, :]) — one
   * rounding after the exact-order sum, i.e. the same as scaling afterwards.
   */
  scale?: Float32Array;
  /** Rows per scale entry (default 1 = per-row scale; M = one scalar). */
  scaleBlock?: number;
  /**
   * denseTimesSpikeT / denseTimesSpike only: that many independent products, one after the
   * other in each operand and in out (attention: one per step and head); default 1. On the
   * WASM backend they run as one call, threads taking whole products.
   */
  batch?: number;
  /**
   * spikeMatmul only: how W is stored. "kn" (default): W [K,N] row-major. "nk": W [N,K]
   * row-major, i.e. the product is `S @ Wᵀ` (a linear layer's `x @ transpose(W)` on the
   * weight as declared): the kernels read it through strides, so no transposed copy is made.
   */
  weightLayout?: "kn" | "nk";
}

export interface SpikePlan {
  backend: "js" | "wasm" | "native";
  variant: "event" | "dense";
  threads: number;
  rate: number;
}

// ---- measured constants (reference machine: 2-core AMD EPYC VM, Node 20; from
// `node --import tsx tools/bench/calibrate.ts`, section (2)) ----
/** JS event-driven cost per accumulated float (fused 4-event form): measured 1.1 ns. */
export const JS_NS_PER_ADD = 1.1;
/** WASM SIMD event-driven cost per accumulated float, one thread: measured 0.070 ns. */
export const WASM_NS_PER_ADD = 0.07;
/** WASM cost per weight element of copying W in and packing it tile by tile: measured 0.48 ns. */
export const WASM_NS_PER_PACKED = 0.5;
/** WASM per-element cost of copying spikes in / results out and listing events. */
export const WASM_NS_PER_IO = 0.3;
/** WASM fixed per-call overhead: measured 11 µs. */
export const WASM_CALL_NS = 11_000;
/**
 * Below this estimated single-thread time the default thread count is 1. Using the pool is
 * cheap when a worker is awake (a job it has not picked up is cancelled and done by the
 * caller), but idle workers spin for WORKER_SPIN_MS after each job, burning a core.
 */
export const THREAD_MIN_NS = 150_000;
/**
 * Firing rate at or above which "auto" picks the dense-ternary variant: never. Section (1) of
 * calibrate.ts, event/dense time ratio by rate 0.05/0.2/0.4/0.6/0.8/1.0 —
 * JS (128x768x768): 0.31 0.35 0.48 0.63 0.80 1.01; WASM (512x768x3072): 0.07 0.18 0.37 0.58
 * 0.77 0.89. Dense-ternary does a multiply and an add per k and lane where the event form does
 * one add per nonzero, and listing the events is cheap, so even at rate 1 it only ties.
 */
export const DENSE_MIN_RATE = { js: Infinity, wasm: Infinity } as const;

/**
 * Native (AVX-512) event-driven cost per accumulated float, one thread: measured 0.046 ns
 * (512x768x3072 at rate 0.37 on packed weights, 20.6 ms; Xeon with AVX-512, 2.1 GHz).
 */
export const NATIVE_NS_PER_ADD = 0.046;
/** Native cost per weight element of packing uncached weights into tiles (per call). */
export const NATIVE_NS_PER_PACKED = 0.3;
/** Native fixed per-call overhead (argument checks, event lists' set-up). */
export const NATIVE_CALL_NS = 3_000;

/** Rows sampled to estimate the firing rate when S is large. */
const RATE_SAMPLE_ELEMS = 1 << 16;

/**
 * Start loading the WebAssembly backend and (if threads > 1) the worker pool; resolves when
 * ready. Safe to call repeatedly. Kernels work without it (JS until WASM is ready).
 */
export async function initSpikeKernels(opts: { threads?: number } = {}): Promise<{ wasm: boolean; threads: number }> {
  const ok = await startWasm();
  if (ok) await startPool(opts.threads ?? defaultThreads());
  return { wasm: ok, threads: poolThreads() };
}

/** Whether the WebAssembly backend is compiled and usable now. */
export function spikeWasmReady(): boolean {
  return wasmReady();
}

let backgroundStarted = false;
function kickBackground(threads: number): void {
  if (backgroundStarted) return;
  backgroundStarted = true;
  void startWasm()
    .then((ok) => (ok && threads > 1 && kernelPoolError() === null ? startPool(threads) : undefined))
    .catch(() => undefined);
}

/** Nonzero count of S (exact for small S; for large S estimated from an even row sample). */
function estimateNnz(S: Int8Array, rows: number, K: number, srs: number, scs: number): number {
  const total = rows * K;
  if (total === 0) return 0;
  const sampleRows = total <= RATE_SAMPLE_ELEMS ? rows : Math.max(1, Math.min(rows, Math.ceil(RATE_SAMPLE_ELEMS / K)));
  let nz = 0;
  for (let q = 0; q < sampleRows; q++) {
    const r = sampleRows === rows ? q : Math.floor((q * rows) / sampleRows);
    const b = r * srs;
    if (scs === 1) for (let k = 0; k < K; k++) nz += S[b + k] !== 0 ? 1 : 0;
    else for (let k = 0; k < K; k++) nz += S[b + k * scs] !== 0 ? 1 : 0;
  }
  return sampleRows === rows ? nz : Math.round((nz * rows) / sampleRows);
}

/** Nonzero count of S[0..n) (exact for small n; for large n estimated from an even sample). */
function estimateNnzFlat(S: Int8Array, n: number): number {
  if (n <= RATE_SAMPLE_ELEMS) {
    let nz = 0;
    for (let i = 0; i < n; i++) nz += S[i] !== 0 ? 1 : 0;
    return nz;
  }
  let nz = 0;
  for (let q = 0; q < RATE_SAMPLE_ELEMS; q++) nz += S[Math.floor((q * n) / RATE_SAMPLE_ELEMS)] !== 0 ? 1 : 0;
  return Math.round((nz * n) / RATE_SAMPLE_ELEMS);
}

/**
 * The plan "auto" would use for a contraction with `rows` spike rows, reduction K, `cols`
 * output columns and `nnz` nonzero spikes.
 */
export function chooseSpikePlan(
  rows: number,
  K: number,
  cols: number,
  nnz: number,
  opts: SpikeKernelOptions & { weightsCached?: boolean } = {},
): SpikePlan {
  const rate = rows * K > 0 ? nnz / (rows * K) : 0;
  const threadsWanted = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
  const adds = nnz * cols;
  let backend: "js" | "wasm" | "native";
  if (opts.backend === "js") backend = "js";
  else if (opts.backend === "wasm") backend = "wasm";
  else if (opts.backend === "native") backend = "native";
  else if (opts.variant !== "dense" && startNative()) {
    // the native kernel has only the event-driven form; JS only for work too small to call out for
    const jsNs = adds * JS_NS_PER_ADD + rows * K * 1;
    const packNs = opts.weightsCached ? 0 : K * cols * NATIVE_NS_PER_PACKED;
    backend = NATIVE_CALL_NS + packNs + adds * NATIVE_NS_PER_ADD < jsNs ? "native" : "js";
  } else if (!wasmReady()) backend = "js";
  else {
    const jsNs = adds * JS_NS_PER_ADD + rows * K * 1;
    const t = Math.min(threadsWanted, Math.max(1, poolThreads()));
    const packNs = opts.weightsCached ? 0 : (K * cols * WASM_NS_PER_PACKED) / t;
    const wasmNs = WASM_CALL_NS + packNs + (rows * K + rows * cols) * WASM_NS_PER_IO + (adds * WASM_NS_PER_ADD) / t;
    backend = wasmNs < jsNs ? "wasm" : "js";
  }
  let variant: "event" | "dense";
  if (opts.variant === "event" || opts.variant === "dense") variant = opts.variant;
  else variant = backend === "native" ? "event" : rate >= DENSE_MIN_RATE[backend] ? "dense" : "event";
  let threads = 1;
  if (backend === "native" && threadsWanted > 1) {
    const estNs = adds * NATIVE_NS_PER_ADD + (opts.weightsCached ? 0 : K * cols * NATIVE_NS_PER_PACKED);
    threads = opts.threads !== undefined || estNs >= THREAD_MIN_NS ? threadsWanted : 1;
  }
  if (backend === "wasm" && threadsWanted > 1) {
    const estNs = adds * WASM_NS_PER_ADD + (opts.weightsCached ? 0 : K * cols * WASM_NS_PER_PACKED);
    // an explicit thread count is honoured; the default only uses workers for big enough work
    threads = opts.threads !== undefined || estNs >= THREAD_MIN_NS ? threadsWanted : 1;
  }
  return { backend, variant, threads, rate };
}

function resolve(
  rows: number,
  K: number,
  cols: number,
  S: Int8Array,
  srs: number,
  scs: number,
  opts: SpikeKernelOptions,
  weightsCached: boolean,
): SpikePlan {
  const threads = opts.threads ?? defaultThreads();
  if ((opts.backend ?? "auto") === "auto") kickBackground(threads);
  if (opts.backend === "native" && !startNative()) {
    throw new Error(`spike kernels: backend "native" requested, but ${nativeStatus().reason}`);
  }
  if (opts.backend === "native" && opts.variant === "dense") throw new Error(`spike kernels: the native backend has no "dense" variant`);
  if (opts.backend === "wasm" && !wasmReady()) {
    throw new Error(`spike kernels: backend "wasm" requested before initSpikeKernels() resolved${wasmStartError() ? `: ${String(wasmStartError())}` : ""}`);
  }
  const nnz = opts.nnz ?? estimateNnz(S, rows, K, srs, scs);
  const plan = chooseSpikePlan(rows, K, cols, nnz, { ...opts, weightsCached });
  if (plan.backend === "wasm" && plan.threads > poolThreads() && kernelPoolError() === null) {
    // pool not (fully) started yet: start it for next time, run with what we have now
    // (a pool that failed to start is only retried by an explicit initSpikeKernels())
    void startPool(plan.threads).catch(() => undefined);
  }
  lastPlan = plan;
  spikeKernelCalls[plan.backend]++;
  return plan;
}

/** Kernel calls per backend since the process started (diagnostics: `spikelm classify --timings`, tests). */
export const spikeKernelCalls = { js: 0, wasm: 0, native: 0 };

let lastPlan: SpikePlan | null = null;
/** The plan used by the most recent kernel call (diagnostics / tests). */
export function lastSpikePlan(): SpikePlan | null {
  return lastPlan;
}

function checkSizes(name: string, pairs: [ArrayLike<number>, number, string][]): void {
  for (const [a, n, what] of pairs) {
    if (a.length < n) throw new RangeError(`${name}: ${what} has ${a.length} elements, needs ${n}`);
  }
}

function expandScale(scale: Float32Array, block: number, M: number, pool: BufferPool): Float32Array {
  if (block === 1 && scale.length >= M) return scale;
  const s = pool.f32("scale", M);
  for (let i = 0; i < M; i++) {
    const v = scale[Math.floor(i / block)];
    if (v === undefined) throw new RangeError("spikeMatmul: scale too short for M / scaleBlock");
    s[i] = v;
  }
  return s;
}

/** Flat indices of NaN levels in S[0..n) (a byte search; usually none). */
function nanLevelIndices(S: Int8Array, n: number): number[] {
  const view = n === S.length ? S : S.subarray(0, n);
  const at: number[] = [];
  for (let i = view.indexOf(NAN_LEVEL); i >= 0; i = view.indexOf(NAN_LEVEL, i + 1)) at.push(i);
  return at;
}

/** Flat indices of NaN and ±Infinity in X[0..n) (x - x is NaN exactly for those). */
function nonFiniteIndices(X: Float32Array, n: number): number[] {
  const at: number[] = [];
  for (let i = 0; i < n; i++) if (X[i]! - X[i]! !== 0) at.push(i);
  return at;
}

/** Non-finite entries of cached weights, per array object (cached weights are never mutated). */
const weightEdges = new WeakMap<Float32Array, number[]>();

/** Weight elements the kernels scanned for non-finite values since the process started (diagnostics, tests). */
export const weightScanStats = { arrays: 0, elements: 0 };

/**
 * Declares that `W` holds no NaN or ±Infinity (its owner made it so, or checked it) and, as
 * for any weight used with `cacheWeights`, that it does not change until
 * `releasePackedWeights(W)`: used with `cacheWeights`, it is then never scanned. The
 * parameter store declares the weights it creates (runtime/params.ts).
 */
export function declareFiniteWeights(W: Float32Array): void {
  weightEdges.set(W, []);
}

/** Whether `W` is known to hold no NaN or ±Infinity (declared, or scanned as a cached weight) and not released since. */
export function knownFinite(W: Float32Array): boolean {
  return weightEdges.get(W)?.length === 0;
}

/** Forget what was cached about W (packed copy, non-finite entries): W may change after this. */
export function releasePackedWeights(W: Float32Array): void {
  weightEdges.delete(W);
  releasePackedWeightsWasm(W);
  releaseNativePacked(W);
}

function weightNonFinite(W: Float32Array, n: number, cached: boolean): number[] {
  let at = cached ? weightEdges.get(W) : undefined;
  if (at === undefined) {
    at = nonFiniteIndices(W, n);
    weightScanStats.arrays++;
    weightScanStats.elements += n;
    if (cached) weightEdges.set(W, at);
  }
  return at;
}

/** S with its NaN levels as 0, for the fast kernels (which know only -1, 0 and 1). */
function withoutNanLevels(S: Int8Array, n: number, at: readonly number[], pool: BufferPool): Int8Array {
  const c = pool.i8("spikes-without-nan", n);
  c.set(n === S.length ? S : S.subarray(0, n));
  for (const p of at) c[p] = 0;
  return c;
}

/**
 * After a fast kernel ran on `withoutNanLevels(S)`, sets the outputs the reference loop makes
 * NaN and the kernels do not: every output of a spike row holding a NaN level (NaN * x is NaN
 * for every x), and every output where a zero level meets a non-finite float (0 * ±Infinity
 * and 0 * NaN are NaN; the kernels skip zero levels). Each other term is the kernels' own, in
 * the same order, and a NaN accumulator stays NaN, so the result is the reference's bits.
 * Spike row r against float column c, out at r*ors + c*ocs. `rowsContiguous`: S row r is S[r*K .. r*K+K) (else S is [K, R]
 * and row r is its column r); `floatRowsByK`: X is [K, C] (else X is [C, K]). Flat indices
 * are decoded from these shapes, not from the strides, which are ambiguous when a side is 1.
 */
function poisonEdges(
  S: Int8Array, R: number, K: number, rowsContiguous: boolean,
  C: number, floatRowsByK: boolean,
  out: Float32Array, ors: number, ocs: number,
  nanLevels: readonly number[], badFloats: readonly number[],
): void {
  const [srs, scs] = rowsContiguous ? [K, 1] : [1, R];
  for (const p of nanLevels) {
    const r = rowsContiguous ? Math.floor(p / K) : p % R;
    for (let c = 0; c < C; c++) out[r * ors + c * ocs] = Number.NaN;
  }
  for (const q of badFloats) {
    const k = floatRowsByK ? Math.floor(q / C) : q % K;
    const c = floatRowsByK ? q % C : Math.floor(q / K);
    for (let r = 0; r < R; r++) if (S[r * srs + k * scs] === 0) out[r * ors + c * ocs] = Number.NaN;
  }
}

/** A SpikeOp on the plan's backend (not JS). */
function runSpikeOp(plan: SpikePlan, op: SpikeOp): void {
  if (plan.backend !== "native") return runSpikeOpWasm(op);
  // the callers removed NaN levels already, so the kernel cannot decline
  if (!runSpikeOpNative(op)) throw new Error("spike kernels: a NaN level reached the native kernel after it was removed");
}

/**
 * Products at least this large (rows x K x columns) go to the native kernel without counting
 * their nonzeros first: counting (a JS pass over a sample of S) cost ~5 ms per BERT-base
 * block, while the native kernel is the right choice at any rate at this size.
 */
const NATIVE_UNCOUNTED_MIN = 1 << 24;
/** Such products use the default thread count from this size on (below it, one thread). */
const NATIVE_UNCOUNTED_THREADS_MIN = 1 << 25;

/** The kernel view of `S @ W` (S [M,K]; W [K,N], or [N,K] read through strides with `weightLayout: "nk"`). */
function spikeTimesWeightOp(S: Int8Array, M: number, K: number, W: Float32Array, N: number, o: Float32Array, opts: SpikeKernelOptions, pool: BufferPool, scale: Float32Array | undefined, variant: "event" | "dense", threads: number): SpikeOp {
  const nk = opts.weightLayout === "nk";
  return {
    spike: S, R: M, K, srs: K, scs: 1,
    weight: W, C: N, wrs: nk ? 1 : N, wcs: nk ? K : 1,
    out: o, ors: N, ocs: 1,
    scale, variant, threads, cacheWeights: !!opts.cacheWeights, bufferPool: pool,
  };
}

/**
 * `S @ W` on the native kernel straight away, for a large product with finite weights: the
 * kernel itself looks for NaN levels while it lists the events and declines (false, nothing
 * written) when it finds one, so the caller's general path (which counts, removes them and
 * poisons their edges) runs only then.
 */
function spikeMatmulNativeFirst(S: Int8Array, M: number, K: number, W: Float32Array, N: number, o: Float32Array, opts: SpikeKernelOptions, pool: BufferPool, scale: Float32Array | undefined, affine?: { bias: Float32Array; residual: Float32Array | null }): boolean {
  const backend = opts.backend ?? "auto";
  if ((backend !== "auto" && backend !== "native") || opts.variant === "dense" || opts.nnz !== undefined) return false;
  if (M * K * N < NATIVE_UNCOUNTED_MIN || !startNative()) return false;
  const threadsWanted = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
  const threads = opts.threads !== undefined || M * K * N >= NATIVE_UNCOUNTED_THREADS_MIN ? threadsWanted : 1;
  const op = spikeTimesWeightOp(S, M, K, W, N, o, opts, pool, scale, "event", threads);
  if (!(affine ? runSpikeOpAffineNative(op, affine.bias, affine.residual) : runSpikeOpNative(op))) return false;
  if (backend === "auto") kickBackground(threadsWanted);
  // the rate was not counted: NaN says so
  lastPlan = { backend: "native", variant: "event", threads, rate: Number.NaN };
  spikeKernelCalls.native++;
  return true;
}

/** A spiking layer's epilogue after its product: per-step scale, per-column bias, an optional residual. */
export interface AffineEpilogue {
  /** One value per `scaleBlock` rows (a time step's rows), as SpikeKernelOptions.scale. */
  readonly scale: Float32Array;
  readonly scaleBlock: number;
  /** N values, added to every row. */
  readonly bias: Float32Array;
  /** [M, N], added last (it may be `out` itself). */
  readonly residual?: Float32Array;
}

/**
 * out = fround(fround(fround(scale * (S @ W)) + bias) + residual) in one pass on the native
 * kernel (the elementwise program a spiking layer's output goes through, fused into the
 * product's store; each step the same float32 operation as the program's, so the bits are
 * the program's). False, with `out` not written, when the native kernel is not loaded, the
 * product is below its size, a weight is not finite or a level is NaN: the caller then runs
 * the product and the program apart.
 */
export function spikeMatmulAffine(S: Int8Array, M: number, K: number, W: Float32Array, N: number, out: Float32Array, opts: SpikeKernelOptions, epi: AffineEpilogue): boolean {
  // (spikeMatmulNativeFirst checks these too; here they spare small products the weight scan)
  const backend = opts.backend ?? "auto";
  if ((backend !== "auto" && backend !== "native") || M * K * N < NATIVE_UNCOUNTED_MIN) return false;
  checkSizes("spikeMatmulAffine", [[S, M * K, "S"], [W, K * N, "W"], [out, M * N, "out"], [epi.bias, N, "bias"], ...(epi.residual ? [[epi.residual, M * N, "residual"] as [Float32Array, number, string]] : [])]);
  if (weightNonFinite(W, K * N, !!opts.cacheWeights).length > 0) return false;
  const pool = opts.pool ?? defaultPool;
  const scale = expandScale(epi.scale, Math.max(1, Math.floor(epi.scaleBlock)), M, pool);
  return spikeMatmulNativeFirst(S, M, K, W, N, out, opts, pool, scale, { bias: epi.bias, residual: epi.residual ?? null });
}

/**
 * `S @ W`: S [M,K] ternary int8, W [K,N] float32 (or W [N,K] with `weightLayout: "nk"`:
 * `S @ Wᵀ`) → out [M,N] float32 (see header for the exact-bits contract). Returns `out`
 * (allocated if not given).
 */
export function spikeMatmul(
  S: Int8Array,
  M: number,
  K: number,
  W: Float32Array,
  N: number,
  out?: Float32Array,
  opts: SpikeKernelOptions = {},
): Float32Array {
  const pool = opts.pool ?? defaultPool;
  const o = out ?? new Float32Array(M * N);
  checkSizes("spikeMatmul", [[S, M * K, "S"], [W, K * N, "W"], [o, M * N, "out"]]);
  const scale = opts.scale ? expandScale(opts.scale, Math.max(1, Math.floor(opts.scaleBlock ?? 1)), M, pool) : undefined;
  const badFloats = weightNonFinite(W, K * N, !!opts.cacheWeights);
  if (badFloats.length === 0 && spikeMatmulNativeFirst(S, M, K, W, N, o, opts, pool, scale)) return o;
  const nanLevels = nanLevelIndices(S, M * K);
  if (nanLevels.length > 0 || badFloats.length > 0) {
    spikeMatmulFinite(nanLevels.length > 0 ? withoutNanLevels(S, M * K, nanLevels, pool) : S, M, K, W, N, o, opts, pool, scale);
    poisonEdges(S, M, K, true, N, opts.weightLayout !== "nk", o, N, 1, nanLevels, badFloats);
    return o;
  }
  return spikeMatmulFinite(S, M, K, W, N, o, opts, pool, scale);
}

/** `spikeMatmul` for levels in {-1, 0, 1} (the zero-skipping kernels). */
function spikeMatmulFinite(S: Int8Array, M: number, K: number, W: Float32Array, N: number, o: Float32Array, opts: SpikeKernelOptions, pool: BufferPool, scale: Float32Array | undefined): Float32Array {
  const plan = resolve(M, K, N, S, K, 1, opts, !!opts.cacheWeights);
  if (plan.rate === 0 && opts.nnz === undefined && M * K <= RATE_SAMPLE_ELEMS && !scale) {
    o.fill(0, 0, M * N); // exact count: all spikes silent, every sum is +0
    return o;
  }
  if (plan.backend !== "js") {
    runSpikeOp(plan, spikeTimesWeightOp(S, M, K, W, N, o, opts, pool, scale, plan.variant, plan.threads));
    return o;
  }
  // The JavaScript kernels walk W [K,N] rows: a [N,K] weight is laid out that way first
  // (JS runs only small products or before WebAssembly is ready).
  const Wkn = opts.weightLayout === "nk" ? transposeInto(W, N, K, pool.f32("weights-kn", K * N)) : W;
  if (plan.variant === "dense") spikeMatmulDenseJS(S, M, K, Wkn, N, o);
  else spikeMatmulEventJS(S, M, K, Wkn, N, o, pool);
  if (scale) {
    for (let i = 0; i < M; i++) {
      const a = scale[i]!;
      for (let j = i * N, e = j + N; j < e; j++) o[j] = a * o[j]!;
    }
  }
  return o;
}

/** `out` [C,R] = `x` [R,C] transposed. */
function transposeInto(x: Float32Array, R: number, C: number, out: Float32Array): Float32Array {
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = x[r * C + c]!;
  return out;
}

function batchCount(opts: SpikeKernelOptions): number {
  const B = opts.batch ?? 1;
  if (!Number.isInteger(B) || B < 0) throw new RangeError(`spike kernels: batch must be a whole number >= 0, got ${B}`);
  return B;
}

/** Multiply-adds below which a dense-times-spike product stays in JavaScript rather than calling the native kernel. */
const NATIVE_DENSE_MIN = 4096;
/** Multiply-adds below which the native dense-times-spike kernel uses one thread (a thread start costs tens of microseconds). */
const NATIVE_DENSE_THREAD_MIN = 1 << 21;

/**
 * Dense-times-spike products (attention) on the native dense kernel (levels_native.c: rows
 * of A with lanes over S's columns, every k, exact for finite A and levels in {-1, 0, 1}),
 * when the backend allows it and the addon is loaded; false when it did not run them all
 * (not chosen, or a non-finite float / NaN level: the general path then runs).
 */
function denseTimesLevelsOnNative(p: LevelsProduct, opts: SpikeKernelOptions): boolean {
  const backend = opts.backend ?? "auto";
  if (backend !== "native" && backend !== "auto") return false;
  if (opts.variant === "event") return false;
  if (backend === "native" && !startNative()) throw new Error(`spike kernels: backend "native" requested, but ${nativeStatus().reason}`);
  const work = p.n * p.M * p.K * p.N;
  if (backend === "auto" && (work < NATIVE_DENSE_MIN || !startNative())) return false;
  const threadsWanted = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
  const threads = opts.threads !== undefined || work >= NATIVE_DENSE_THREAD_MIN ? threadsWanted : 1;
  if (!denseTimesLevelsNative(p, threads)) return false;
  lastPlan = { backend: "native", variant: "dense", threads, rate: Number.NaN };
  spikeKernelCalls.native++;
  return true;
}

/**
 * A batch of dense-times-spike products (`op`: the kernel view of one, see below) as one
 * WASM call, when the plan picks WASM and every level and float is finite (otherwise
 * false: the caller runs the products one by one, which handles NaN levels and non-finite
 * floats). One product's bits do not depend on the others or on the thread count.
 */
function batchOnKernels(
  X: Float32Array, xLen: number, S: Int8Array, sLen: number, o: Float32Array,
  op: { R: number; K: number; srs: number; scs: number; C: number; wrs: number; wcs: number; ors: number; ocs: number },
  batch: { n: number; sStride: number; wStride: number; oStride: number },
  opts: SpikeKernelOptions, pool: BufferPool,
): boolean {
  if (batch.n === 0 || op.R === 0 || op.C === 0 || op.K === 0) return false;
  if (opts.backend === "js" || S.subarray(0, sLen).indexOf(NAN_LEVEL) >= 0 || nonFiniteIndices(X, xLen).length > 0) return false;
  const plan = resolve(batch.n * op.R, op.K, op.C, S, op.K, 1, { ...opts, nnz: opts.nnz ?? estimateNnzFlat(S, sLen) }, false);
  if (plan.backend === "js") return false;
  runSpikeOp(plan, {
    spike: S, ...op, weight: X, out: o,
    variant: plan.variant, threads: plan.threads, cacheWeights: false, bufferPool: pool, batch,
  });
  return true;
}

/**
 * `Q @ Sᵀ`: Q [M,K] float32, S [N,K] ternary int8 → out [M,N] with
 * out[i,j] = Σ_{k ascending} Q[i,k]*S[j,k] (sequential float32, same contract).
 * (Attention scores against spiking keys.) Options `cacheWeights`/`scale` are ignored.
 */
export function denseTimesSpikeT(
  Q: Float32Array,
  M: number,
  K: number,
  S: Int8Array,
  N: number,
  out?: Float32Array,
  opts: SpikeKernelOptions = {},
): Float32Array {
  const pool = opts.pool ?? defaultPool;
  const B = batchCount(opts);
  const o = out ?? new Float32Array(B * M * N);
  checkSizes("denseTimesSpikeT", [[Q, B * M * K, "Q"], [S, B * N * K, "S"], [o, B * M * N, "out"]]);
  // S [N, K] read as [K, N]: k stride 1, column stride K
  if (denseTimesLevelsOnNative({ A: Q, M, K, ars: K, acs: 1, aStride: M * K, S, N, sks: 1, sns: K, sStride: N * K, out: o, ors: N, ocs: 1, oStride: M * N, n: B }, opts)) return o;
  if (B !== 1) {
    // kernel view of one product as below; product b's operands and output b * size further on
    const op = { R: N, K, srs: K, scs: 1, C: M, wrs: 1, wcs: K, ors: 1, ocs: N };
    if (!batchOnKernels(Q, B * M * K, S, B * N * K, o, op, { n: B, sStride: N * K, wStride: M * K, oStride: M * N }, opts, pool)) {
      for (let b = 0; b < B; b++)
        denseTimesSpikeT(Q.subarray(b * M * K, (b + 1) * M * K), M, K, S.subarray(b * N * K, (b + 1) * N * K), N, o.subarray(b * M * N, (b + 1) * M * N), { ...opts, batch: 1 });
    }
    return o;
  }
  // kernel view: spike rows r = j (S row j), weight (k, c=i) = Q[i*K + k], out (r=j, c=i) at i*N + j
  const nanLevels = nanLevelIndices(S, N * K);
  const badFloats = nonFiniteIndices(Q, M * K);
  const S1 = nanLevels.length > 0 ? withoutNanLevels(S, N * K, nanLevels, pool) : S;
  const plan = resolve(N, K, M, S1, K, 1, opts, false);
  if (plan.backend !== "js") {
    runSpikeOp(plan, {
      spike: S1, R: N, K, srs: K, scs: 1,
      weight: Q, C: M, wrs: 1, wcs: K,
      out: o, ors: 1, ocs: N,
      variant: plan.variant, threads: plan.threads, cacheWeights: false, bufferPool: pool,
    });
  } else denseTimesSpikeTJS(Q, M, K, S1, N, o, pool);
  if (nanLevels.length > 0 || badFloats.length > 0) poisonEdges(S, N, K, true, M, false, o, 1, N, nanLevels, badFloats);
  return o;
}

/**
 * `A @ S`: A [M,K] float32, S [K,N] ternary int8 → out [M,N] with
 * out[i,j] = Σ_{k ascending} A[i,k]*S[k,j] (sequential float32, same contract).
 * (Attention probabilities times spiking values.) Options `cacheWeights`/`scale` are ignored.
 */
export function denseTimesSpike(
  A: Float32Array,
  M: number,
  K: number,
  S: Int8Array,
  N: number,
  out?: Float32Array,
  opts: SpikeKernelOptions = {},
): Float32Array {
  const pool = opts.pool ?? defaultPool;
  const B = batchCount(opts);
  const o = out ?? new Float32Array(B * M * N);
  checkSizes("denseTimesSpike", [[A, B * M * K, "A"], [S, B * K * N, "S"], [o, B * M * N, "out"]]);
  if (denseTimesLevelsOnNative({ A, M, K, ars: K, acs: 1, aStride: M * K, S, N, sks: N, sns: 1, sStride: K * N, out: o, ors: N, ocs: 1, oStride: M * N, n: B }, opts)) return o;
  if (B !== 1) {
    const op = { R: N, K, srs: 1, scs: N, C: M, wrs: 1, wcs: K, ors: 1, ocs: N };
    if (!batchOnKernels(A, B * M * K, S, B * K * N, o, op, { n: B, sStride: K * N, wStride: M * K, oStride: M * N }, opts, pool)) {
      for (let b = 0; b < B; b++)
        denseTimesSpike(A.subarray(b * M * K, (b + 1) * M * K), M, K, S.subarray(b * K * N, (b + 1) * K * N), N, o.subarray(b * M * N, (b + 1) * M * N), { ...opts, batch: 1 });
    }
    return o;
  }
  // kernel view: spike rows r = j (column j of S), weight (k, c=i) = A[i*K + k], out (r=j, c=i) at i*N + j
  const nanLevels = nanLevelIndices(S, K * N);
  const badFloats = nonFiniteIndices(A, M * K);
  const S1 = nanLevels.length > 0 ? withoutNanLevels(S, K * N, nanLevels, pool) : S;
  const plan = resolve(N, K, M, S1, 1, N, opts, false);
  if (plan.backend !== "js") {
    runSpikeOp(plan, {
      spike: S1, R: N, K, srs: 1, scs: N,
      weight: A, C: M, wrs: 1, wcs: K,
      out: o, ors: 1, ocs: N,
      variant: plan.variant, threads: plan.threads, cacheWeights: false, bufferPool: pool,
    });
  } else denseTimesSpikeJS(A, M, K, S1, N, o, pool);
  if (nanLevels.length > 0 || badFloats.length > 0) poisonEdges(S, N, K, false, M, false, o, 1, N, nanLevels, badFloats);
  return o;
}
