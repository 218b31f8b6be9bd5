import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  BufferPool,
  chooseSpikePlan,
  denseTimesSpike,
  denseTimesSpikeT,
  initSpikeKernels,
  lastSpikePlan,
  nativeStatus,
  releasePackedWeights,
  shutdownKernelPool,
  spikeMatmul,
  spikeWasmReady,
  type SpikeKernelOptions,
} from "../interpreter/engine/kernels/spike-matmul.js";
import { denseMatmulRef } from "../interpreter/engine/kernels/dense-ref.js";
import { oracleAS, oracleQST, oracleSW, prng } from "./spike-oracles.js";
import { currentWorkerSpin, kernelPoolStats, phaseTimes, poolThreads, setWorkerSpin } from "../interpreter/engine/kernels/wasm-backend.js";

// ---------------------------------------------------------------- references (the contract)

const fr = Math.fround;


/** First index where the two arrays differ bitwise (NaN == NaN, +0 != -0), or -1. */
function firstDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

// ---------------------------------------------------------------- generators

function spikes(n: number, rate: number, rand: () => number): Int8Array {
  const s = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    s[i] = u < rate / 2 ? 1 : u < rate ? -1 : 0;
  }
  return s;
}

/** Finite float32 weights over a wide range of magnitudes, with ±0 and subnormals mixed in. */
function weights(n: number, rand: () => number, kind: "float" | "int"): Float32Array {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (kind === "int") {
      w[i] = Math.floor(rand() * 17) - 8;
      continue;
    }
    const u = rand();
    if (u < 0.03) w[i] = 0;
    else if (u < 0.06) w[i] = -0;
    else if (u < 0.08) w[i] = (rand() < 0.5 ? -1 : 1) * 1e-40; // subnormal
    else w[i] = (rand() < 0.5 ? -1 : 1) * rand() * 2 ** Math.floor(rand() * 60 - 30);
  }
  return w;
}

const dim = (max: number) => fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 23, 24, 25), fc.integer({ min: 1, max }));
const caseArb = fc.record({
  M: dim(12),
  K: fc.oneof(dim(40), fc.integer({ min: 41, max: 300 })),
  N: fc.oneof(dim(30), fc.integer({ min: 31, max: 70 })),
  rate: fc.oneof(fc.constantFrom(0, 0.05, 0.2, 1), fc.double({ min: 0, max: 1, noNaN: true })),
  seed: fc.integer(),
  kind: fc.constantFrom<"float" | "int">("float", "float", "int"),
});

type Config = { label: string; opts: SpikeKernelOptions };
const CONFIGS: Config[] = [
  { label: "js/event", opts: { backend: "js", variant: "event" } },
  { label: "js/dense", opts: { backend: "js", variant: "dense" } },
  { label: "wasm/event/1t", opts: { backend: "wasm", variant: "event", threads: 1 } },
  { label: "wasm/dense/1t", opts: { backend: "wasm", variant: "dense", threads: 1 } },
  { label: "wasm/event/2t", opts: { backend: "wasm", variant: "event", threads: 2 } },
  { label: "wasm/dense/2t", opts: { backend: "wasm", variant: "dense", threads: 2 } },
  { label: "auto", opts: {} },
  { label: "auto/2t", opts: { threads: 2 } },
];

const RUNS = 120;

beforeAll(async () => {
  const r = await initSpikeKernels({ threads: 2 });
  expect(r.wasm).toBe(true);
});

afterAll(async () => {
  await shutdownKernelPool();
});

describe("spike kernels: setup", () => {
  it("compiles the WASM module and starts a 2-thread pool (worker runs under vitest)", () => {
    expect(spikeWasmReady()).toBe(true);
    expect(poolThreads()).toBe(2);
  });
});

