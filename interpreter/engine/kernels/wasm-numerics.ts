/**
 * GELU, softmax rows and LayerNorm rows on the WebAssembly backend (wasm-numerics-wat.ts):
 * the same float32 bits as engine/numerics.ts gelu and engine/fast/rows.ts, several times
 * faster (the JavaScript spends most of its time in Math.exp calls and branchy erf code).
 *
 * Each call copies its operands into the shared linear memory, runs the kernel over element
 * or row ranges split between this thread and the kernel workers (ranges are independent,
 * so the bits never depend on the split), and copies the result out. Every function returns
 * false, doing nothing, when the backend is not initialised (initSpikeKernels()): callers then
 * run the JavaScript.
 */
import { poolThreads, wasmAccess, type WasmAccess } from "./wasm-backend.js";

/**
 * Work (elements) below which one thread runs: waking a worker costs ~0.5-1 ms on the
 * reference machine (2-core VM), the time GELU takes for about 2^16 elements in one thread.
 */
export const NUMERICS_THREAD_MIN = { gelu: 1 << 17, softmax: 1 << 17, layernorm: 1 << 20 };

const tuning = { ...NUMERICS_THREAD_MIN };
/** Tests lower the thresholds so that small inputs run split over threads too. */
export function setNumericsThreadMin(t: Partial<typeof NUMERICS_THREAD_MIN>): void {
  Object.assign(tuning, NUMERICS_THREAD_MIN, t);
}

export function wasmNumericsReady(): boolean {
  return wasmAccess() !== null;
}

type NumericsFn = "gelu_f32" | "softmax_rows" | "layernorm_rows";

/** Allocates `bytes` blocks, runs `body`, frees them whatever happens. */
function withBlocks<T>(w: WasmAccess, sizes: readonly number[], body: (offs: number[]) => T): T {
  const offs: number[] = [];
  try {
    for (const b of sizes) offs.push(w.alloc(Math.max(16, b)));
    return body(offs);
  } finally {
    for (const o of offs) w.free(o);
  }
}

/** Splits [0, n) into `threads` ranges and runs fn(range) on each thread. */
function runSplit(w: WasmAccess, fn: NumericsFn, n: number, threads: number, args: (a: number, b: number) => number[]): void {
  const parts: { fn: NumericsFn; args: number[] }[][] = [];
  for (let t = 0; t < threads; t++) {
    const a = Math.floor((n * t) / threads);
    const b = Math.floor((n * (t + 1)) / threads);
    parts.push(b > a ? [{ fn, args: args(a, b) }] : []);
  }
  w.runParts(parts);
}

function threadsFor(work: number, min: number, units: number, threads: number): number {
  return work < min ? 1 : Math.max(1, Math.min(threads, poolThreads(), units));
}

/** out[i] = gelu(x[i]) (engine/numerics.ts gelu) for i < x.length. `out` may be `x`. */
export function wasmGeluInto(x: Float32Array, out: Float32Array, threads = 1): boolean {
  const w = wasmAccess();
  if (!w) return false;
  const n = x.length;
  if (n === 0) return true;
  withBlocks(w, [n * 4, n * 4], ([buf, list]) => {
    w.views.f32.set(x, buf! >> 2);
    runSplit(w, "gelu_f32", n, threadsFor(n, tuning.gelu, n, threads), (a, b) => [buf!, buf!, a, b, list! + 4 * a]);
    out.set(w.views.f32.subarray(buf! >> 2, (buf! >> 2) + n));
  });
  return true;
}

/** engine/fast/rows.ts softmaxInto: softmax over rows of n. `out` may be `x`. */
export function wasmSoftmaxInto(x: Float32Array, n: number, out: Float32Array, threads = 1): boolean {
  const w = wasmAccess();
  if (!w) return false;
  const rows = n === 0 ? 0 : x.length / n;
  if (rows === 0) return true;
  const len = rows * n;
  withBlocks(w, [len * 4], ([buf]) => {
    w.views.f32.set(x.subarray(0, len), buf! >> 2);
    runSplit(w, "softmax_rows", rows, threadsFor(len, tuning.softmax, rows, threads), (a, b) => [buf!, buf!, n, a, b]);
    out.set(w.views.f32.subarray(buf! >> 2, (buf! >> 2) + len));
  });
  return true;
}

/** engine/fast/rows.ts layernormInto: LayerNorm over rows of d. `out` may be `x`. */
export function wasmLayernormInto(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number, d: number, out: Float32Array, threads = 1): boolean {
  const w = wasmAccess();
  if (!w) return false;
  const rows = d === 0 ? 0 : x.length / d;
  if (rows === 0) return true;
  const len = rows * d;
  withBlocks(w, [len * 4, d * 4, d * 4, 8], ([buf, g, b, e]) => {
    const v = w.views;
    v.f32.set(x.subarray(0, len), buf! >> 2);
    v.f32.set(gamma.subarray(0, d), g! >> 2);
    v.f32.set(beta.subarray(0, d), b! >> 2);
    new Float64Array(v.f32.buffer, e!, 1)[0] = eps;
    runSplit(w, "layernorm_rows", rows, threadsFor(len, tuning.layernorm, rows, threads), (r0, r1) => [buf!, g!, b!, buf!, d, e!, r0, r1]);
    out.set(w.views.f32.subarray(buf! >> 2, (buf! >> 2) + len));
  });
  return true;
}

/** The backend's scalar exp and erf (fdlibm ports), for tests: undefined before initSpikeKernels(). */
export function wasmScalarNumerics(): { exp(x: number): number; erf(x: number): number } | undefined {
  return wasmAccess()?.scalar;
}
