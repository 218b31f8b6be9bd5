/**
 * WebAssembly SIMD backend for the spike kernels: compiles the WAT of wasm-kernel-wat.ts
 * at load time (assembled by wabt, cached on disk: wat-binary.ts; compiled once per process,
 * straight to optimized code), owns one shared
 * linear memory, and runs operations on the calling thread plus a small worker_threads pool
 * that instantiates the same module on the same memory.
 *
 * Everything is synchronous once `startWasm()` has resolved. Per call:
 *   1. the caller copies the spikes in, posts the job to the workers (control words in a
 *      SharedArrayBuffer + Atomics.notify), then copies the weights in while the workers
 *      already build the event lists;
 *   2. every thread runs `run`: claims list chunks, then (tile, row-chunk) work items through
 *      atomic counters in the job block, packing each tile into its own L2-sized scratch just
 *      before accumulating it — so late or slow threads just take fewer items;
 *   3. the caller finishes its share, cancels any job a worker has not picked up yet (running
 *      it itself: it finds no items left), waits for the rest, and copies the result out.
 * k is never split across threads, so results are bit-identical for any thread count.
 * Workers are unref'd (they never keep the process alive); `shutdownKernelPool()` ends them.
 * Threads come from the platform layer (worker_threads under Node, Web Workers in a
 * cross-origin-isolated page; none otherwise: the caller's thread does everything).
 */

import { platform } from "#platform";
import type { PlatformThread } from "../../platform/platform.js";
import { JOB_BYTES, kernelWat } from "./wasm-kernel-wat.js";
import { watToBinary } from "./wat-binary.js";
import { type BufferPool } from "./buffer-pool.js";

/** Output columns per tile = 6 f32x4 accumulators (see wasm-kernel-wat.ts for why 6). */
const TN = 24;
const PAGE = 65536;
const MAX_PAGES = 32768; // 2 GiB
const SCRATCH_BASE = 64;
const SCRATCH_SLOT = 256; // >= TN*4
const MAX_THREADS = 16;
const ARENA_BASE = PAGE;

// Minimal local typing of the WebAssembly JS API (the project's lib/types have no
// WebAssembly declarations; declaring them globally could clash with other folders).
interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (m: WasmModule, imports: object) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface KernelExports {
  build_lists(S: number, srs: number, scs: number, K: number, r0: number, r1: number, L: number, C: number): number;
  pack(W: number, wrs: number, wcs: number, K: number, ncols: number, t0: number, t1: number, P: number): void;
  pack_fast(W: number, wrs: number, K: number, k0: number, k1: number, t0: number, t1: number, P: number): void;
  compute(L: number, C: number, K: number, P: number, out: number, ors: number, ocs: number, ncols: number,
          r0: number, r1: number, t0: number, t1: number, scr: number, scale: number): void;
  dense(S: number, srs: number, scs: number, K: number, P: number, out: number, ors: number, ocs: number, ncols: number,
        r0: number, r1: number, t0: number, t1: number, scr: number, scale: number): void;
  run(job: number, tile: number, scr: number): number;
  run_batch(jobs: number, n: number, ctr: number, tile: number, scr: number): number;
  vec_run(prog: number, nins: number, np: number, c0: number, c1: number, tcount: number, scr: number, ch: number): void;
  gelu_f32(src: number, dst: number, i0: number, i1: number, list: number): void;
  softmax_rows(src: number, dst: number, n: number, r0: number, r1: number): void;
  layernorm_rows(src: number, gamma: number, beta: number, dst: number, d: number, epsp: number, r0: number, r1: number): void;
  exp_f64(x: number): number;
  erf_f64(x: number): number;
  spike_rows(S: number, M: number, K: number, W: number, ld: number, out: number, c0: number, c1: number, ev: number): void;
  row_keys(Q: number, S: number, ss: number, out: number, B: number, L: number, E: number): void;
  row_values(P: number, S: number, ss: number, out: number, B: number, L: number, E: number): void;
  row_keys_finite(Q: number, S: number, ss: number, out: number, B: number, L: number, E: number): void;
  row_values_finite(P: number, S: number, ss: number, out: number, B: number, L: number, E: number): void;
  transpose_into(src: number, N: number, K: number, dst: number, ld: number): void;
  count_nonfinite(p: number, n: number): number;
  has_nan_level(p: number, n: number): number;
}

/** The few-rows and one-query-row kernels (wasm-rows-wat.ts), run on the calling thread. */
export type RowsKernels = Pick<KernelExports, "spike_rows" | "row_keys" | "row_values" | "row_keys_finite" | "row_values_finite" | "transpose_into" | "count_nonfinite" | "has_nan_level">;

const FN_NAMES = ["build_lists", "pack", "pack_fast", "compute", "dense", "run", "run_batch", "vec_run", "gelu_f32", "softmax_rows", "layernorm_rows"] as const;
type FnName = (typeof FN_NAMES)[number];
interface Call {
  fn: FnName;
  args: number[];
}

