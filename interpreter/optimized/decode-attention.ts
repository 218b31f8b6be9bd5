/**
 * Attention of ONE query row against int8 spike levels: the shape of every decoding step
 * (passes/incremental.ts), where the keys and values are the whole key/value cache and the
 * query is the new position. Per batch matrix that is a vector against a [positions, e]
 * matrix, too small for the event-list kernels (engine/kernels/spike-matmul.ts) to win back
 * their per-call planning, rate sampling and list building, which there happen once per
 * head and time step.
 *
 * Each output is the reference matmul's loop itself (engine/ops/matmul.ts): terms
 * fround(x * level) added in ascending k to an accumulator starting at +0, rounded to
 * float32 at every step, with the int8 NAN_LEVEL read as NaN (engine/levels.ts). So the bits
 * are the reference's on every input, non-finite ones included, with no special cases.
 */
import { NAN_LEVEL } from "../engine/levels.js";
import { rowsScratch } from "../engine/kernels/spike-rows.js";
import { wasmAccess, type WasmAccess } from "../engine/kernels/wasm-backend.js";
import { numel } from "../engine/tensor.js";
import type { PlannedCache } from "../runtime/planned-cache.js";

const fr = Math.fround;

/** out[j] = Σ_k q[k] · S[j, k] for one query row q [K] and levels S [N, K] (`Q @ Sᵀ`). */
export function rowTimesLevelsT(q: Float32Array, qOff: number, K: number, S: Int8Array, sOff: number, N: number, out: Float32Array, oOff: number): void {
  // Four positions at a time: four independent sums (each still in ascending k), so the
  // rounding latency of one does not stall the others.
  let j = 0;
  for (; j + 4 <= N; j += 4) {
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    const r0 = sOff + j * K;
    const r1 = r0 + K;
    const r2 = r1 + K;
    const r3 = r2 + K;
    for (let k = 0; k < K; k++) {
      const x = q[qOff + k]!;
      const s0 = S[r0 + k]!;
      const s1 = S[r1 + k]!;
      const s2 = S[r2 + k]!;
      const s3 = S[r3 + k]!;
      a0 = fr(a0 + fr(x * (s0 === NAN_LEVEL ? Number.NaN : s0)));
      a1 = fr(a1 + fr(x * (s1 === NAN_LEVEL ? Number.NaN : s1)));
      a2 = fr(a2 + fr(x * (s2 === NAN_LEVEL ? Number.NaN : s2)));
      a3 = fr(a3 + fr(x * (s3 === NAN_LEVEL ? Number.NaN : s3)));
    }
    out[oOff + j] = a0;
    out[oOff + j + 1] = a1;
    out[oOff + j + 2] = a2;
    out[oOff + j + 3] = a3;
  }
  for (; j < N; j++) {
    let acc = 0;
    const s0 = sOff + j * K;
    for (let k = 0; k < K; k++) {
      const s = S[s0 + k]!;
      acc = fr(acc + fr(q[qOff + k]! * (s === NAN_LEVEL ? Number.NaN : s)));
    }
    out[oOff + j] = acc;
  }
}

/**
 * out[n] = Σ_k a[k] · S[k, n] for one row a [K] and levels S [K, N] (`A @ S`): four output
 * columns at a time, each its own sum in ascending k (as rowTimesLevelsT).
 */
export function rowTimesLevels(a: Float32Array, aOff: number, K: number, S: Int8Array, sOff: number, N: number, out: Float32Array, oOff: number): void {
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let k = 0; k < K; k++) {
      const x = a[aOff + k]!;
      const b = sOff + k * N + n;
      const s0 = S[b]!;
      const s1 = S[b + 1]!;
      const s2 = S[b + 2]!;
      const s3 = S[b + 3]!;
      a0 = fr(a0 + fr(x * (s0 === NAN_LEVEL ? Number.NaN : s0)));
      a1 = fr(a1 + fr(x * (s1 === NAN_LEVEL ? Number.NaN : s1)));
      a2 = fr(a2 + fr(x * (s2 === NAN_LEVEL ? Number.NaN : s2)));
      a3 = fr(a3 + fr(x * (s3 === NAN_LEVEL ? Number.NaN : s3)));
    }
    out[oOff + n] = a0;
    out[oOff + n + 1] = a1;
    out[oOff + n + 2] = a2;
    out[oOff + n + 3] = a3;
  }
  for (; n < N; n++) {
    let acc = 0;
    for (let k = 0; k < K; k++) {
      const s = S[sOff + k * N + n]!;
      acc = fr(acc + fr(a[aOff + k]! * (s === NAN_LEVEL ? Number.NaN : s)));
    }
    out[oOff + n] = acc;
  }
}

