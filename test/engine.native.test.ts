/**
 * The native (AVX-512) spike-accumulate backend computes the spike kernels' contract bit for
 * bit: out = the sequential float32 sum over ascending k from +0 of level * float, then one
 * float32 multiplication by the row's scale. The oracles here are plain loops on float
 * levels written in this file; every output is compared with Object.is (so -0 against +0
 * and NaN against numbers count). Where the addon cannot be built or loaded, or the CPU
 * lacks AVX-512, these tests are reported as skipped with the reason, never passed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  denseTimesSpike,
  denseTimesSpikeT,
  initSpikeKernels,
  lastSpikePlan,
  nativePackedBytes,
  nativeStatus,
  releasePackedWeights,
  shutdownKernelPool,
  spikeKernelCalls,
  spikeMatmul,
  type SpikeKernelOptions,
} from "../interpreter/engine/kernels/spike-matmul.js";
import { NAN_LEVEL } from "../interpreter/engine/levels.js";
import { oracleAS, oracleQST, oracleSW, prng } from "./spike-oracles.js";

const status = nativeStatus();
const skipReason = status.ready ? "" : ` (SKIPPED: ${status.reason})`;

const fr = Math.fround;

/** Where a and b first differ (Object.is), as a message; "" when they are the same bits. */
function diff(a: Float32Array, b: Float32Array): string {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `at ${i}: ${a[i]} vs ${b[i]}`;
  return "";
}

// ---------------------------------------------------------------- generators

/** Finite floats incl. the edges: ±0, subnormals, large values whose sums overflow to ±Infinity. */
const FINITE_EDGES = [0, -0, 1e-40, -1e-45, 1.4e-45, -1e-38, 3e38, -3e38, 3.4028234663852886e38, 1, -1, 0.1];
const NON_FINITE = [Infinity, -Infinity, NaN];

/** Arbitrary float32 values: mostly ordinary, often edges, and non-finite ones when asked. */
function floatArb(nonFinite: boolean): fc.Arbitrary<number> {
  const parts: fc.WeightedArbitrary<number>[] = [
    { arbitrary: fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }), weight: 6 },
    { arbitrary: fc.constantFrom(...FINITE_EDGES), weight: 3 },
  ];
  if (nonFinite) parts.push({ arbitrary: fc.constantFrom(...NON_FINITE), weight: 1 });
  return fc.oneof(...parts);
}

/**
 * A Float32Array of n values: drawn from a small pool (fast-check arrays of 10^4 elements
 * are slow to generate), placed by a seeded permutation so every index can hold any of them.
 */
function floats(n: number, nonFinite: boolean): fc.Arbitrary<Float32Array> {
  return fc.tuple(fc.array(floatArb(nonFinite), { minLength: 1, maxLength: 48 }), fc.integer({ min: 0, max: 0x7fffffff }), fc.double({ min: 0, max: 1, noNaN: true })).map(([pool, seed, edgeRate]) => {
    const rand = prng(seed);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rand() < edgeRate ? pool[Math.floor(rand() * pool.length)]! : fr((rand() - 0.5) * 8);
    return a;
  });
}

/** Levels -1, 0, +1 at a random firing rate (and NaN levels when asked). */
function levels(n: number, nanLevels: boolean): fc.Arbitrary<Int8Array> {
  return fc.tuple(fc.integer({ min: 0, max: 0x7fffffff }), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()).map(([seed, rate, withNan]) => {
    const rand = prng(seed);
    const s = new Int8Array(n);
    for (let i = 0; i < n; i++) {
      const u = rand();
      s[i] = u < rate ? (rand() < 0.5 ? -1 : 1) : 0;
      if (nanLevels && withNan && rand() < 0.02) s[i] = NAN_LEVEL;
    }
    return s;
  });
}

const kArb = fc.oneof(fc.constantFrom(0, 1, 64, 200), fc.integer({ min: 0, max: 300 }));
const cArb = fc.oneof(fc.constantFrom(1, 127, 128, 129, 255, 256, 300), fc.integer({ min: 1, max: 300 }));
const rowsArb = fc.integer({ min: 1, max: 40 });