interface WasmState {
  module: WasmModule;
  memory: WasmMemory;
  ex: KernelExports;
  arena: Arena;
}

let state: WasmState | null = null;
let starting: Promise<WasmState | null> | null = null;
let startError: unknown = null;

/**
 * Compile straight to optimized code. V8 normally starts wasm functions in its baseline
 * compiler (Liftoff) and tiers up only after they run hot, which made the first one or two
 * large calls 3-5x slower; the module is tiny, so compiling it with TurboFan up front costs
 * a few milliseconds. The flag is flipped only around this synchronous compile.
 */
function compileOptimized(bin: Uint8Array): WasmModule {
  return platform.compileEagerly(() => new WA.Module(bin));
}

/** Compile (once) and instantiate the kernel module. Resolves false if WebAssembly SIMD is unavailable. */
export function startWasm(): Promise<boolean> {
  if (!starting) {
    starting = (async () => {
      try {
        const bin = await watToBinary("spike-kernels.wat", kernelWat({ tn: TN }), { simd: true, threads: true });
        const module = compileOptimized(bin);
        const memory = new WA.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
        const inst = new WA.Instance(module, { env: { mem: memory } });
        state = { module, memory, ex: inst.exports as unknown as KernelExports, arena: new Arena(memory) };
        return state;
      } catch (e) {
        startError = e;
        return null;
      }
    })();
  }
  return starting.then((s) => s !== null);
}

export function wasmReady(): boolean {
  return state !== null;
}

export function wasmStartError(): unknown {
  return startError;
}

// ---------------------------------------------------------------------------------------
// Linear-memory allocator (first fit over a sorted block list; 64-byte aligned)

class Arena {
  private blocks: { off: number; size: number }[] = [];
  private views: { u8: Uint8Array; i8: Int8Array; i32: Int32Array; f32: Float32Array } | null = null;

  constructor(readonly memory: WasmMemory) {}

  /** Allocations for one kernel call: `take` as `alloc`, `release` frees all of them. */
  scope(pool?: BufferPool): { take: (bytes: number) => number; release: () => void } {
    const offs: number[] = [];
    return {
      take: (bytes) => {
        const o = this.alloc(bytes, pool);
        offs.push(o);
        return o;
      },
      release: () => {
        for (const o of offs) this.free(o);
      },
    };
  }

  /** Allocate `bytes`; grows the memory if needed (growth is reported to `pool`). */
  alloc(bytes: number, pool?: BufferPool): number {
    const size = Math.max(64, Math.ceil(bytes / 64) * 64);
    let off = ARENA_BASE;
    let at = 0;
    for (; at < this.blocks.length; at++) {
      const b = this.blocks[at]!;
      if (b.off - off >= size) break;
      off = b.off + b.size;
    }
    const end = off + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      if (have / PAGE + pages > MAX_PAGES) throw new RangeError(`spike kernels: wasm memory limit exceeded (${end} bytes)`);
      this.memory.grow(pages);
      this.views = null;
      pool?.noteAllocation(pages * PAGE);
    }
    this.blocks.splice(at, 0, { off, size });
    return off;
  }

  free(off: number): void {
    const i = this.blocks.findIndex((b) => b.off === off);
    if (i >= 0) this.blocks.splice(i, 1);
  }

  get v(): { u8: Uint8Array; i8: Int8Array; i32: Int32Array; f32: Float32Array } {
    const buf = this.memory.buffer as unknown as ArrayBuffer;
    if (!this.views || this.views.u8.buffer !== buf) {
      this.views = { u8: new Uint8Array(buf), i8: new Int8Array(buf), i32: new Int32Array(buf), f32: new Float32Array(buf) };
    }
    return this.views;
  }
}

// ---------------------------------------------------------------------------------------
// Worker pool

const SLOT_INTS = 64; // per worker: [seq, done, status, ncalls, claim, -, -, -, calls...]
const W_SEQ = 0; // last posted job
const W_DONE = 1; // last finished job
const W_STATUS = 2; // 0 ok, 1 the job threw
const W_NCALLS = 3;
const W_CLAIM = 4; // +seq: the worker took job seq; -seq: the caller cancelled it first
const W_CALLS = 8;
const CALL_INTS = 16; // [fn, nargs, args(14)]
const MAX_CALLS = 3;
/** How long an idle worker spins before sleeping (waking a sleeping vCPU costs ~0.5-1 ms here). */
const WORKER_SPIN_MS = 1;
/** ctrl word (after the worker slots) holding the current spin in µs (setWorkerSpin). */
const SPIN_US_AT = MAX_THREADS * SLOT_INTS;
/** Float64 fields per worker in the pool's stats buffer (see kernelPoolStats). */
const STAT_FIELDS = 4;

