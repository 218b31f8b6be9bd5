/**
 * Many small native kernel calls split over 2 to 16 threads (native/parallel.c's pool), each
 * checked against an oracle independent of the addon: the spike accumulate and the
 * dense-times-levels product against test/spike-oracles.ts's plain loops, GELU against
 * engine/numerics.ts gelu; bit for bit (Object.is). The inputs are small, so that most of a
 * call is handing parts to threads and most parts are tiny or empty. Used by
 * test/engine.native-pool.test.ts in its own process and by its child processes' JS threads.
 */
import { gelu } from "../interpreter/engine/numerics.js";
import { oracleAS, oracleSW, prng } from "./spike-oracles.js";

/** The raw addon calls used here (native-backend.ts NativeExports). */
export interface PoolKernels {
  spikeOp(...args: unknown[]): boolean;
  denseTimesLevels(...args: unknown[]): boolean;
  gelu(x: Float32Array, out: Float32Array, threads: number): void;
}

export interface HammerResult {
  calls: number;
  /** What the first few wrong calls were; empty when every call had the oracle's bits. */
  bad: string[];
}

function firstDiff(got: Float32Array, want: Float32Array): number {
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return i;
  return got.length === want.length ? -1 : want.length;
}

/** Finite float32s, ±0 and subnormals among them. */
function floats(n: number, rand: () => number): Float32Array {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    w[i] = u < 0.03 ? 0 : u < 0.06 ? -0 : u < 0.08 ? 1e-40 : (rand() < 0.5 ? -1 : 1) * rand() * 2 ** Math.floor(rand() * 20 - 10);
  }
  return w;
}

/** Levels in [-span, span], most of them 0. */
function levels(n: number, span: number, rand: () => number): Int8Array {
  return Int8Array.from({ length: n }, () => (rand() < 0.3 ? Math.floor(rand() * (2 * span + 1)) - span : 0));
}

/** `calls` calls drawn from `seed`, kinds in turn, 2 to 16 threads each. */
export function hammer(a: PoolKernels, seed: number, calls: number): HammerResult {
  const rand = prng(seed);
  const bad: string[] = [];
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  for (let c = 0; c < calls && bad.length < 5; c++) {
    const threads = int(2, 16);
    const kind = c % 3;
    if (kind === 0) {
      const R = int(1, 12), K = int(1, 40), C = int(1, 300);
      // spikeOp takes spikes: levels -1, 0, 1
      const S = levels(R * K, 1, rand), W = floats(K * C, rand);
      const out = new Float32Array(R * C).fill(Number.NaN);
      a.spikeOp(S, R, K, K, 1, W, C, C, 1, out, C, 1, null, threads, 1, 0, 0, 0, false);
      const d = firstDiff(out, oracleSW(S, R, K, W, C));
      if (d >= 0) bad.push(`spikeOp ${R}x${K}x${C} on ${threads} threads: out[${d}] = ${out[d]}, expected ${oracleSW(S, R, K, W, C)[d]}`);
    } else if (kind === 1) {
      const M = int(1, 12), K = int(1, 40), N = int(1, 200);
      const A = floats(M * K, rand), S = levels(K * N, 2, rand);
      const out = new Float32Array(M * N).fill(Number.NaN);
      a.denseTimesLevels(A, M, K, K, 1, 0, S, N, N, 1, 0, out, N, 1, 0, 1, threads);
      const want = oracleAS(A, M, K, S, N);
      const d = firstDiff(out, want);
      if (d >= 0) bad.push(`denseTimesLevels ${M}x${K}x${N} on ${threads} threads: out[${d}] = ${out[d]}, expected ${want[d]}`);
    } else {
      const n = int(1, 4000);
      const x = floats(n, rand);
      const out = new Float32Array(n).fill(Number.NaN);
      a.gelu(x, out, threads);
      const want = x.map(gelu);
      const d = firstDiff(out, want);
      if (d >= 0) bad.push(`gelu over ${n} on ${threads} threads: out[${d}] = ${out[d]} for x = ${x[d]}, expected ${want[d]}`);
    }
  }
  return { calls, bad };
}
