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
import { wasmAccess, type WasmAccess } from "./wasm-backend.js";
import { ROWS_COLUMN_STEP } from "./wasm-rows-wat.js";

/**
 * Most spike rows the kernel is used for. Measured (scratch bench on 8 weights 768 x 3072,
 * rate 0.35, one thread, CPU ms): rows vs tiles 3.3/7.8 at 1 row, 9.9/14.6 at 4, 19.3/27.6
 * at 16, 32.7/38.3 at 32, 83/62 at 64.
 */
export const ROWS_KERNEL_MAX_ROWS = 32;

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
  wasmAccess()?.free(s.off);
}

function store(w: WasmAccess, W: Float32Array, K: number, N: number, layout: "kn" | "nk"): Stored {
  const hit = stored.get(W);
  if (hit && hit.K === K && hit.N === N && hit.layout === layout && hit.length === W.length) return hit;
  if (hit) releaseRowsWeights(W);
  const ld = Math.ceil(N / ROWS_COLUMN_STEP) * ROWS_COLUMN_STEP;
  const off = w.alloc(K * ld * 4);
  const f = w.views.f32;
  const base = off >> 2;
  const bad: number[] = [];
  if (layout === "kn" && ld === N) f.set(W.subarray(0, K * N), base);
  else
    for (let k = 0; k < K; k++) {
      const row = base + k * ld;
      if (layout === "kn") f.set(W.subarray(k * N, (k + 1) * N), row);
      else for (let c = 0; c < N; c++) f[row + c] = W[c * K + k]!;
      f.fill(0, row + N, row + ld);
    }
  for (let k = 0; k < K; k++) {
    const row = base + k * ld;
    for (let c = 0; c < N; c++) if (f[row + c]! - f[row + c]! !== 0) bad.push(k * N + c);
  }
  const s: Stored = { off, K, N, ld, layout, length: W.length, nonFinite: Int32Array.from(bad) };
  stored.set(W, s);
  return s;
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