// Plain JavaScript (no TypeScript loader needed): the body of platform.startThread, which
// provides `workerData` and `postToParent`.
const WORKER_SOURCE = `
const { module, memory, ctrl, stats, index, fnNames } = workerData;
const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
const fns = fnNames.map((n) => inst.exports[n]);
const c = new Int32Array(ctrl);
const base = index * ${SLOT_INTS};
// diagnostics (kernelPoolStats): ms running jobs, ms spinning idle, sleeps, jobs taken
const st = new Float64Array(stats, index * ${STAT_FIELDS} * 8, ${STAT_FIELDS});
postToParent("ready");
let seen = 0;
for (;;) {
  // spin for up to spinMs (kernel calls tend to come in bursts), then sleep
  if (Atomics.load(c, base + ${W_SEQ}) === seen) {
    const from = performance.now();
    const until = from + Atomics.load(c, ${SPIN_US_AT}) / 1000;
    let i = 0;
    let slept = false;
    while (Atomics.load(c, base + ${W_SEQ}) === seen) {
      if ((++i & 1023) === 0 && performance.now() > until) {
        st[2]++;
        st[1] += performance.now() - from;
        slept = true;
        Atomics.wait(c, base + ${W_SEQ}, seen);
        break;
      }
    }
    if (!slept) st[1] += performance.now() - from;
  }
  const seq = Atomics.load(c, base + ${W_SEQ});
  if (seq === seen) continue;
  seen = seq;
  // take the job unless the caller already cancelled it (it then runs the calls itself)
  const cur = Atomics.load(c, base + ${W_CLAIM});
  if (cur === -seq || Atomics.compareExchange(c, base + ${W_CLAIM}, cur, seq) !== cur) continue;
  const began = performance.now();
  st[3]++;
  const n = c[base + ${W_NCALLS}];
  let status = 0;
  try {
    for (let j = 0; j < n; j++) {
      const o = base + ${W_CALLS} + j * ${CALL_INTS};
      const f = fns[c[o]];
      const args = [];
      for (let q = 0; q < c[o + 1]; q++) args.push(c[o + 2 + q]);
      f(...args);
    }
  } catch (e) {
    status = 1;
  }
  c[base + ${W_STATUS}] = status;
  st[0] += performance.now() - began;
  Atomics.store(c, base + ${W_DONE}, seq);
  Atomics.notify(c, base + ${W_DONE});
}
`;

interface PoolState {
  workers: PlatformThread[];
  ctrl: Int32Array;
  stats: Float64Array;
  seq: number;
  /** When the caller last finished waiting for a job (performance.now()), and how many idle gaps in a row outlasted the spin. */
  lastEnd: number;
  longGaps: number;
  ready: boolean;
  starting: Promise<void> | null;
  broken: boolean;
}

let pool: PoolState | null = null;
let poolError: unknown = null;
let spinMs = WORKER_SPIN_MS;

/**
 * How long (ms) an idle worker spins for the next job before it sleeps; default
 * WORKER_SPIN_MS. Spinning saves the wake-up when calls come close together but burns CPU
 * time when they do not; the pool shortens it while jobs come far apart (adaptSpin).
 */
export function setWorkerSpin(ms: number = WORKER_SPIN_MS): void {
  spinMs = Math.max(0, ms);
  if (pool) Atomics.store(pool.ctrl, SPIN_US_AT, Math.round(spinMs * 1000));
}

/** Per worker since the pool started: ms running jobs, ms spinning idle, times it slept, jobs it took. */
export interface WorkerStats {
  readonly busyMs: number;
  readonly spinMs: number;
  readonly sleeps: number;
  readonly jobs: number;
}

/** The pool's per-worker diagnostics (empty without a pool). */
export function kernelPoolStats(): WorkerStats[] {
  const p = pool;
  if (!p) return [];
  return p.workers.map((_, w) => {
    const f = p.stats.subarray(w * STAT_FIELDS, (w + 1) * STAT_FIELDS);
    return { busyMs: f[0]!, spinMs: f[1]!, sleeps: f[2]!, jobs: f[3]! };
  });
}

/** Why the worker pool failed to start, if it did. */
export function kernelPoolError(): unknown {
  return poolError;
}

/** Default total thread count (caller + workers): min(2, available cores). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(2, platform.availableParallelism()));
}

/**
 * Start (or resize to at least) a pool giving `threads` total threads (threads-1 workers).
 * Resolves once the workers are ready. Needs startWasm() to have succeeded.
 */
