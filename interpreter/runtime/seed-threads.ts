/**
 * Seeded initial values of many tensors at once, split between the calling thread and one
 * more thread when there is enough to fill (a BERT-base model is 109 M seeded values, about a
 * second on one thread). Values are exactly `fillSeeded`'s on one thread: each thread fills
 * whole pieces of tensors, and a piece starting at element `first` skips to its words.
 *
 * Synchronous on purpose (ParamStore.create is): the other thread writes into shared memory
 * and the caller blocks on an Atomics flag once its own share is done. Tensors the other
 * thread fills are backed by a SharedArrayBuffer each; everything else is ordinary memory.
 * Where no thread can be started (one core, a page without cross-origin isolation) or the
 * thread fails, the caller fills everything itself.
 */
import { platform } from "#platform";
import { type Init, fillSeeded, fillSeededRows, fillSeededSource } from "../engine/random.js";
import { fillUniformWasm, seedWasmReady, wasmSeedable } from "./seed-wasm.js";

export interface SeedJob {
  readonly path: string;
  readonly init: Init;
  readonly size: number;
  /** Only these rows (ascending) of a [size / width, width] table; the rest stay zero. */
  readonly rows?: { readonly width: number; readonly indices: readonly number[] };
}

/** Relative cost per value (measured: 5.4 ns uniform, 30 ns normal, whose Box–Muller uses log, cos and sin). */
const COST: Readonly<Record<Init["kind"], number>> = { uniform: 1, normal: 6, zeros: 0, ones: 0 };
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

/** What the last `seededValues` call did with the other thread (tests and benches read it). */
export const seedThreadStats = { pieces: 0, filledByThread: false };

/** The jobs' tensors, filled. */
export function seededValues(allJobs: readonly SeedJob[], seed: number, opts: SeedOptions = {}): Float32Array[] {
  // Tables seeded row by row are filled here (stepping between rows is cheap); uniform
  // tensors on the WebAssembly seeder when it is ready (four streams at once, the same
  // values); the rest may split between threads.
  const onWasm = (j: SeedJob) => opts.wasm !== false && !j.rows && j.init.kind === "uniform" && wasmSeedable(j.init.bound) && seedWasmReady();
  const out: (Float32Array | undefined)[] = allJobs.map((j) => (j.rows ? fillSeededRows(new Float32Array(j.size), j.init, seed, j.path, j.rows.width, j.rows.indices) : onWasm(j) ? new Float32Array(j.size) : undefined));
  const uniform = allJobs.flatMap((j, i) => (onWasm(j) ? [{ out: out[i]!, bound: (j.init as { bound: number }).bound, path: j.path, first: 0 }] : []));
  seedWasmStats.values = uniform.reduce((a, p) => a + p.out.length, 0);
  if (uniform.length > 0) fillUniformWasm(uniform, seed);
  const whole = allJobs.flatMap((j, i) => (out[i] ? [] : [i]));
  const values = seededWhole(whole.map((i) => allJobs[i]!), seed, opts);
  for (const [k, i] of whole.entries()) out[i] = values[k];
  return out as Float32Array[];
}

function seededWhole(jobs: readonly SeedJob[], seed: number, opts: SeedOptions): Float32Array[] {
  const threads = opts.threads ?? Math.min(2, platform.availableParallelism());
  const total = jobs.reduce((a, j) => a + j.size * COST[j.init.kind], 0);
  seedThreadStats.pieces = 0;
  seedThreadStats.filledByThread = false;
  if (threads < 2 || total < (opts.minSplitCost ?? MIN_SPLIT_COST)) return jobs.map((j) => fillSeeded(new Float32Array(j.size), j.init, seed, j.path));
  const { mine, theirs } = split(jobs, total / 2);
  const shared = new Set(theirs.map((p) => p.job));
  const out = jobs.map((j, i) => (shared.has(i) ? new Float32Array(new SharedArrayBuffer(j.size * 4)) : new Float32Array(j.size)));
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const pieces = theirs.map((p) => ({ ...p, buffer: out[p.job]!.buffer, init: jobs[p.job]!.init, path: jobs[p.job]!.path }));
  const thread = startFiller(pieces, seed, flag);
  for (const p of mine) fillPiece(out, jobs, p, seed);
  // Unless the thread filled its pieces (it never started, failed, or is far too slow):
  // fill them here (the same values, so a late thread writing too changes nothing).
  seedThreadStats.pieces = theirs.length;
  seedThreadStats.filledByThread = thread && finished(flag);
  if (!seedThreadStats.filledByThread) for (const p of theirs) fillPiece(out, jobs, p, seed);
  return out;
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
 * The jobs cut where the running cost reaches `half`: pieces before the cut are the caller's,
 * after it the other thread's. A tensor the cut falls in is split at an even element (a
 * normal pair is never split).
 */
function split(jobs: readonly SeedJob[], half: number): { mine: Piece[]; theirs: Piece[] } {
  const mine: Piece[] = [];
  const theirs: Piece[] = [];
  let acc = 0;
  for (const [i, j] of jobs.entries()) {
    const cost = j.size * COST[j.init.kind];
    if (cost === 0 || acc >= half) theirs.push({ job: i, first: 0, count: j.size });
    else if (acc + cost <= half) mine.push({ job: i, first: 0, count: j.size });
    else {
      const cut = Math.min(j.size, 2 * Math.ceil((half - acc) / COST[j.init.kind] / 2));
      mine.push({ job: i, first: 0, count: cut });
      if (cut < j.size) theirs.push({ job: i, first: cut, count: j.size - cut });
    }
    acc += cost;
  }
  return { mine, theirs };
}

/** Starts the thread filling `pieces`; it sets `flag` to RUNNING, then DONE (or 2 if it failed). */
function startFiller(pieces: readonly (Piece & { buffer: ArrayBufferLike; init: Init; path: string })[], seed: number, flag: Int32Array): boolean {
  const body = `${fillSeededSource()}
const { pieces, seed, flag } = workerData;
Atomics.store(flag, 0, ${RUNNING});
Atomics.notify(flag, 0);
try {
  for (const p of pieces) fillSeeded(new Float32Array(p.buffer, p.first * 4, p.count), p.init, seed, p.path, p.first);
  Atomics.store(flag, 0, ${DONE});
} catch {
  Atomics.store(flag, 0, 2);
}
Atomics.notify(flag, 0);
postToParent("done");
`;
  try {
    const thread = platform.startThread(body, { pieces, seed, flag });
    if (!thread) return false;
    thread.ready.catch(() => Atomics.store(flag, 0, 2));
    thread.unref();
    return true;
  } catch {
    return false;
  }
}