interface SWCase {
  M: number;
  K: number;
  N: number;
  S: Int8Array;
  W: Float32Array;
  nk: boolean;
  scale: Float32Array | undefined;
  threads: number;
}

/** spikeMatmul inputs; non-finite weights, scales and NaN levels only when `edges`. */
function swCase(edges: boolean): fc.Arbitrary<SWCase> {
  return fc.record({ M: rowsArb, K: kArb, N: cArb, nk: fc.boolean(), scaled: fc.boolean(), threads: fc.constantFrom(1, 2) }).chain(({ M, K, N, nk, scaled, threads }) =>
    fc.record({
      S: levels(M * K, edges),
      W: floats(K * N, edges),
      scale: scaled ? floats(M, edges) : fc.constant(undefined),
    }).map(({ S, W, scale }) => ({ M, K, N, S, W, nk, scale, threads })),
  );
}

const RUNS = 60;

describe.skipIf(!status.ready)(`native spike-accumulate backend${skipReason}`, () => {
  beforeAll(async () => {
    // the WebAssembly kernels too: compared with on identical inputs below
    await initSpikeKernels({ threads: 2 });
  });
  afterAll(async () => {
    await shutdownKernelPool();
  });

  const run = (c: SWCase, opts: SpikeKernelOptions): Float32Array =>
    spikeMatmul(c.S, c.M, c.K, c.W, c.N, undefined, { threads: c.threads, weightLayout: c.nk ? "nk" : "kn", ...(c.scale ? { scale: c.scale } : {}), ...opts });

  it("spikeMatmul on finite edge values (±0, subnormals, sums overflowing to ±Infinity): both layouts, scale, 1 and 2 threads, equals the oracle", () => {
    fc.assert(
      fc.property(swCase(false), (c) => {
        const before = spikeKernelCalls.native;
        const got = run(c, { backend: "native" });
        expect(spikeKernelCalls.native).toBe(before + 1);
        expect(lastSpikePlan()?.backend).toBe("native");
        expect(diff(got, oracleSW(c.S, c.M, c.K, c.W, c.N, c.nk, c.scale))).toBe("");
      }),
      { numRuns: RUNS },
    );
  });

  it("spikeMatmul across k blocks at firing rates on both sides of the kernel's block-size switch (0.3): many 64-row sub-blocks, equals the oracle", () => {
    // the kernel walks k in blocks of one or two 64-row sub-blocks by the rate it counts;
    // rates are drawn uniformly (not biased to 0 and 1), K spans several sub-blocks
    const sized = fc.record({ M: fc.integer({ min: 1, max: 24 }), K: fc.integer({ min: 65, max: 700 }), N: fc.constantFrom(1, 100, 128, 200), permille: fc.integer({ min: 20, max: 600 }), seed: fc.nat(), nk: fc.boolean(), threads: fc.constantFrom(1, 2) });
    fc.assert(
      fc.property(sized, ({ M, K, N, permille, seed, nk, threads }) => {
        const rand = prng(seed);
        const S = Int8Array.from({ length: M * K }, () => (rand() < permille / 1000 ? (rand() < 0.5 ? -1 : 1) : 0));
        const W = Float32Array.from({ length: K * N }, () => fr((rand() - 0.5) * 8));
        const c: SWCase = { M, K, N, S, W, nk, scale: undefined, threads };
        expect(diff(run(c, { backend: "native" }), oracleSW(S, M, K, W, N, nk, undefined))).toBe("");
      }),
      { numRuns: RUNS },
    );
  });

  it("spikeMatmul with NaN levels and non-finite weights and scales (edges poisoned by the caller) equals the oracle and the JS backend", () => {
    fc.assert(
      fc.property(swCase(true), (c) => {
        const want = oracleSW(c.S, c.M, c.K, c.W, c.N, c.nk, c.scale);
        expect(diff(run(c, { backend: "native" }), want)).toBe("");
        expect(diff(run(c, { backend: "js" }), want)).toBe("");
      }),
      { numRuns: RUNS },
    );
  });

  it("cached weights: the same bits twice in a row (packed once), and after releasePackedWeights with a mutated weight", () => {
    fc.assert(
      fc.property(swCase(true), fc.nat(), floatArb(true), (c, at, value) => {
        const W = c.W.slice(); // an array of its own: the cache is keyed by the array object
        const first = run({ ...c, W }, { backend: "native", cacheWeights: true });
        const second = run({ ...c, W }, { backend: "native", cacheWeights: true });
        const want = oracleSW(c.S, c.M, c.K, W, c.N, c.nk, c.scale);
        expect(diff(first, want)).toBe("");
        expect(diff(second, want)).toBe("");
        if (W.length > 0) {
          W[at % W.length] = value;
          releasePackedWeights(W);
          expect(diff(run({ ...c, W }, { backend: "native", cacheWeights: true }), oracleSW(c.S, c.M, c.K, W, c.N, c.nk, c.scale))).toBe("");
        }
        releasePackedWeights(W);
      }),
      { numRuns: RUNS },
    );
  });

  it("cacheWeights really reuses the packed copy (a weight mutated without releasePackedWeights still gives the old bits); after the release it is packed again into the same buffer", () => {
    const [M, K, N] = [8, 64, 200];
    const rand = prng(7);
    const S = Int8Array.from({ length: M * K }, () => (rand() < 0.3 ? (rand() < 0.5 ? -1 : 1) : 0));
    const W = Float32Array.from({ length: K * N }, () => fr(rand() * 2 - 1));
    const old = W.slice();
    const bytes = nativePackedBytes();
    const a = spikeMatmul(S, M, K, W, N, undefined, { backend: "native", cacheWeights: true });
    const packed = nativePackedBytes();
    expect(packed).toBeGreaterThan(bytes);
    for (let i = 0; i < W.length; i++) W[i] = fr(W[i]! + 1);
    const stale = spikeMatmul(S, M, K, W, N, undefined, { backend: "native", cacheWeights: true });
    expect(diff(a, oracleSW(S, M, K, old, N, false))).toBe("");
    expect(diff(stale, a)).toBe("");
    releasePackedWeights(W);
    const fresh = spikeMatmul(S, M, K, W, N, undefined, { backend: "native", cacheWeights: true });
    expect(diff(fresh, oracleSW(S, M, K, W, N, false))).toBe("");
    expect(diff(fresh, a)).not.toBe("");
    // no second buffer: a training step (weights changed in place, then released) allocates nothing
    expect(nativePackedBytes()).toBe(packed);
    releasePackedWeights(W);
  });

  const batchCase = (nonFinite: boolean) =>
    fc.record({ B: fc.integer({ min: 1, max: 4 }), M: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(127, 129, 200)), K: fc.oneof(fc.constantFrom(0, 1, 64), fc.integer({ min: 0, max: 80 })), N: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant(64)), threads: fc.constantFrom(1, 2), variant: fc.constantFrom<SpikeKernelOptions["variant"]>("auto", "event") }).chain(({ B, M, K, N, threads, variant }) =>
      fc.record({ X: floats(B * M * K, nonFinite), S: levels(B * N * K, nonFinite) }).map(({ X, S }) => ({ B, M, K, N, threads, variant, X, S })),
    );

  for (const nonFinite of [false, true]) {
    const what = nonFinite ? "with NaN levels and non-finite floats" : "on finite edge values";
    // variant "auto": the dense-times-levels kernel (levels_native.c); "event": the spike-accumulate kernel's strided form
    it(`denseTimesSpikeT (Q @ Sᵀ) with batch 1..4 ${what}, both native kernels, equals the oracle per product`, () => {
      fc.assert(
        fc.property(batchCase(nonFinite), ({ B, M, K, N, threads, variant, X, S }) => {
          const got = denseTimesSpikeT(X, M, K, S, N, undefined, { backend: "native", batch: B, threads, variant });
          for (let b = 0; b < B; b++) {
            const want = oracleQST(X.subarray(b * M * K, (b + 1) * M * K), M, K, S.subarray(b * N * K, (b + 1) * N * K), N);
            expect(diff(got.subarray(b * M * N, (b + 1) * M * N), want)).toBe("");
          }
        }),
        { numRuns: RUNS },
      );
    });

    it(`denseTimesSpike (A @ S) with batch 1..4 ${what}, both native kernels, equals the oracle per product`, () => {
      fc.assert(
        fc.property(batchCase(nonFinite), ({ B, M, K, N, threads, variant, X, S }) => {
          const got = denseTimesSpike(X, M, K, S, N, undefined, { backend: "native", batch: B, threads, variant });
          for (let b = 0; b < B; b++) {
            const want = oracleAS(X.subarray(b * M * K, (b + 1) * M * K), M, K, S.subarray(b * K * N, (b + 1) * K * N), N);
            expect(diff(got.subarray(b * M * N, (b + 1) * M * N), want)).toBe("");
          }
        }),
        { numRuns: RUNS },
      );
    });
  }

  for (const variant of ["auto", "event"] as const) {
    it(`a batch of finite products runs as one native call, not product by product (variant ${variant})`, () => {
      const [B, M, K, N] = [6, 32, 48, 24];
      const rand = prng(3);
      const Q = Float32Array.from({ length: B * M * K }, () => fr(rand() - 0.5));
      const S = Int8Array.from({ length: B * N * K }, () => (rand() < 0.3 ? 1 : rand() < 0.1 ? -1 : 0));
      const before = spikeKernelCalls.native;
      const got = denseTimesSpikeT(Q, M, K, S, N, undefined, { backend: "native", batch: B, variant });
      expect(spikeKernelCalls.native - before).toBe(1);
      expect(lastSpikePlan()).toMatchObject({ backend: "native", variant: variant === "auto" ? "dense" : "event" });
      for (let b = 0; b < B; b++) expect(diff(got.subarray(b * M * N, (b + 1) * M * N), oracleQST(Q.subarray(b * M * K, (b + 1) * M * K), M, K, S.subarray(b * N * K, (b + 1) * N * K), N))).toBe("");
    });
  }

  it("the WebAssembly and native backends give the same bits on identical inputs (spikeMatmul, both layouts, scale, threads)", () => {
    fc.assert(
      fc.property(swCase(true), fc.boolean(), (c, cached) => {
        const W = c.W.slice();
        const wasm = run({ ...c, W }, { backend: "wasm", cacheWeights: cached });
        const native = run({ ...c, W }, { backend: "native", cacheWeights: cached });
        releasePackedWeights(W);
        expect(diff(native, wasm)).toBe("");
      }),
      { numRuns: RUNS },
    );
  });

  it('"auto" picks the native backend for work worth calling out for', () => {
    const [M, K, N] = [256, 128, 512];
    const rand = prng(5);
    const S = Int8Array.from({ length: M * K }, () => (rand() < 0.2 ? 1 : 0));
    const W = Float32Array.from({ length: K * N }, () => fr(rand() - 0.5));
    const got = spikeMatmul(S, M, K, W, N);
    expect(lastSpikePlan()?.backend).toBe("native");
    expect(diff(got, oracleSW(S, M, K, W, N, false))).toBe("");
  });

  it('backend "native" with variant "dense" is refused with a clear message', () => {
    expect(() => spikeMatmul(new Int8Array(4), 2, 2, new Float32Array(4), 2, undefined, { backend: "native", variant: "dense" })).toThrow(/native backend has no "dense" variant/);
  });
});

describe.skipIf(status.ready)(`native backend unavailable${status.ready ? "" : `: ${status.reason}`}`, () => {
  it('backend "native" is refused with the reason, and "auto" runs on another backend', () => {
    expect(status.reason).not.toBe("");
    expect(() => spikeMatmul(new Int8Array(4), 2, 2, new Float32Array(4), 2, undefined, { backend: "native" })).toThrow(status.reason);
    spikeMatmul(new Int8Array(256 * 128).fill(1), 256, 128, new Float32Array(128 * 512), 512);
    expect(lastSpikePlan()?.backend).not.toBe("native");
  });
});