export async function startPool(threads: number): Promise<void> {
  const want = Math.min(MAX_THREADS, Math.max(1, Math.floor(threads))) - 1;
  if (!(await startWasm()) || !state || want <= 0) return;
  if (pool && pool.workers.length >= want && !pool.broken) {
    if (pool.starting) await pool.starting;
    return;
  }
  if (pool) await shutdownKernelPool();
  const st = state;
  const ctrl = new Int32Array(new SharedArrayBuffer((MAX_THREADS * SLOT_INTS + 16) * 4));
  ctrl[SPIN_US_AT] = Math.round(spinMs * 1000);
  const stats = new Float64Array(new SharedArrayBuffer(MAX_THREADS * STAT_FIELDS * 8));
  const p: PoolState = { workers: [], ctrl, stats, seq: 0, lastEnd: 0, longGaps: 0, ready: false, starting: null, broken: false };
  pool = p;
  poolError = null;
  p.starting = (async () => {
    const readies: Promise<void>[] = [];
    for (let w = 0; w < want; w++) {
      const worker = platform.startThread(WORKER_SOURCE, { module: st.module, memory: st.memory, ctrl: ctrl.buffer, stats: stats.buffer, index: w, fnNames: [...FN_NAMES] });
      if (!worker) break; // no threads here: the caller's thread runs everything
      // stay ref'd until ready (so an awaiting caller isn't cut short), then unref
      readies.push(worker.ready);
      worker.onExit(() => {
        p.broken = true;
      });
      p.workers.push(worker);
    }
    try {
      await Promise.all(readies);
      p.ready = true;
    } catch (e) {
      p.broken = true;
      poolError = e;
    } finally {
      for (const w of p.workers) w.unref();
      p.starting = null;
    }
  })();
  await p.starting;
}

/** Terminate the worker pool (safe to call any time; kernels fall back to one thread). */
export async function shutdownKernelPool(): Promise<void> {
  const p = pool;
  pool = null;
  if (!p) return;
  if (p.starting) await p.starting.catch(() => undefined);
  p.broken = true;
  await Promise.all(p.workers.map((w) => w.terminate()));
}

/** Number of threads (caller included) usable right now without waiting. */
export function poolThreads(): number {
  return pool && pool.ready && !pool.broken ? pool.workers.length + 1 : 1;
}

function callFn(ex: KernelExports, c: Call): void {
  (ex[c.fn] as (...a: number[]) => unknown)(...c.args);
}

interface Posted {
  p: PoolState;
  seq: number;
  parts: Call[][]; // parts[w] went to worker w
  claimBefore: number[];
}

/**
 * Post parts[1..] to the workers (as many as are available) and return immediately.
 * Parts that found no worker are returned in `local` to be run by the caller.
 */
function postParts(parts: Call[][]): { posted: Posted | null; local: Call[][] } {
  const p = pool;
  const nWorkers = p && p.ready && !p.broken ? Math.min(p.workers.length, parts.length - 1) : 0;
  if (nWorkers <= 0 || !p) return { posted: null, local: parts.slice(1) };
  const c = p.ctrl;
  const seq = ++p.seq;
  adaptSpin(p);
  const claimBefore: number[] = [];
  for (let w = 0; w < nWorkers; w++) {
    const part = parts[w + 1]!;
    if (part.length > MAX_CALLS) throw new Error("too many calls in a worker job");
    const base = w * SLOT_INTS;
    c[base + W_NCALLS] = part.length;
    part.forEach((call, j) => {
      const o = base + W_CALLS + j * CALL_INTS;
      c[o] = FN_NAMES.indexOf(call.fn);
      c[o + 1] = call.args.length;
      call.args.forEach((a, q) => (c[o + 2 + q] = a));
    });
    claimBefore.push(Atomics.load(c, base + W_CLAIM));
    Atomics.store(c, base + W_SEQ, seq);
    Atomics.notify(c, base + W_SEQ);
  }
  return { posted: { p, seq, parts: parts.slice(1, nWorkers + 1), claimBefore }, local: parts.slice(nWorkers + 1) };
}

/**
 * Idle gaps in a row that outlast the spin before the workers spin only SHORT_SPIN_PART of
 * it. In the encoder block every gap between pool jobs (a neuron step, an elementwise pass)
 * outlasted the 1 ms spin, so each spin was CPU time spent for nothing before a sleep
 * anyway; one gap shorter than the spin (calls in a burst) restores the full spin.
 */
const LONG_GAPS_TO_SHORTEN = 4;
const SHORT_SPIN_PART = 1 / 16;

/** Sets the spin the workers use after the job being posted, from the gaps between jobs so far. */
function adaptSpin(p: PoolState): void {
  const gap = performance.now() - p.lastEnd;
  p.longGaps = gap > spinMs ? p.longGaps + 1 : 0;
  const ms = p.longGaps >= LONG_GAPS_TO_SHORTEN ? spinMs * SHORT_SPIN_PART : spinMs;
  Atomics.store(p.ctrl, SPIN_US_AT, Math.round(ms * 1000));
}

/** The spin (ms) the workers use after their current job (diagnostics, tests). */
export function currentWorkerSpin(): number {
  return pool ? Atomics.load(pool.ctrl, SPIN_US_AT) / 1000 : spinMs;
}

/**
 * Finish the posted jobs: a job its worker has not picked up yet (e.g. still waking up) is
 * cancelled and run here instead; otherwise block until the worker reports it done. So a
 * slow-to-wake worker never delays the caller by more than the work it actually took.
 */