describe("spikeMatmul (S @ W) is bit-identical to the sequential float32 loop", () => {
  for (const cfg of CONFIGS) {
    it(cfg.label, () => {
      fc.assert(
        fc.property(caseArb, ({ M, K, N, rate, seed, kind }) => {
          const rand = prng(seed);
          const S = spikes(M * K, rate, rand);
          const W = weights(K * N, rand, kind);
          const ref = oracleSW(S, M, K, W, N);
          const out = spikeMatmul(S, M, K, W, N, undefined, cfg.opts);
          const d = firstDiff(out, ref);
          if (d >= 0) throw new Error(`${cfg.label} ${M}x${K}x${N} rate ${rate}: out[${d}] = ${out[d]} expected ${ref[d]}`);
          // The same weights stored [N, K] (a linear layer's W as declared): S @ Wᵀ read through strides.
          const Wnk = new Float32Array(N * K);
          for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) Wnk[j * K + k] = W[k * N + j]!;
          const outT = spikeMatmul(S, M, K, Wnk, N, undefined, { ...cfg.opts, weightLayout: "nk" });
          const dT = firstDiff(outT, ref);
          if (dT >= 0) throw new Error(`${cfg.label} nk ${M}x${K}x${N} rate ${rate}: out[${dT}] = ${outT[dT]} expected ${ref[dT]}`);
          if (kind === "int") {
            // small integers: every partial sum is exact, so this is the exact integer product
            for (let i = 0; i < M; i++)
              for (let j = 0; j < N; j++) {
                let e = 0;
                for (let k = 0; k < K; k++) e += S[i * K + k]! * W[k * N + j]!;
                if (out[i * N + j] !== e) throw new Error(`integer product mismatch at ${i},${j}`);
              }
          }
        }),
        { numRuns: RUNS },
      );
    });
  }
});

describe("denseTimesSpikeT (Q @ Sᵀ) is bit-identical to the sequential float32 loop", () => {
  for (const cfg of CONFIGS) {
    it(cfg.label, () => {
      fc.assert(
        fc.property(caseArb, ({ M, K, N, rate, seed, kind }) => {
          const rand = prng(seed);
          const Q = weights(M * K, rand, kind);
          const S = spikes(N * K, rate, rand);
          const ref = oracleQST(Q, M, K, S, N);
          const out = denseTimesSpikeT(Q, M, K, S, N, undefined, cfg.opts);
          const d = firstDiff(out, ref);
          if (d >= 0) throw new Error(`${cfg.label} ${M}x${K}x${N} rate ${rate}: out[${d}] = ${out[d]} expected ${ref[d]}`);
        }),
        { numRuns: RUNS / 2 },
      );
    });
  }
});

describe("denseTimesSpike (A @ S) is bit-identical to the sequential float32 loop", () => {
  for (const cfg of CONFIGS) {
    it(cfg.label, () => {
      fc.assert(
        fc.property(caseArb, ({ M, K, N, rate, seed, kind }) => {
          const rand = prng(seed);
          const A = weights(M * K, rand, kind);
          const S = spikes(K * N, rate, rand);
          const ref = oracleAS(A, M, K, S, N);
          const out = denseTimesSpike(A, M, K, S, N, undefined, cfg.opts);
          const d = firstDiff(out, ref);
          if (d >= 0) throw new Error(`${cfg.label} ${M}x${K}x${N} rate ${rate}: out[${d}] = ${out[d]} expected ${ref[d]}`);
        }),
        { numRuns: RUNS / 2 },
      );
    });
  }
});