/**
 * Every batch matrix's one-row product of a decoding step at once on the WebAssembly kernels
 * (engine/kernels/wasm-rows-wat.ts `row_keys`, `row_values`: the loops above, four or sixteen
 * outputs on SIMD lanes, same bits): `nt`: out[b, j] = Σ_k a[b, k] · S[b, j, k] (S [B, N, K]);
 * `nn`: out[b, n] = Σ_k a[b, k] · S[b, k, n] (S [B, K, N]). Returns false, doing nothing,
 * when the WebAssembly backend is not initialised.
 */
export function rowsTimesLevelsWasm(form: "nt" | "nn", a: Float32Array, K: number, S: Int8Array, N: number, batch: number, out: Float32Array): boolean {
  const w = wasmAccess();
  if (!w) return false;
  const aN = batch * K;
  const sN = batch * N * K;
  const oN = batch * N;
  if (a.length < aN || S.length < sN || out.length < oN) throw new RangeError(`rowsTimesLevelsWasm: operands too short for ${batch} x [1, ${K}] by ${N}`);
  if (oN === 0) return true;
  const aOff = rowsScratch(w, 16 + aN * 4 + oN * 4 + sN);
  const oOff = aOff + aN * 4;
  const sOff = oOff + oN * 4;
  const v = w.views;
  const levels = sN === S.length ? S : S.subarray(0, sN);
  v.f32.set(aN === a.length ? a : a.subarray(0, aN), aOff >> 2);
  v.i8.set(levels, sOff);
  // Levels without NAN_LEVEL (almost always; a SIMD byte search) take the kernels that skip its test.
  const finite = w.rows.has_nan_level(sOff, sN) === 0;
  run(w, form, finite, aOff, sOff, N * K, oOff, batch, K, N);
  out.set(w.views.f32.subarray(oOff >> 2, (oOff >> 2) + oN));
  return true;
}

/**
 * The same products against a key/value cache (runtime/planned-cache.ts, int8 levels, the
 * sequence axis second to last: [B, L, E] with room for more positions), read where it is
 * stored: `nt` is `q @ keysᵀ` (K = E, N = L), `nn` is `p @ values` (K = L, N = E). On the
 * WebAssembly kernels when the cache lives in the module's memory (nothing is copied but the
 * query rows in and the outputs out, and the cache says whether it holds a NAN_LEVEL); else
 * the JavaScript loops above, batch matrix by batch matrix, on its storage. Same bits either way.
 */
export function rowsTimesCache(form: "nt" | "nn", a: Float32Array, K: number, cache: PlannedCache, N: number, batch: number, out: Float32Array, useWasm: boolean): void {
  const shape = cache.shape;
  const [L, E] = shape.slice(-2) as [number, number];
  if (!cache.int8 || cache.axis !== -2 || numel(shape.slice(0, -2)) !== batch || (form === "nt" ? K !== E || N !== L : K !== L || N !== E))
    throw new Error(`internal: rowsTimesCache ${form} with ${batch} x [1, ${K}] by ${N} against a cache [${shape.join(", ")}] along axis ${cache.axis}`);
  if (a.length < batch * K || out.length < batch * N) throw new RangeError(`rowsTimesCache: operands too short for ${batch} x [1, ${K}] by ${N}`);
  if (batch * N === 0) return;
  const w = useWasm ? wasmAccess() : null;
  const sOff = w ? cache.wasmOffset(w) : undefined;
  if (w && sOff !== undefined) {
    const aN = batch * K;
    const oN = batch * N;
    const aOff = rowsScratch(w, aN * 4 + oN * 4);
    const oOff = aOff + aN * 4;
    w.views.f32.set(aN === a.length ? a : a.subarray(0, aN), aOff >> 2);
    run(w, form, !cache.hasNanLevel, aOff, sOff, cache.stride, oOff, batch, K, N);
    out.set(w.views.f32.subarray(oOff >> 2, (oOff >> 2) + oN));
    return;
  }
  const S = cache.region() as Int8Array;
  for (let b = 0; b < batch; b++) {
    if (form === "nt") rowTimesLevelsT(a, b * K, K, S, b * cache.stride, N, out, b * N);
    else rowTimesLevels(a, b * K, K, S, b * cache.stride, N, out, b * N);
  }
}

/** One call of row_keys / row_values (or their "_finite" twins) on operands in the module's memory. */
function run(w: WasmAccess, form: "nt" | "nn", finite: boolean, aOff: number, sOff: number, sStride: number, oOff: number, batch: number, K: number, N: number): void {
  if (form === "nt") (finite ? w.rows.row_keys_finite : w.rows.row_keys)(aOff, sOff, sStride, oOff, batch, N, K);
  else (finite ? w.rows.row_values_finite : w.rows.row_values)(aOff, sOff, sStride, oOff, batch, K, N);
}