function waitPosted(ex: KernelExports, h: Posted | null): void {
  if (!h) return;
  const { p, seq } = h;
  const c = p.ctrl;
  let failed = false;
  for (let w = 0; w < h.parts.length; w++) {
    const base = w * SLOT_INTS;
    if (Atomics.compareExchange(c, base + W_CLAIM, h.claimBefore[w]!, -seq) === h.claimBefore[w]) {
      for (const call of h.parts[w]!) callFn(ex, call);
      continue;
    }
    let spins = 0;
    let timeouts = 0;
    for (;;) {
      const cur = Atomics.load(c, base + W_DONE);
      if (cur === seq) break;
      if (spins++ < 20000) continue;
      // blocks only while DONE still holds `cur` (no lost wake-up)
      const r = Atomics.wait(c, base + W_DONE, cur, 1000);
      if (r === "timed-out" && ++timeouts >= 120) {
        p.broken = true; // stop using the pool; a worker is gone or wedged
        throw new Error("spike kernel worker did not finish within 120 s");
      }
    }
    if (c[base + W_STATUS] !== 0) failed = true;
  }
  p.lastEnd = performance.now();
  if (failed) throw new Error("spike kernel worker reported an error");
}

/**
 * Run parts[0] on this thread and parts[t] on worker t-1, returning when all are done.
 * If fewer threads are available, the extra parts run here sequentially (same results).
 */
function runParallel(ex: KernelExports, parts: Call[][]): void {
  const { posted, local } = postParts(parts);
  for (const call of parts[0]!) callFn(ex, call);
  for (const part of local) for (const call of part) callFn(ex, call);
  waitPosted(ex, posted);
}

// ---------------------------------------------------------------------------------------
// Operations

/**
 * Generic spike contraction, all strides in elements:
 *   out[r*ors + c*ocs] = Σ_{k ascending} spike[r*srs + k*scs] * weight[k*wrs + c*wcs]
 * for r < R, c < C (then optionally multiplied by scale[r]).
 */
export interface SpikeOp {
  spike: Int8Array;
  R: number;
  K: number;
  srs: number;
  scs: number;
  weight: Float32Array;
  C: number;
  wrs: number;
  wcs: number;
  out: Float32Array;
  ors: number;
  ocs: number;
  scale?: Float32Array | undefined;
  variant: "event" | "dense";
  threads: number;
  /** Keep the packed weights in wasm memory keyed by this array (caller promises not to mutate it). */
  cacheWeights: boolean;
  bufferPool?: BufferPool | undefined;
  /**
   * `n` independent contractions of this shape (attention: one per step and head), the b-th
   * with its operands and output `b * stride` elements further on. Run as one call: one
   * copy in and out, threads taking whole contractions (runSpikeBatchWasm). No scale, no
   * weight cache.
   */
  batch?: SpikeBatch | undefined;
}

export interface SpikeBatch {
  readonly n: number;
  readonly sStride: number;
  readonly wStride: number;
  readonly oStride: number;
}

interface PackedEntry {
  off: number;
  bytes: number;
  K: number;
  C: number;
  wrs: number;
  wcs: number;
  length: number;
  lastUse: number;
}

const packedCache = new WeakMap<Float32Array, PackedEntry>();
const packedLive = new Set<PackedEntry>();
let packedBytes = 0;
let useClock = 0;
/** Upper bound on wasm memory held by cached packed weights (LRU eviction beyond it). */
let packedCacheLimit = 1024 * 1024 * 1024;

export function setPackedCacheLimit(bytes: number): void {
  packedCacheLimit = bytes;
}

/** Forget the cached packed form of `W` (call after mutating a weight used with cacheWeights). */
export function releasePackedWeights(W: Float32Array): void {
  const e = packedCache.get(W);
  if (!e || !state) return;
  packedCache.delete(W);
  dropPacked(e);
}

function dropPacked(e: PackedEntry): void {
  if (!packedLive.has(e)) return;
  packedLive.delete(e);
  packedBytes -= e.bytes;
  state?.arena.free(e.off);
}

/**
 * Optional diagnostics, accumulated while `enabled`: ms spent copying in (copyIn), in the
 * caller's own share of the work (phaseA), waiting for workers (phaseB), copying out
 * (copyOut); work items done by the caller (callerItems) out of all items (items); batched
 * calls (batchCalls, whose items are whole contractions).
 */
export const phaseTimes = { enabled: false, copyIn: 0, phaseA: 0, phaseB: 0, copyOut: 0, calls: 0, callerItems: 0, items: 0, batchCalls: 0 };

function span(rows: number, cols: number, rs: number, cs: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * rs + (cols - 1) * cs + 1;
}

function split(n: number, parts: number, t: number): [number, number] {
  return [Math.floor((n * t) / parts), Math.floor((n * (t + 1)) / parts)];
}