describe("batched Q @ Sᵀ and A @ S (attention: every step and head in one call) equal the per-product loop", () => {
  const batchArb = fc.record({
    B: fc.oneof(fc.constantFrom(0, 1, 2, 3, 48), fc.integer({ min: 0, max: 9 })),
    M: dim(30),
    K: dim(70),
    N: dim(30),
    rate: fc.oneof(fc.constantFrom(0, 1, 0.4), fc.double({ min: 0, max: 1, noNaN: true })),
    seed: fc.integer(),
  });
  /** The oracle: the sequential loop on each product alone. */
  const perProduct = (B: number, M: number, N: number, one: (b: number) => Float32Array) => {
    const o = new Float32Array(B * M * N);
    for (let b = 0; b < B; b++) o.set(one(b), b * M * N);
    return o;
  };
  for (const cfg of CONFIGS) {
    it(cfg.label, () => {
      fc.assert(
        fc.property(batchArb, ({ B, M, K, N, rate, seed }) => {
          if (B * (M * K + N * K) > 200_000) return; // keep the oracle quick
          const rand = prng(seed);
          const Q = weights(B * M * K, rand, "float");
          const St = spikes(B * N * K, rate, rand);
          const S = spikes(B * K * N, rate, rand);
          const refT = perProduct(B, M, N, (b) => oracleQST(Q.subarray(b * M * K), M, K, St.subarray(b * N * K), N));
          const ref = perProduct(B, M, N, (b) => oracleAS(Q.subarray(b * M * K), M, K, S.subarray(b * K * N), N));
          const opts = { ...cfg.opts, batch: B };
          const outT = denseTimesSpikeT(Q, M, K, St, N, undefined, opts);
          const out = denseTimesSpike(Q, M, K, S, N, undefined, opts);
          const dT = firstDiff(outT, refT);
          if (dT >= 0) throw new Error(`${cfg.label} Q@S^T B${B} ${M}x${K}x${N} rate ${rate}: out[${dT}] = ${outT[dT]} expected ${refT[dT]}`);
          const d = firstDiff(out, ref);
          if (d >= 0) throw new Error(`${cfg.label} A@S B${B} ${M}x${K}x${N} rate ${rate}: out[${d}] = ${out[d]} expected ${ref[d]}`);
        }),
        { numRuns: RUNS / 2 },
      );
    });
  }

  it("runs as one WASM call whose products the worker shares (and the results still match)", () => {
    const rand = prng(9);
    const [B, M, K, N] = [48, 128, 64, 128];
    const Q = weights(B * M * K, rand, "float");
    const S = spikes(B * N * K, 0.4, rand);
    const ref = perProduct(B, M, N, (b) => oracleQST(Q.subarray(b * M * K), M, K, S.subarray(b * N * K), N));
    Object.assign(phaseTimes, { enabled: true, callerItems: 0, items: 0, batchCalls: 0 });
    try {
      for (let i = 0; i < 20 && phaseTimes.callerItems === phaseTimes.items; i++) {
        expect(firstDiff(denseTimesSpikeT(Q, M, K, S, N, undefined, { backend: "wasm", threads: 2, batch: B }), ref)).toBe(-1);
      }
      expect(phaseTimes.batchCalls).toBeGreaterThan(0);
      expect(phaseTimes.items).toBe(B * phaseTimes.batchCalls);
      expect(phaseTimes.callerItems).toBeLessThan(phaseTimes.items);
    } finally {
      phaseTimes.enabled = false;
    }
  });

  it("rejects a batch that is not a whole number, and operands too short for it", () => {
    expect(() => denseTimesSpikeT(new Float32Array(4), 2, 2, new Int8Array(4), 2, undefined, { batch: 1.5 })).toThrow(RangeError);
    expect(() => denseTimesSpike(new Float32Array(4), 2, 2, new Int8Array(4), 2, undefined, { batch: 2 })).toThrow(/A has 4 elements, needs 8/);
  });
});

