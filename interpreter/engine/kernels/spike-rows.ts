/**
 * `S @ W` for a few spike rows (a decoding step: one position, T time steps) on the
 * WebAssembly kernel `spike_rows` (wasm-rows-wat.ts), on the calling thread.
 *
 * The weights are copied once into the kernel module's memory as they are (row-major [K, N],
 * rows padded to a multiple of 16 columns) and kept, keyed by the array object, like the tile
 * kernels' packed weights (spike-matmul.ts `cacheWeights`): the caller promises not to mutate
 * W, or calls releaseRowsWeights(W). Stored as is, a decoding step reads each weight row once
 * and only where some row spikes, half what the tile kernels' [+W | -W] tiles take, and a
 * handful of rows costs no thread hand-off (measured: faster than the tile kernels up to 32
 * rows; ROWS_KERNEL_MAX_ROWS).
 *
 * Same bits as the reference loop on every input (spike-matmul.ts header): the kernel knows
 * integer levels only, so rows holding a NaN level run with it as 0 and come out NaN, and
 * every output where a zero level meets a non-finite weight is set to NaN afterwards (the
 * kernel skips zero levels; the non-finite weights are listed once, when they are copied).
 */
import { NAN_LEVEL } from "../levels.js";
import { knownFinite, weightScanStats } from "./spike-matmul.js";
import { wasmAccess, type WasmAccess } from "./wasm-backend.js";
import { ROWS_COLUMN_STEP } from "./wasm-rows-wat.js";

/**
 * Most spike rows the kernel is used for. Measured (weights [3072, 768] as declared, spike
 * rate 0.35, one thread, CPU ms for six weights, this kernel vs the tile kernels): on a
 * weight's first use (its copy here against its [+W | -W] packing there) 141/204 at 16 rows,
 * 109/146 at 32, 147/201 at 64, 187/221 at 96; once copied or packed 22/29 at 16, 35/29 at
 * 32, 70/66 at 64, 103/87 at 96. Up to 64 rows (a prompt of 16 tokens at T = 4) the copy
 * this kernel makes is also what the decoding steps after the prompt read.
 */
export const ROWS_KERNEL_MAX_ROWS = 64;

interface Stored {
  readonly off: number;
  readonly K: number;
  readonly N: number;
  readonly ld: number;
  readonly layout: "kn" | "nk";
  readonly length: number;
  /** Flat indices k * N + c of the non-finite weights. */
  readonly nonFinite: Int32Array;
}

const stored = new WeakMap<Float32Array, Stored>();
/** A copy whose weights were garbage-collected is freed (the module's memory is not collected). */
const collected = new FinalizationRegistry<number>((off) => wasmAccess()?.free(off));

/** Scratch in the module's memory kept between calls (a decoding step allocates nothing). */
let scratch = { off: 0, bytes: 0 };

/**
 * At least `bytes` of the module's memory, kept between calls for the kernels of a decoding
 * step (this one and optimized/decode-attention.ts): valid until the next call of a kernel
 * that uses it; take views after this call (it may grow the memory).
 */
export function rowsScratch(w: WasmAccess, bytes: number): number {
  if (scratch.bytes < bytes) {
    if (scratch.bytes > 0) w.free(scratch.off);
    const size = Math.max(bytes, 2 * scratch.bytes);
    scratch = { off: w.alloc(size), bytes: size };
  }
  return scratch.off;
}

/** Whether the kernel can run now (the WebAssembly backend is initialised). */
export function spikeRowsReady(): boolean {
  return wasmAccess() !== null;
}

/** Frees the stored copy of W (call before mutating it, or when it is no longer used). */
export function releaseRowsWeights(W: Float32Array): void {
  const s = stored.get(W);
  if (!s) return;
  stored.delete(W);
  collected.unregister(s);
  wasmAccess()?.free(s.off);
}