// job block field offsets (bytes), see `run` in wasm-kernel-wat.ts
const J = {
  listCtr: 0, listDone: 4, wReady: 8, itemCtr: 12, S: 16, srs: 20, scs: 24, K: 28, R: 32, L: 36, C: 40,
  W: 44, wrs: 48, wcs: 52, ncols: 56, P: 60, out: 64, ors: 68, ocs: 72, scale: 76, listChunk: 80,
  nRC: 84, rowsPerChunk: 88, variant: 92, nT: 96,
} as const;

/** Run a SpikeOp on the wasm backend (startWasm() must have resolved true). */
export function runSpikeOpWasm(op: SpikeOp): void {
  const st = state;
  if (!st) throw new Error("spike kernels: WebAssembly backend not initialised (await initSpikeKernels())");
  const { R, K, C } = op;
  if (R === 0 || C === 0) return;
  if (op.batch) return runSpikeBatchWasm(st, op, op.batch);
  const outSpan = span(R, C, op.ors, op.ocs);
  const arena = st.arena;
  const bp = op.bufferPool;
  const nT = Math.ceil(C / TN);
  const tileBytes = K * 2 * TN * 4;
  const sSpan = span(R, K, op.srs, op.scs);
  const wSpan = span(K, C, op.wrs, op.wcs);
  // work items: (tile, row chunk); split rows too when there are few tiles
  const threadsWanted = Math.max(1, Math.min(op.threads, MAX_THREADS));
  const nRC = nT >= 4 * threadsWanted ? 1 : Math.min(R, Math.ceil((4 * threadsWanted) / nT));
  const rowsPerChunk = Math.ceil(R / nRC);
  const threads = Math.max(1, Math.min(threadsWanted, poolThreads(), nT * nRC));

  const { take, release } = arena.scope(bp);
  try {
    // packed weights: cached (packed once, kept) or packed per tile into per-thread scratch
    let pOff = 0;
    let cachedReady = false;
    // A packed form larger than the cache may hold is not kept: its tiles are packed by each
    // thread right before use, as for uncached weights (with limit 0, what a one-shot forward
    // sets, nothing is packed whole).
    if (op.cacheWeights && nT * tileBytes <= packedCacheLimit) {
      let cached = packedCache.get(op.weight);
      if (cached && packedLive.has(cached) && cached.K === K && cached.C === C && cached.wrs === op.wrs && cached.wcs === op.wcs && cached.length === op.weight.length) {
        cachedReady = true;
      } else {
        if (cached) dropPacked(cached);
        const bytes = nT * tileBytes;
        evictPacked(bytes);
        const off = arena.alloc(bytes, bp);
        cached = { off, bytes, K, C, wrs: op.wrs, wcs: op.wcs, length: op.weight.length, lastUse: 0 };
        packWhole(st, op, off, nT, wSpan, take);
        packedCache.set(op.weight, cached);
        packedLive.add(cached);
        packedBytes += bytes;
        cachedReady = true;
      }
      cached.lastUse = ++useClock;
      pOff = cached.off;
    }
    const job = take(JOB_BYTES);
    const sOff = take(sSpan);
    const wOff = cachedReady ? 0 : take(wSpan * 4);
    const lOff = op.variant === "event" ? take(R * K * 4) : 0;
    const cOff = op.variant === "event" ? take(R * 4) : 0;
    const oOff = take(outSpan * 4);
    const scOff = op.scale ? take(R * 4) : 0;
    const tiles: number[] = [];
    if (!cachedReady) for (let t = 0; t < threads; t++) tiles.push(take(tileBytes));

    const pt = phaseTimes.enabled;
    let tm = pt ? performance.now() : 0;
    const lap = (key: "copyIn" | "phaseA" | "phaseB" | "copyOut") => {
      if (!pt) return;
      const now = performance.now();
      phaseTimes[key] += now - tm;
      tm = now;
    };

    let v = arena.v;
    const ji = job >> 2;
    const set = (f: number, x: number) => (v.i32[ji + (f >> 2)] = x);
    set(J.listCtr, 0); set(J.listDone, 0); set(J.wReady, 0); set(J.itemCtr, 0);
    set(J.S, sOff); set(J.srs, op.srs); set(J.scs, op.scs); set(J.K, K); set(J.R, R);
    set(J.L, lOff); set(J.C, cOff); set(J.W, wOff); set(J.wrs, op.wrs); set(J.wcs, op.wcs);
    set(J.ncols, C); set(J.P, cachedReady ? pOff : 0); set(J.out, oOff); set(J.ors, op.ors);
    set(J.ocs, op.ocs); set(J.scale, scOff);
    set(J.listChunk, Math.max(1, Math.min(32, Math.ceil(R / (8 * threads)))));
    set(J.nRC, nRC); set(J.rowsPerChunk, rowsPerChunk); set(J.variant, op.variant === "event" ? 0 : 1); set(J.nT, nT);
    v.i8.set(op.spike.subarray(0, sSpan), sOff);
    if (op.scale) v.f32.set(op.scale.subarray(0, R), scOff >> 2);

    // workers start on the event lists while this thread copies the weights in
    const parts: Call[][] = [];
    for (let t = 0; t < threads; t++) {
      parts.push([{ fn: "run", args: [job, tiles[t] ?? 0, SCRATCH_BASE + t * SCRATCH_SLOT] }]);
    }
    const { posted, local } = postParts(parts);
    if (!cachedReady) {
      v = arena.v;
      v.f32.set(op.weight.subarray(0, wSpan), wOff >> 2);
    }
    Atomics.store(v.i32, ji + (J.wReady >> 2), 1);
    Atomics.notify(v.i32, ji + (J.wReady >> 2));
    lap("copyIn");
    const mine = st.ex.run(job, tiles[0] ?? 0, SCRATCH_BASE);
    for (const part of local) for (const call of part) callFn(st.ex, call);
    lap("phaseA"); // (this thread's share of the run)
    if (pt) {
      phaseTimes.callerItems += mine;
      phaseTimes.items += nT * nRC;
    }
    waitPosted(st.ex, posted);
    lap("phaseB"); // (waiting for the workers)

    v = arena.v;
    // the output region is fully covered (one contiguous copy) for the row-major and the
    // transposed layouts; any other stride pattern is copied element by element
    const denseOut = (op.ocs === 1 && op.ors === C) || (op.ors === 1 && op.ocs === R);
    if (denseOut) op.out.set(v.f32.subarray(oOff >> 2, (oOff >> 2) + outSpan));
    else {
      const f = v.f32;
      const ob = oOff >> 2;
      for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) {
        const idx = r * op.ors + c * op.ocs;
        op.out[idx] = f[ob + idx]!;
      }
    }
    lap("copyOut");
    if (pt) phaseTimes.calls++;
  } finally {
    release();
  }
}

