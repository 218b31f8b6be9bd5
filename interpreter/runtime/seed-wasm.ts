/**
 * Uniform seeded values on WebAssembly SIMD (seed-wasm-wat.ts): four parameters' streams at a
 * time, one per lane, the same float32 bits as `fillSeeded` (engine/random.ts). A BERT-base
 * model seeds 85 M uniform values (every linear weight), about 0.45 s of one core in
 * JavaScript, which a one-shot command pays before its forward.
 *
 * The module is assembled and compiled by `startSeedWasm` (asynchronous: wabt, when the
 * binary is not cached); until it is ready, or where it cannot be, callers fill in JavaScript
 * (seed-threads.ts), which gives the same values.
 */
import { platform } from "#platform";
import { watToBinary } from "../engine/kernels/wat-binary.js";
import { stateAfter } from "../engine/random.js";
import { SEED_CHUNK, SEED_SCRATCH, seedWat } from "./seed-wasm-wat.js";

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The seeder's instance as the driver sees it (built by `seederOf`, here or on another thread). */
export interface Seeder {
  readonly fill: (n: number) => void;
  /** State words: s_j of lane k at [4 * j + k]. */
  readonly words: Uint32Array;
  /** Lane k's bound at [k]. */
  readonly bounds: Float64Array;
  /** Lane k's output run at [k * chunk, (k + 1) * chunk). */
  readonly scratch: Float32Array;
  readonly chunk: number;
}

/** The driver's view of an instance's exports (self-contained: a filler thread runs its source). */
export function seederOf(ex: Record<string, unknown>, scratchAt: number, chunk: number): Seeder {
  const buf = (ex.mem as { buffer: ArrayBuffer }).buffer;
  return { fill: ex.fill as (n: number) => void, words: new Uint32Array(buf, 0, 16), bounds: new Float64Array(buf, 64, 4), scratch: new Float32Array(buf, scratchAt, 4 * chunk), chunk };
}

let seeder: Seeder | null = null;
let compiled: object | null = null;
let starting: Promise<boolean> | null = null;

/** Assembles, compiles and instantiates the seeder (once); resolves false where it cannot run (no SIMD). */
export function startSeedWasm(): Promise<boolean> {
  starting ??= (async () => {
    try {
      if (!WA) return false;
      const bin = await watToBinary("seed-uniform.wat", seedWat(), { simd: true });
      // One hot loop run ~20 000 times: straight to optimized code, as the kernels are.
      const module = platform.compileEagerly(() => new WA.Module(bin));
      seeder = seederOf(new WA.Instance(module, {}).exports, SEED_SCRATCH, SEED_CHUNK);
      compiled = module;
      return true;
    } catch {
      return false;
    }
  })();
  return starting;
}

export function seedWasmReady(): boolean {
  return seeder !== null;
}

/** The compiled seeder module (for a filler thread to instantiate), once ready. */
export function seedWasmModule(): object | null {
  return compiled;
}

/** A uniform piece to fill: `out` is elements [first, first + out.length) of parameter `path`'s tensor. */
export interface UniformPiece {
  readonly out: Float32Array;
  readonly bound: number;
  readonly path: string;
  readonly first: number;
}

/** Whether the seeder gives `fillSeeded`'s values for this bound (a non-finite one can make NaNs, whose bits it does not promise). */
export const wasmSeedable = (bound: number): boolean => Number.isFinite(bound);

/**
 * Fills `pieces` (finite bounds) with exactly `fillSeeded(out, { kind: "uniform", bound },
 * seed, path, first)`'s values. Requires `seedWasmReady()`.
 */
export function fillUniformWasm(pieces: readonly UniformPiece[], seed: number): void {
  if (!seeder) throw new Error("internal: the WebAssembly seeder is not started (startSeedWasm)");
  for (const p of pieces) if (!wasmSeedable(p.bound)) throw new RangeError(`fillUniformWasm: bound ${p.bound} of "${p.path}" is not finite`);
  drivePieces(seeder, pieces, seed, stateAfter);
}

/**
 * The lanes' driver: lanes take pieces longest first, so pieces of one size (a model's
 * layers) run side by side to the end; each `fill` runs as many values as the shortest
 * active lane has left (at most a chunk), which are copied out to their tensors.
 * Self-contained (everything it uses is an argument): a filler thread runs its source.
 */
export function drivePieces(s: Seeder, pieces: readonly UniformPiece[], seed: number, stateOf: (seed: number, path: string, skip: number) => Uint32Array): void {
  const order = [...pieces].sort((a, b) => b.out.length - a.out.length);
  let next = 0;
  const lanes: ({ out: Float32Array; pos: number } | undefined)[] = [undefined, undefined, undefined, undefined];
  const assign = (k: number) => {
    const p = order[next++];
    if (!p) {
      lanes[k] = undefined;
      s.bounds[k] = 0;
      return;
    }
    const st = stateOf(seed, p.path, p.first);
    for (let j = 0; j < 4; j++) s.words[4 * j + k] = st[j]!;
    s.bounds[k] = p.bound;
    lanes[k] = { out: p.out, pos: 0 };
  };
  for (let k = 0; k < 4; k++) assign(k);
  for (;;) {
    let n = s.chunk;
    let active = false;
    for (const l of lanes) if (l) (active = true), (n = Math.min(n, l.out.length - l.pos));
    if (!active) return;
    if (n > 0) s.fill(n);
    for (let k = 0; k < 4; k++) {
      const l = lanes[k];
      if (!l) continue;
      if (n > 0) l.out.set(s.scratch.subarray(k * s.chunk, k * s.chunk + n), l.pos);
      l.pos += n;
      if (l.pos >= l.out.length) assign(k);
    }
  }
}

/**
 * Source defining `seederOf`, `drivePieces` and `stateAfter` (with what it calls), and
 * SEED_SCRATCH / SEED_CHUNK: the body of a filler thread that instantiates the module it
 * is given and fills its share of the pieces.
 */
export function seedWasmSource(): string {
  return `const seederOf = ${seederOf.toString()};\nconst drivePieces = ${drivePieces.toString()};\nconst stateAfter = ${stateAfter.toString()};\nconst SEED_SCRATCH = ${SEED_SCRATCH};\nconst SEED_CHUNK = ${SEED_CHUNK};\n`;
}
