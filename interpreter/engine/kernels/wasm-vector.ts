/**
 * Runs vector-machine programs (wasm-vector-wat.ts) on the WebAssembly backend: copies the
 * operands into the shared linear memory (rows padded to a multiple of 16 elements), runs
 * `vec_run` over chunks of elements split between this thread and the kernel workers, and
 * copies the results back. Chunks are independent (a program is elementwise), so results are
 * the same bits for every thread count.
 */
import { VEC_CHUNK, VEC_INSTR_WORDS, VEC_OPS, type VecOp } from "./wasm-vector-wat.js";
import { poolThreads, wasmAccess } from "./wasm-backend.js";
import { nativeAddon, startNative } from "./native-backend.js";

export type VecOperand =
  /** A scratch register (VEC_CHUNK floats per thread). */
  | { readonly kind: "reg"; readonly index: number }
  /** Input `index`, [T, n], read at the current step. */
  | { readonly kind: "input"; readonly index: number }
  /** State `index`, [n]: read and written in place, carried across steps. */
  | { readonly kind: "state"; readonly index: number }
  /** Per-element parameter `index`, [n]. */
  | { readonly kind: "param"; readonly index: number }
  /** Entry `index` of the per-step scalar table (only as the operand of `splat`). */
  | { readonly kind: "scalar"; readonly index: number }
  /** The outputs, [T, n], written at the current step. */
  | { readonly kind: "levels" }
  | { readonly kind: "value" }
  | { readonly kind: "none" };

export interface VecInstr {
  readonly op: VecOp;
  readonly d: VecOperand;
  readonly a: VecOperand;
  readonly b?: VecOperand;
  /** Run only for a thread's first (chunk, step): a splat of a constant. */
  readonly once?: boolean;
}

export interface VecProgram {
  readonly instrs: readonly VecInstr[];
  /** Scratch registers used. */
  readonly regs: number;
  /** Entries per step of the scalar table. */
  readonly scalars: number;
}

export interface VecIO {
  /** [T * n] each; steps t0..t1-1 are read. */
  readonly inputs: readonly Float32Array[];
  /** [n] each, read before and written back after the run. */
  readonly states: readonly Float32Array[];
  /** [n] each. */
  readonly params: readonly Float32Array[];
  /** [(t1 - t0) * scalars]: the scalar table, step-major. */
  readonly table: Float32Array;
  /** [T * n]: int8 levels (written by `i8`) or float levels. */
  readonly levels?: Int8Array | Float32Array;
  readonly value?: Float32Array;
}

/**
 * Element-steps below which one thread does the work. Measured (`npm run bench -- --group
 * layers`, 2-core VM at load 4): the BERT-base FFN neuron (1.57M element-steps) ran 8.1x the
 * JS kernel on one thread and 6.8x on two (copying in and out stays on the caller, and waking
 * the worker costs ~0.5-1 ms here), so only steps well above that size are split.
 */
const VEC_THREAD_MIN = 1 << 22;

/**
 * Element-steps below which the native vector machine runs on one thread (starting a thread
 * costs tens of microseconds; the FFN neuron of a BERT-base block is 1.57M element-steps).
 */
const NATIVE_VEC_THREAD_MIN = 1 << 18;

const tuning = { chunk: VEC_CHUNK, threadMin: VEC_THREAD_MIN, nativeThreadMin: NATIVE_VEC_THREAD_MIN };
/**
 * Chunk length (a multiple of 16, at most VEC_CHUNK) and the work below which one thread
 * runs (both machines; the native one has its own chunk). Tests shrink both so that small programs run as many chunks over several threads;
 * results never depend on them.
 */
export function setVecTuning(t: { chunk?: number; threadMin?: number }): void {
  const chunk = t.chunk ?? VEC_CHUNK;
  if (chunk % 16 !== 0 || chunk <= 0 || chunk > VEC_CHUNK) throw new RangeError(`chunk must be a multiple of 16 up to ${VEC_CHUNK}`);
  tuning.chunk = chunk;
  tuning.threadMin = t.threadMin ?? VEC_THREAD_MIN;
  tuning.nativeThreadMin = t.threadMin ?? NATIVE_VEC_THREAD_MIN;
}

/** Whether a vector machine can run now: the native one (loaded here if it can be) or WebAssembly's. */
export function vecReady(): boolean {
  return startNative() || wasmAccess() !== null;
}

/** Operand kinds and ops as native/vec_native.c numbers them. */
const NATIVE_KIND = { none: 0, reg: 1, input: 2, state: 3, param: 4, scalar: 5, levels: 6, value: 7 } as const;
const nativeCode = new WeakMap<VecProgram, Int32Array>();

function nativeProgram(prog: VecProgram): Int32Array {
  let code = nativeCode.get(prog);
  if (code) return code;
  code = new Int32Array(prog.instrs.length * 7);
  const put = (o: VecOperand | undefined, at: number) => {
    code![at] = NATIVE_KIND[o?.kind ?? "none"];
    code![at + 1] = o && "index" in o ? o.index : 0;
  };
  prog.instrs.forEach((ins, j) => {
    code![j * 7] = VEC_OPS[ins.op];
    put(ins.d, j * 7 + 1);
    put(ins.a, j * 7 + 3);
    put(ins.b, j * 7 + 5);
  });
  nativeCode.set(prog, code);
  return code;
}


/**
 * Runs `prog` for steps [t0, t1) over n elements: on the native vector machine (in place, no
 * copies) when it is loaded, else on WebAssembly's (needs the WebAssembly backend);
 * `machine` forces one.
 */
/** Programs run per machine since the process started (diagnostics: `--timings`, tests). */
export const vecMachineRuns = { native: 0, wasm: 0 };