/** Region of `n` blocks of `one` elements, `stride` apart. */
function batchSpan(n: number, stride: number, one: number): number {
  return n === 0 || one === 0 ? 0 : (n - 1) * stride + one;
}

/**
 * A batch of small contractions (SpikeOp.batch) as one call: every operand copied in once,
 * one job block per contraction (the job layout of `run`, weights packed per tile into the
 * running thread's scratch), and each thread claiming whole contractions through run_batch.
 * A contraction is never split, so its bits are those of runSpikeOpWasm on it alone.
 */
function runSpikeBatchWasm(st: WasmState, op: SpikeOp, b: SpikeBatch): void {
  const { R, K, C } = op;
  const n = b.n;
  if (n === 0) return;
  if (op.scale || op.cacheWeights) throw new Error("internal: a batched spike contraction takes no scale and no weight cache");
  const arena = st.arena;
  const bp = op.bufferPool;
  const nT = Math.ceil(C / TN);
  const sOne = span(R, K, op.srs, op.scs);
  const wOne = span(K, C, op.wrs, op.wcs);
  const oOne = span(R, C, op.ors, op.ocs);
  const sAll = batchSpan(n, b.sStride, sOne);
  const wAll = batchSpan(n, b.wStride, wOne);
  const oAll = batchSpan(n, b.oStride, oOne);
  const threads = Math.max(1, Math.min(op.threads, MAX_THREADS, poolThreads(), n));
  const event = op.variant === "event";
  const { take, release } = arena.scope(bp);
  try {
    const jobs = take(n * JOB_BYTES + 64);
    const ctr = jobs + n * JOB_BYTES;
    const sOff = take(sAll);
    const wOff = take(wAll * 4);
    const lOff = event ? take(n * R * K * 4) : 0;
    const cOff = event ? take(n * R * 4) : 0;
    const oOff = take(oAll * 4);
    const tiles: number[] = [];
    for (let t = 0; t < threads; t++) tiles.push(take(K * 2 * TN * 4));
    const v = arena.v;
    v.i8.set(op.spike.subarray(0, sAll), sOff);
    v.f32.set(op.weight.subarray(0, wAll), wOff >> 2);
    v.i32[ctr >> 2] = 0;
    for (let q = 0; q < n; q++) {
      const ji = (jobs + q * JOB_BYTES) >> 2;
      const set = (f: number, x: number) => (v.i32[ji + (f >> 2)] = x);
      set(J.listCtr, 0); set(J.listDone, 0); set(J.wReady, 1); set(J.itemCtr, 0);
      set(J.S, sOff + q * b.sStride); set(J.srs, op.srs); set(J.scs, op.scs); set(J.K, K); set(J.R, R);
      set(J.L, lOff + q * R * K * 4); set(J.C, cOff + q * R * 4); set(J.W, wOff + q * b.wStride * 4);
      set(J.wrs, op.wrs); set(J.wcs, op.wcs); set(J.ncols, C); set(J.P, 0);
      set(J.out, oOff + q * b.oStride * 4); set(J.ors, op.ors); set(J.ocs, op.ocs); set(J.scale, 0);
      set(J.listChunk, R); set(J.nRC, 1); set(J.rowsPerChunk, R); set(J.variant, event ? 0 : 1); set(J.nT, nT);
    }
    const parts: Call[][] = [];
    for (let t = 0; t < threads; t++) parts.push([{ fn: "run_batch", args: [jobs, n, ctr, tiles[t]!, SCRATCH_BASE + t * SCRATCH_SLOT] }]);
    const { posted, local } = postParts(parts);
    const mine = st.ex.run_batch(jobs, n, ctr, tiles[0]!, SCRATCH_BASE);
    for (const part of local) for (const call of part) callFn(st.ex, call);
    waitPosted(st.ex, posted);
    if (phaseTimes.enabled) {
      phaseTimes.batchCalls++;
      phaseTimes.callerItems += mine;
      phaseTimes.items += n;
    }
    const f = arena.v.f32;
    const ob = oOff >> 2;
    // the output region is fully covered when each contraction's output is (row-major or
    // transposed) and the contractions follow one another; otherwise element by element
    const denseOne = (op.ocs === 1 && op.ors === C) || (op.ors === 1 && op.ocs === R);
    if (denseOne && b.oStride === oOne) op.out.set(f.subarray(ob, ob + oAll));
    else {
      for (let q = 0; q < n; q++)
        for (let r = 0; r < R; r++)
          for (let c = 0; c < C; c++) {
            const idx = q * b.oStride + r * op.ors + c * op.ocs;
            op.out[idx] = f[ob + idx]!;
          }
    }
  } finally {
    release();
  }
}

