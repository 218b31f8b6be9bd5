/**
 * Seeded initial values of many tensors at once, split between the calling thread and one
 * more thread when there is enough to fill (a BERT-base model is 109 M seeded values, about a
 * second on one thread). Values are exactly `fillSeeded`'s on one thread: each thread fills
 * whole pieces of tensors, and a piece starting at element `first` skips to its words.
 *
 * Synchronous on purpose (ParamStore.create is): the other thread writes into shared memory
 * and the caller blocks on an Atomics flag once its own share is done. Tensors the other
 * thread fills are views of one SharedArrayBuffer; the caller's, of one ArrayBuffer.
 * Where no thread can be started (one core, a page without cross-origin isolation) or the
 * thread fails, the caller fills everything itself.
 *
 * Uniform tensors (every linear weight) go to the WebAssembly seeder when it has been
 * started (seed-wasm.ts): each thread runs its own instance of it on its share.
 */
import { platform } from "#platform";
import { type Init, fillSeeded, fillSeededRows, fillSeededSource } from "../engine/random.js";
import { fillUniformWasm, seedWasmModule, seedWasmReady, seedWasmSource, wasmSeedable } from "./seed-wasm.js";

export interface SeedJob {
  readonly path: string;
  readonly init: Init;
  readonly size: number;
  /** Only these rows (ascending) of a [size / width, width] table; the rest stay zero. */
  readonly rows?: { readonly width: number; readonly indices: readonly number[] };
}

/** Relative cost per value (measured: 5.4 ns uniform, 30 ns normal, whose Box–Muller uses log, cos and sin). */
const COST: Readonly<Record<Init["kind"], number>> = { uniform: 1, normal: 6, zeros: 0, ones: 0 };
/** The same for a uniform value on the WebAssembly seeder (first touch of the tensor's memory included). */
const WASM_COST = 0.5;
/**
 * Below this much work (in uniform values, ~45 ms) one thread does it all: starting a thread
 * costs ~30 ms of the other core.
 */
export const MIN_SPLIT_COST = 8_000_000;
/** How long the caller waits for the other thread to start, then to finish, before filling its share itself. */
const START_MS = 5_000;
const FINISH_MS = 60_000;
/** The flag the other thread sets: not started yet, running, done, failed. */
const NOT_STARTED = 0;
const RUNNING = 3;
const DONE = 1;

interface Piece {
  readonly job: number;
  readonly first: number;
  readonly count: number;
}

export interface SeedOptions {
  /** 1 keeps everything on the calling thread (default: 2 where there are 2 cores). */
  readonly threads?: number;
  /** Work below which the calling thread does it all (default MIN_SPLIT_COST). */
  readonly minSplitCost?: number;
  /** false: uniform tensors in JavaScript even when the WebAssembly seeder is ready (tests compare the two). */
  readonly wasm?: boolean;
}

/** Values the last `seededValues` call filled on the WebAssembly seeder. */
export const seedWasmStats = { values: 0 };

/**
 * What the last `seededValues` call did with the other thread (tests and benches read it);
 * a ParamStore adds the tensors it took from a prefill (seeded on another thread as well).
 */
export const seedThreadStats = { pieces: 0, filledByThread: false };

/** The jobs' tensors, filled. */
export function seededValues(allJobs: readonly SeedJob[], seed: number, opts: SeedOptions = {}): Float32Array[] {
  // Tables seeded row by row are filled here (stepping between rows is cheap); the rest may split.
  const out: (Float32Array | undefined)[] = allJobs.map((j) => (j.rows ? fillSeededRows(new Float32Array(j.size), j.init, seed, j.path, j.rows.width, j.rows.indices) : undefined));
  const whole = allJobs.flatMap((j, i) => (j.rows ? [] : [i]));
  const values = seededWhole(whole.map((i) => allJobs[i]!), seed, opts);
  for (const [k, i] of whole.entries()) out[i] = values[k];
  return out as Float32Array[];
}