export function runVecProgram(prog: VecProgram, io: VecIO, n: number, t0: number, t1: number, threads = 1, machine: "auto" | "wasm" | "native" = "auto"): void {
  if (machine === "native" && !startNative()) throw new Error("vector kernels: the native vector machine is not loaded");
  const native = machine !== "wasm" && startNative() ? nativeAddon() : null;
  if (native) {
    if (n === 0 || t1 <= t0) return;
    vecMachineRuns.native++;
    const nThreads = n * (t1 - t0) < tuning.nativeThreadMin ? 1 : Math.max(1, threads);
    native.vecRun(nativeProgram(prog), prog.instrs.length, prog.regs, prog.scalars, io.inputs, io.states, io.params, io.table, io.levels ?? null, io.value ?? null, n, t0, t1, nThreads);
    return;
  }
  const w = wasmAccess();
  if (!w) throw new Error("vector kernels: WebAssembly backend not initialised (await initSpikeKernels())");
  vecMachineRuns.wasm++;
  const tc = t1 - t0;
  if (n === 0 || tc <= 0) return;
  const np = Math.ceil(n / 16) * 16;
  const CH = tuning.chunk;
  const nChunks = Math.ceil(np / CH);
  const nThreads = n * tc < tuning.threadMin ? 1 : Math.max(1, Math.min(threads, poolThreads(), nChunks));
  const allocs: number[] = [];
  const take = (bytes: number) => {
    const o = w.alloc(Math.max(16, bytes));
    allocs.push(o);
    return o;
  };
  try {
    const inOff = io.inputs.map(() => take(tc * np * 4));
    const stOff = io.states.map(() => take(np * 4));
    const parOff = io.params.map(() => take(np * 4));
    const tabOff = take(io.table.length * 4);
    const lvBytes = io.levels instanceof Int8Array ? 1 : 4;
    const lvOff = io.levels ? take(tc * np * lvBytes) : 0;
    const valOff = io.value ? take(tc * np * 4) : 0;
    const progOff = take(prog.instrs.length * VEC_INSTR_WORDS * 4);
    const scrOff: number[] = [];
    for (let k = 0; k < nThreads; k++) scrOff.push(take(Math.max(1, prog.regs) * VEC_CHUNK * 4));

    const v = w.views;
    const rowsIn = (src: Float32Array, off: number) => {
      if (np === n) v.f32.set(src.subarray(t0 * n, t1 * n), off >> 2);
      else for (let t = 0; t < tc; t++) v.f32.set(src.subarray((t0 + t) * n, (t0 + t + 1) * n), (off >> 2) + t * np);
    };
    io.inputs.forEach((x, k) => rowsIn(x, inOff[k]!));
    io.states.forEach((x, k) => v.f32.set(x.subarray(0, n), stOff[k]! >> 2));
    io.params.forEach((x, k) => v.f32.set(x.subarray(0, n), parOff[k]! >> 2));
    v.f32.set(io.table, tabOff >> 2);

    // operand -> [base, tStride, cStride, scratch flag]
    const C4 = CH * 4;
    const operand = (o: VecOperand | undefined): [number, number, number, number] => {
      if (!o) return [0, 0, 0, 0];
      switch (o.kind) {
        case "reg": return [o.index * C4, 0, 0, 1];
        case "input": return [inOff[o.index]!, np * 4, C4, 0];
        case "state": return [stOff[o.index]!, 0, C4, 0];
        case "param": return [parOff[o.index]!, 0, C4, 0];
        case "scalar": return [tabOff + o.index * 4, prog.scalars * 4, 0, 0];
        case "levels": return lvBytes === 1 ? [lvOff, np, CH, 0] : [lvOff, np * 4, C4, 0];
        case "value": return [valOff, np * 4, C4, 0];
        case "none": return [0, 0, 0, 0];
      }
    };
    const words = v.i32;
    prog.instrs.forEach((ins, j) => {
      const o = (progOff >> 2) + j * VEC_INSTR_WORDS;
      const [d, a, b] = [operand(ins.d), operand(ins.a), operand(ins.b)];
      words[o] = VEC_OPS[ins.op];
      words.set([d[0], d[1], d[2], a[0], a[1], a[2], b[0], b[1], b[2], d[3], a[3], b[3], ins.once ? 1 : 0], o + 1);
    });

    const parts: { fn: "vec_run"; args: number[] }[][] = [];
    for (let k = 0; k < nThreads; k++) {
      const c0 = Math.floor((nChunks * k) / nThreads);
      const c1 = Math.floor((nChunks * (k + 1)) / nThreads);
      parts.push([{ fn: "vec_run", args: [progOff, prog.instrs.length, np, c0, c1, tc, scrOff[k]!, CH] }]);
    }
    w.runParts(parts);

    const r = w.views;
    io.states.forEach((x, k) => x.set(r.f32.subarray(stOff[k]! >> 2, (stOff[k]! >> 2) + n)));
    const rowsOut = (dst: Int8Array | Float32Array, off: number, bytes: number) => {
      const src = bytes === 1 ? r.i8 : r.f32;
      const base = bytes === 1 ? off : off >> 2;
      if (np === n) dst.set(src.subarray(base, base + tc * n) as never, t0 * n);
      else for (let t = 0; t < tc; t++) dst.set(src.subarray(base + t * np, base + t * np + n) as never, (t0 + t) * n);
    };
    if (io.levels) rowsOut(io.levels, lvOff, lvBytes);
    if (io.value) rowsOut(io.value, valOff, 4);
  } finally {
    for (const o of allocs) w.free(o);
  }
}