/** Pack all tiles of op.weight into `dst` (for the weight cache), split over the pool. */
function packWhole(st: WasmState, op: SpikeOp, dst: number, nT: number, wSpan: number, take: (b: number) => number): void {
  const wOff = take(wSpan * 4);
  st.arena.v.f32.set(op.weight.subarray(0, wSpan), wOff >> 2);
  const threads = Math.max(1, Math.min(op.threads, poolThreads(), nT));
  const fullTiles = op.wcs === 1 ? Math.floor(op.C / TN) : 0;
  const parts: Call[][] = [];
  for (let t = 0; t < threads; t++) {
    const calls: Call[] = [];
    const [k0, k1] = split(op.K, threads, t);
    if (fullTiles > 0 && k1 > k0) calls.push({ fn: "pack_fast", args: [wOff, op.wrs, op.K, k0, k1, 0, fullTiles, dst] });
    const [g0, g1] = split(nT - fullTiles, threads, t);
    if (g1 > g0) calls.push({ fn: "pack", args: [wOff, op.wrs, op.wcs, op.K, op.C, fullTiles + g0, fullTiles + g1, dst] });
    parts.push(calls);
  }
  runParallel(st.ex, parts);
}

function evictPacked(incoming: number): void {
  if (packedBytes + incoming <= packedCacheLimit) return;
  const entries = [...packedLive].sort((a, b) => a.lastUse - b.lastUse);
  for (const e of entries) {
    if (packedBytes + incoming <= packedCacheLimit) break;
    dropPacked(e);
  }
}

/**
 * Access for the other kernels of this module (wasm-vector.ts): allocation in the shared
 * memory, its current views, and running calls on this thread plus the workers.
 */
export interface WasmAccess {
  alloc(bytes: number, pool?: BufferPool): number;
  free(off: number): void;
  readonly views: { u8: Uint8Array; i8: Int8Array; i32: Int32Array; f32: Float32Array };
  /** parts[0] on this thread, parts[t] on worker t-1 (or here, if fewer are available). */
  runParts(parts: { fn: "vec_run" | "gelu_f32" | "softmax_rows" | "layernorm_rows"; args: number[] }[][]): void;
  /** The module's scalar double functions, on this thread (tests compare them with Math). */
  readonly scalar: { exp(x: number): number; erf(x: number): number };
  readonly rows: RowsKernels;
}

/** Made once per module instance: kernels of a decoding step call this dozens of times per token. */
let access: { st: WasmState; api: WasmAccess } | null = null;

export function wasmAccess(): WasmAccess | null {
  const st = state;
  if (!st) return null;
  if (access?.st === st) return access.api;
  const api: WasmAccess = {
    alloc: (bytes, bp) => st.arena.alloc(bytes, bp),
    free: (off) => st.arena.free(off),
    get views() {
      return st.arena.v;
    },
    runParts: (parts) => runParallel(st.ex, parts),
    scalar: { exp: (x) => st.ex.exp_f64(x), erf: (x) => st.ex.erf_f64(x) },
    rows: st.ex,
  };
  access = { st, api };
  return api;
}

/** Bytes of wasm linear memory currently reserved (for diagnostics / benchmarks). */
export function wasmMemoryBytes(): number {
  return state ? state.memory.buffer.byteLength : 0;
}