function seededWhole(jobs: readonly SeedJob[], seed: number, opts: SeedOptions): Float32Array[] {
  const threads = opts.threads ?? Math.min(2, platform.availableParallelism());
  // Uniform tensors (finite bounds) on the WebAssembly seeder when it is ready: four
  // streams at once, the same values.
  const module = opts.wasm !== false && seedWasmReady() ? seedWasmModule() : null;
  const onWasm = jobs.map((j) => module !== null && j.init.kind === "uniform" && wasmSeedable(j.init.bound));
  const perValue = jobs.map((j, i) => (onWasm[i] ? WASM_COST : COST[j.init.kind]));
  const total = jobs.reduce((a, j, i) => a + j.size * perValue[i]!, 0);
  seedThreadStats.pieces = 0;
  seedThreadStats.filledByThread = false;
  seedWasmStats.values = jobs.reduce((a, j, i) => a + (onWasm[i] ? j.size : 0), 0);
  const all = jobs.map((j, i) => ({ job: i, first: 0, count: j.size }));
  if (threads < 2 || total < (opts.minSplitCost ?? MIN_SPLIT_COST)) {
    const out = slab(jobs.map((j) => j.size), false);
    fillPieces(out, jobs, onWasm, all, seed);
    return out;
  }
  const { mine, theirs } = split(jobs, perValue, total / 2);
  const shared = new Set(theirs.map((p) => p.job));
  const own = slab(jobs.map((j, i) => (shared.has(i) ? 0 : j.size)), false);
  const theirsOut = slab(jobs.map((j, i) => (shared.has(i) ? j.size : 0)), true);
  const out = jobs.map((_, i) => (shared.has(i) ? theirsOut[i]! : own[i]!));
  const flag = new Int32Array(new SharedArrayBuffer(4));
  // (a piece's elements start at its tensor's offset in the slab, plus `first`)
  const pieces = theirs.map((p) => ({ ...p, buffer: out[p.job]!.buffer, at: out[p.job]!.byteOffset + p.first * 4, init: jobs[p.job]!.init, path: jobs[p.job]!.path, wasm: onWasm[p.job]! }));
  const thread = startFiller(pieces, seed, flag, module);
  fillPieces(out, jobs, onWasm, mine, seed);
  // Unless the thread filled its pieces (it never started, failed, or is far too slow):
  // fill them here (the same values, so a late thread writing too changes nothing).
  seedThreadStats.pieces = theirs.length;
  seedThreadStats.filledByThread = thread && finished(flag);
  if (!seedThreadStats.filledByThread) fillPieces(out, jobs, onWasm, theirs, seed);
  return out;
}

/**
 * Arrays of these sizes, views of one buffer (shared: a SharedArrayBuffer, which another
 * thread can fill): V8 counts each new buffer towards its external memory and collects
 * garbage each time that grows by tens of MB, which a BERT-base model's 73 weight tensors
 * did about ten times (~0.1 s) while they were made one by one.
 */
function slab(sizes: readonly number[], shared: boolean): Float32Array[] {
  const total = sizes.reduce((a, n) => a + n, 0);
  const buffer = shared ? new SharedArrayBuffer(total * 4) : new ArrayBuffer(total * 4);
  let at = 0;
  return sizes.map((n) => {
    const view = new Float32Array(buffer, at * 4, n);
    at += n;
    return view;
  });
}

/** Fills `pieces` on this thread: those of uniform jobs marked `onWasm` on the seeder, the rest in JavaScript. */
function fillPieces(out: readonly Float32Array[], jobs: readonly SeedJob[], onWasm: readonly boolean[], pieces: readonly Piece[], seed: number): void {
  const wasm = pieces.filter((p) => onWasm[p.job]);
  if (wasm.length > 0) fillUniformWasm(wasm.map((p) => ({ out: out[p.job]!.subarray(p.first, p.first + p.count), bound: (jobs[p.job]!.init as { bound: number }).bound, path: jobs[p.job]!.path, first: p.first })), seed);
  for (const p of pieces) if (!onWasm[p.job]) fillPiece(out, jobs, p, seed);
}

/** Tensors being seeded on another thread, started before their spec was compiled (prefillOnThread). */
export interface Prefill {
  readonly seed: number;
  readonly jobs: readonly SeedJob[];
  /** Job i's tensor (a view of one SharedArrayBuffer): valid once `wait()` returned true. */
  readonly values: readonly Float32Array[];
  /** Blocks until the thread is done; false if it failed or never started (then the values are not to be used). */
  wait(): boolean;
}

/**
 * The last prefill: values it was started with and how many of them on the WebAssembly
 * seeder (prefillOnThread), and the tensors and values the ParamStore took from it.
 */
export const prefillStats = { started: 0, onWasm: 0, tensors: 0, values: 0 };

/**
 * Starts seeding the uniform ones of whole tensors `jobs` (no `rows`) on another thread now,
 * on the WebAssembly seeder when it is ready: a one-shot command starts this before it
 * compiles its spec (the jobs from a list kept from an earlier run, runtime/param-list.ts),
 * so the seeding overlaps the compile instead of following it. Normal tensors are left to
 * the store (a normal value costs six uniform ones in JavaScript: mlm-base's 23 M-value word
 * table, tied to its decoder, is better split between both threads after the compile).
 * Undefined where no thread can be started or there is nothing to start.
 */