function store(w: WasmAccess, W: Float32Array, K: number, N: number, layout: "kn" | "nk"): Stored {
  const hit = stored.get(W);
  if (hit && hit.K === K && hit.N === N && hit.layout === layout && hit.length === W.length) return hit;
  if (hit) releaseRowsWeights(W);
  const ld = Math.ceil(N / ROWS_COLUMN_STEP) * ROWS_COLUMN_STEP;
  const off = w.alloc(K * ld * 4);
  const base = off >> 2;
  if (layout === "kn") {
    const f = w.views.f32;
    if (ld === N) f.set(W.subarray(0, K * N), base);
    else for (let k = 0; k < K; k++) f.set(W.subarray(k * N, (k + 1) * N), base + k * ld);
  } else {
    // copied in as it is, then transposed by the kernel module (SIMD 4 x 4 blocks)
    const tmp = w.alloc(K * N * 4);
    try {
      w.views.f32.set(W.subarray(0, K * N), tmp >> 2);
      w.rows.transpose_into(tmp, N, K, off, ld);
    } finally {
      w.free(tmp);
    }
  }
  const f = w.views.f32;
  if (ld !== N) for (let k = 0; k < K; k++) f.fill(0, base + k * ld + N, base + (k + 1) * ld);
  // A weight known finite (the parameter store made it, a loader checked it) is not scanned.
  let any = false;
  if (!knownFinite(W)) {
    any = w.rows.count_nonfinite(off, K * ld) > 0;
    weightScanStats.arrays++;
    weightScanStats.elements += K * N;
  }
  const s: Stored = { off, K, N, ld, layout, length: W.length, nonFinite: any ? nonFinite(W, K, N, layout) : new Int32Array(0) };
  stored.set(W, s);
  collected.register(W, off, s);
  return s;
}

/** Flat indices k * N + c (in the [K, N] view) of W's NaN and ±Infinity. */
function nonFinite(W: Float32Array, K: number, N: number, layout: "kn" | "nk"): Int32Array {
  const at: number[] = [];
  for (let i = 0; i < K * N; i++) {
    const x = W[i]!;
    if (x - x !== 0) at.push(layout === "kn" ? i : (i % K) * N + Math.floor(i / K));
  }
  return Int32Array.from(at);
}

/**
 * out [M, N] = S [M, K] (int8 levels, NaN as NAN_LEVEL) @ W, with W [K, N] row-major
 * ("kn") or [N, K] ("nk", the product is then S @ Wᵀ). Returns false, doing nothing, when
 * the WebAssembly backend is not initialised.
 */
export function spikeRowsMatmul(S: Int8Array, M: number, K: number, W: Float32Array, N: number, out: Float32Array, layout: "kn" | "nk" = "kn"): boolean {
  const w = wasmAccess();
  if (!w) return false;
  if (S.length < M * K || W.length < K * N || out.length < M * N) throw new RangeError(`spikeRowsMatmul: operands too short for [${M}, ${K}] @ [${K}, ${N}]`);
  if (M === 0 || N === 0) return true;
  const wt = store(w, W, K, N, layout);
  const ld = wt.ld;
  const sBytes = Math.ceil((M * K) / 16) * 16;
  const oBytes = M * ld * 4;
  const base = rowsScratch(w, sBytes + oBytes + M * K * 12);
  const sOff = base;
  const oOff = base + sBytes;
  const evOff = oOff + oBytes;
  const v = w.views;
  const spikes = S.length === M * K ? S : S.subarray(0, M * K);
  v.i8.set(spikes, sOff);
  let nanRows: number[] | undefined;
  for (let i = spikes.indexOf(NAN_LEVEL); i >= 0; i = spikes.indexOf(NAN_LEVEL, i + 1)) {
    v.i8[sOff + i] = 0;
    (nanRows ??= []).push(Math.floor(i / K));
  }
  w.rows.spike_rows(sOff, M, K, wt.off, ld, oOff, 0, ld, evOff);
  const f = w.views.f32;
  const o = oOff >> 2;
  if (ld === N) out.set(f.subarray(o, o + M * N));
  else for (let m = 0; m < M; m++) out.set(f.subarray(o + m * ld, o + m * ld + N), m * N);
  // What the reference makes NaN and the kernel does not (see the header).
  if (nanRows) for (const m of nanRows) out.fill(Number.NaN, m * N, (m + 1) * N);
  for (let i = 0; i < wt.nonFinite.length; i++) {
    const q = wt.nonFinite[i]!;
    const k = Math.floor(q / N);
    const c = q - k * N;
    for (let m = 0; m < M; m++) if (S[m * K + k] === 0) out[m * N + c] = Number.NaN;
  }
  return true;
}