describe("options and plumbing", () => {
  it("threads on/off, js/wasm and auto agree on larger shapes (multi-tile, multi-chunk)", () => {
    const rand = prng(42);
    for (const [M, K, N] of [
      [64, 384, 200],
      [3, 768, 1000],
      [257, 96, 50],
    ] as const) {
      const S = spikes(M * K, 0.2, rand);
      const W = weights(K * N, rand, "float");
      const ref = spikeMatmul(S, M, K, W, N, undefined, { backend: "js" });
      for (const opts of [{ backend: "wasm", threads: 1 }, { backend: "wasm", threads: 2 }, { threads: 2 }] as SpikeKernelOptions[]) {
        expect(firstDiff(spikeMatmul(S, M, K, W, N, undefined, opts), ref)).toBe(-1);
      }
      expect(firstDiff(ref, oracleSW(S, M, K, W, N))).toBe(-1);
    }
  });

  it("the worker really takes work items (and the results still match)", () => {
    const rand = prng(5);
    const [M, K, N] = [128, 512, 960];
    const S = spikes(M * K, 0.3, rand);
    const W = weights(K * N, rand, "float");
    const ref = spikeMatmul(S, M, K, W, N, undefined, { backend: "js" });
    Object.assign(phaseTimes, { enabled: true, callerItems: 0, items: 0 });
    // On a loaded machine a sleeping worker may wake only after the caller has taken every
    // item: a long idle spin keeps it awake between calls once the first call has woken it,
    // and more attempts give the scheduler time to run it (the loop stops at the first share).
    setWorkerSpin(200);
    try {
      for (let i = 0; i < 200 && phaseTimes.callerItems === phaseTimes.items; i++) {
        expect(firstDiff(spikeMatmul(S, M, K, W, N, undefined, { backend: "wasm", threads: 2 }), ref)).toBe(-1);
      }
      expect(phaseTimes.callerItems).toBeLessThan(phaseTimes.items);
    } finally {
      phaseTimes.enabled = false;
      setWorkerSpin();
    }
  });

  it("the pool's diagnostics count the worker's jobs and busy time, and a worker told not to spin sleeps", () => {
    const rand = prng(6);
    const [M, K, N] = [128, 512, 960];
    const S = spikes(M * K, 0.3, rand);
    const W = weights(K * N, rand, "float");
    const before = kernelPoolStats()[0]!;
    Object.assign(phaseTimes, { enabled: true, callerItems: 0, items: 0 });
    try {
      for (let i = 0; i < 20 && phaseTimes.callerItems === phaseTimes.items; i++) spikeMatmul(S, M, K, W, N, undefined, { backend: "wasm", threads: 2 });
    } finally {
      phaseTimes.enabled = false;
    }
    const after = kernelPoolStats()[0]!;
    expect(after.jobs).toBeGreaterThan(before.jobs);
    expect(after.busyMs).toBeGreaterThan(before.busyMs);
    setWorkerSpin(0);
    try {
      spikeMatmul(S, M, K, W, N, undefined, { backend: "wasm", threads: 2 });
      const gate = new Int32Array(new SharedArrayBuffer(4));
      // no more jobs: the worker must go to sleep (polled, for a loaded machine)
      for (let i = 0; i < 500 && kernelPoolStats()[0]!.sleeps === after.sleeps; i++) Atomics.wait(gate, 0, 0, 10);
      expect(kernelPoolStats()[0]!.sleeps).toBeGreaterThan(after.sleeps);
    } finally {
      setWorkerSpin();
    }
  });

  it("the workers spin less once jobs keep coming far apart, and fully again in a burst", () => {
    const rand = prng(8);
    const [M, K, N] = [16, 64, 96];
    const S = spikes(M * K, 0.3, rand);
    const W = weights(K * N, rand, "float");
    // the oracle once, outside the timed calls: computing it per call made the burst's gaps
    // (measured from one job's end to the next post) outlast the spin on a loaded machine
    const want = oracleSW(S, M, K, W, N);
    const call = () => expect(firstDiff(spikeMatmul(S, M, K, W, N, undefined, { backend: "wasm", threads: 2 }), want)).toBe(-1);
    const gate = new Int32Array(new SharedArrayBuffer(4));
    setWorkerSpin(1);
    try {
      for (let i = 0; i < 6; i++) {
        Atomics.wait(gate, 0, 0, 5); // a gap longer than the spin
        call();
      }
      expect(currentWorkerSpin()).toBeLessThan(1);
      for (let i = 0; i < 20; i++) call();
      expect(currentWorkerSpin()).toBe(1);
    } finally {
      setWorkerSpin();
    }
  });

  it("per-row-block scale equals scaling the exact-order sum once", () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 1, max: 5 }), ({ M, K, N, rate, seed }, block) => {
        const rand = prng(seed);
        const S = spikes(M * K, rate, rand);
        const W = weights(K * N, rand, "float");
        const scale = Float32Array.from({ length: Math.ceil(M / block) }, () => rand() * 4 - 2);
        const base = oracleSW(S, M, K, W, N);
        const ref = base.map((x, idx) => fr(scale[Math.floor(Math.floor(idx / N) / block)]! * x));
        for (const opts of [{ backend: "js" }, { backend: "wasm", threads: 2 }] as SpikeKernelOptions[]) {
          const out = spikeMatmul(S, M, K, W, N, undefined, { ...opts, scale, scaleBlock: block });
          if (firstDiff(out, ref) >= 0) throw new Error(`scale mismatch (${opts.backend})`);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("cacheWeights reuses packed weights and releasePackedWeights forgets them", () => {
    const rand = prng(7);
    const [M, K, N] = [9, 130, 77];
    const W = weights(K * N, rand, "float");
    for (let rep = 0; rep < 3; rep++) {
      const S = spikes(M * K, 0.3, rand);
      const out = spikeMatmul(S, M, K, W, N, undefined, { backend: "wasm", cacheWeights: true, threads: 2 });
      expect(firstDiff(out, oracleSW(S, M, K, W, N))).toBe(-1);
    }
    W[5] = 123.5; // mutate: caller must release
    releasePackedWeights(W);
    const S = spikes(M * K, 0.5, rand);
    const out = spikeMatmul(S, M, K, W, N, undefined, { backend: "wasm", cacheWeights: true });
    expect(firstDiff(out, oracleSW(S, M, K, W, N))).toBe(-1);
  });

  it("handles empty and degenerate shapes", () => {
    expect(Array.from(spikeMatmul(new Int8Array(0), 3, 0, new Float32Array(0), 2))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(spikeMatmul(new Int8Array(0), 0, 4, new Float32Array(8), 2).length).toBe(0);
    const W = Float32Array.from([1.5, -2]);
    for (const backend of ["js", "wasm"] as const) {
      expect(Array.from(spikeMatmul(Int8Array.from([-1]), 1, 1, W, 2, undefined, { backend }))).toEqual([-1.5, 2]);
    }
    expect(() => spikeMatmul(new Int8Array(3), 2, 2, new Float32Array(4), 2)).toThrow(RangeError);
  });

  it("dense-ref with ternary activations gives the same bits (its order is ascending k)", () => {
    const rand = prng(3);
    const [M, K, N] = [5, 200, 31];
    const S = spikes(M * K, 0.4, rand);
    const W = weights(K * N, rand, "float");
    expect(firstDiff(denseMatmulRef(Float32Array.from(S), M, K, W, N), oracleSW(S, M, K, W, N))).toBe(-1);
  });

  it("repeated calls allocate nothing from the pool once warm", () => {
    const pool = new BufferPool();
    const rand = prng(11);
    const [M, K, N] = [16, 256, 96];
    const W = weights(K * N, rand, "float");
    const out = new Float32Array(M * N);
    const run = () => {
      for (const backend of ["js", "wasm"] as const) {
        spikeMatmul(spikes(M * K, 0.2, rand), M, K, W, N, out, { backend, pool, threads: 2 });
        denseTimesSpikeT(weights(M * K, rand, "float"), M, K, spikes(N * K, 0.2, rand), N, out, { backend, pool });
      }
    };
    run();
    const before = pool.stats.bytesAllocated;
    for (let i = 0; i < 5; i++) run();
    expect(pool.stats.bytesAllocated).toBe(before);
  });

  // The fast backend is the native addon where it loads (test/engine.native.test.ts), else WASM.
  const fast = nativeStatus().ready ? "native" : "wasm";
  it(`auto chooser: JS for tiny work, ${fast} (with workers) for big work, event-driven throughout`, () => {
    expect(chooseSpikePlan(1, 64, 64, 10, {}).backend).toBe("js");
    const big = chooseSpikePlan(512, 768, 3072, 0.2 * 512 * 768, { threads: 2 });
    expect(big).toMatchObject({ backend: fast, variant: "event", threads: 2 });
    expect(chooseSpikePlan(512, 768, 3072, 512 * 768, {}).variant).toBe("event");
    spikeMatmul(spikes(512 * 64, 0.2, prng(1)), 512, 64, weights(64 * 512, prng(2), "float"), 512);
    expect(lastSpikePlan()?.backend).toBe(fast);
  });
});

describe("worker pool lifecycle", () => {
  it("workers do not keep a `node --import tsx` process alive", () => {
    const kernels = fileURLToPath(new URL("../interpreter/engine/kernels/spike-matmul.ts", import.meta.url));
    const src = `
      import { initSpikeKernels, spikeMatmul } from ${JSON.stringify(kernels)};
      const r = await initSpikeKernels({ threads: 2 });
      const M = 64, K = 256, N = 256;
      const S = new Int8Array(M * K).map((_, i) => (i % 7 === 0 ? 1 : i % 11 === 0 ? -1 : 0));
      const W = new Float32Array(K * N).map((_, i) => (i % 13) - 6);
      const a = spikeMatmul(S, M, K, W, N, undefined, { threads: 2, backend: "wasm" });
      const b = spikeMatmul(S, M, K, W, N, undefined, { backend: "js" });
      console.log(JSON.stringify({ wasm: r.wasm, threads: r.threads, same: a.every((x, i) => Object.is(x, b[i])) }));
      // no shutdownKernelPool(): the process must still exit on its own
    `;
    const res = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", src], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(res.error).toBeUndefined();
    expect(res.status).toBe(0);
    expect(JSON.parse(res.stdout.trim())).toEqual({ wasm: true, threads: 2, same: true });
  });
});