export function prefillOnThread(allJobs: readonly SeedJob[], seed: number, opts: Pick<SeedOptions, "threads" | "wasm"> = {}): Prefill | undefined {
  const threads = opts.threads ?? Math.min(2, platform.availableParallelism());
  const jobs = allJobs.filter((j) => !j.rows && j.init.kind === "uniform");
  if (threads < 2 || jobs.length === 0) return undefined;
  const module = opts.wasm !== false && seedWasmReady() ? seedWasmModule() : null;
  const values = slab(jobs.map((j) => j.size), true);
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const pieces = jobs.map((j, i) => ({ job: i, first: 0, count: j.size, buffer: values[i]!.buffer, at: values[i]!.byteOffset, init: j.init, path: j.path, wasm: module !== null && j.init.kind === "uniform" && wasmSeedable(j.init.bound) }));
  if (!startFiller(pieces, seed, flag, module)) return undefined;
  prefillStats.started = pieces.reduce((a, p) => a + p.count, 0);
  prefillStats.onWasm = pieces.reduce((a, p) => a + (p.wasm ? p.count : 0), 0);
  let done: boolean | undefined;
  return { seed, jobs, values, wait: () => (done ??= finished(flag)) };
}

/** Blocks until the other thread is done; false if it did not start in time, failed or did not finish. */
function finished(flag: Int32Array): boolean {
  Atomics.wait(flag, 0, NOT_STARTED, START_MS);
  Atomics.wait(flag, 0, RUNNING, FINISH_MS);
  return Atomics.load(flag, 0) === DONE;
}

function fillPiece(out: readonly Float32Array[], jobs: readonly SeedJob[], p: Piece, seed: number): void {
  const j = jobs[p.job]!;
  fillSeeded(out[p.job]!.subarray(p.first, p.first + p.count), j.init, seed, j.path, p.first);
}

/**
 * The jobs cut where the running cost (`perValue[i]` per element of job i) reaches `half`:
 * pieces before the cut are the caller's, after it the other thread's. A tensor the cut falls
 * in is split at an even element (a normal pair is never split).
 */
function split(jobs: readonly SeedJob[], perValue: readonly number[], half: number): { mine: Piece[]; theirs: Piece[] } {
  const mine: Piece[] = [];
  const theirs: Piece[] = [];
  let acc = 0;
  for (const [i, j] of jobs.entries()) {
    const cost = j.size * perValue[i]!;
    if (cost === 0 || acc >= half) theirs.push({ job: i, first: 0, count: j.size });
    else if (acc + cost <= half) mine.push({ job: i, first: 0, count: j.size });
    else {
      const cut = Math.min(j.size, 2 * Math.ceil((half - acc) / perValue[i]! / 2));
      mine.push({ job: i, first: 0, count: cut });
      if (cut < j.size) theirs.push({ job: i, first: cut, count: j.size - cut });
    }
    acc += cost;
  }
  return { mine, theirs };
}

/**
 * Starts the thread filling `pieces`; it sets `flag` to RUNNING, then DONE (or 2 if it
 * failed). Pieces marked `wasm` it fills on its own instance of `module` (the seeder).
 */
function startFiller(pieces: readonly (Piece & { buffer: ArrayBufferLike; at: number; init: Init; path: string; wasm: boolean })[], seed: number, flag: Int32Array, module: object | null): boolean {
  const body = `${fillSeededSource()}
${seedWasmSource()}
const { pieces, seed, flag, module } = workerData;
Atomics.store(flag, 0, ${RUNNING});
Atomics.notify(flag, 0);
try {
  const wasm = pieces.filter((p) => p.wasm);
  if (wasm.length > 0) {
    const seeder = seederOf(new WebAssembly.Instance(module, {}).exports, SEED_SCRATCH, SEED_CHUNK);
    drivePieces(seeder, wasm.map((p) => ({ out: new Float32Array(p.buffer, p.at, p.count), bound: p.init.bound, path: p.path, first: p.first })), seed, stateAfter);
  }
  for (const p of pieces) if (!p.wasm) fillSeeded(new Float32Array(p.buffer, p.at, p.count), p.init, seed, p.path, p.first);
  Atomics.store(flag, 0, ${DONE});
} catch {
  Atomics.store(flag, 0, 2);
}
Atomics.notify(flag, 0);
postToParent("done");
`;
  try {
    const thread = platform.startThread(body, { pieces, seed, flag, module });
    if (!thread) return false;
    thread.ready.catch(() => Atomics.store(flag, 0, 2));
    thread.unref();
    return true;
  } catch {
    return false;
  }
}
