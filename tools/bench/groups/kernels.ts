/**
 * Benchmark group "kernels": accumulate only — spike-accumulate (S @ W with ternary S, no neuron,
 * no float epilogue; the layers group has the rows of what a layer really does) against
 *  - ort-dense: onnxruntime-node running one float32 MatMul node [M,K]x[K,N], intraOpNumThreads 2,
 *    B fed as a graph input on every run (so it is packed per call, like ours without cache);
 *  - dense-ref: the project's plain-JS dense matmul (interpreter/engine/kernels/dense-ref.ts);
 *  - ort-dense[const-B] vs spike-accumulate[cached-W]: both allowed to pre-pack the weights.
 *
 * Method: per shape, all contenders run in interleaved rounds (the order rotates every round),
 * after warm-up; each reported time is the median over rounds. ORT's intra-op spin-waiting is
 * disabled (session.intra_op.allow_spinning = "0"): with it on, ORT's idle threads keep
 * spinning after each run and steal the second core from whatever runs next — ORT itself
 * measured the same speed with or without it on this 2-core machine.
 */

import * as ort from "onnxruntime-node";
import { registerGroup, type BenchRow } from "../registry.js";
import { matmulModel } from "../onnx-model.js";
import { median, randomF32, randomSpikes, rng, timeMs } from "../stats.js";
import { denseMatmulRef } from "../../../interpreter/engine/kernels/dense-ref.js";
import {
  defaultPool,
  initSpikeKernels,
  lastSpikePlan,
  spikeMatmul,
  type SpikeKernelOptions,
} from "../../../interpreter/engine/kernels/spike-matmul.js";

const SHAPES: [number, number, number][] = [
  [512, 768, 768],
  [512, 768, 3072],
  [512, 3072, 768],
];
const RATES = [0.05, 0.1, 0.2, 0.4];
const CACHED_RATE = 0.2;

interface Contender {
  key: string;
  rounds: number; // how many rounds include it
  run: () => unknown;
  times: number[];
}

async function ortSession(M: number, K: number, N: number, constB?: Float32Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(matmulModel(M, K, N, constB), {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  } as ort.InferenceSession.SessionOptions);
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

registerGroup("kernels", async (ctx) => {
  const init = await initSpikeKernels({ threads: 2 });
  if (!init.wasm) ctx.log("warning: WebAssembly backend unavailable; spike rows use the JS backend");
  const rounds = ctx.quick ? 3 : 9;
  const refRounds = ctx.quick ? 1 : 3;
  const warm = ctx.quick ? 1 : 2;
  const rows: BenchRow[] = [];
  ctx.addSteps(SHAPES.length * (warm + rounds));

  for (const [M, K, N] of SHAPES) {
    const rand = rng(M * 1_000_003 + K * 1009 + N);
    const A = randomF32(M * K, rand);
    const W = randomF32(K * N, rand);
    const spikes = new Map(RATES.map((r) => [r, randomSpikes(M * K, r, rand)] as const));
    const out = new Float32Array(M * N);
    const refOut = new Float32Array(M * N);
    const spikeOpts: SpikeKernelOptions = { backend: "auto", threads: 2 };

    const sess = await ortSession(M, K, N);
    const sessConst = await ortSession(M, K, N, W);
    const feeds = { A: new ort.Tensor("float32", A, [M, K]), B: new ort.Tensor("float32", W, [K, N]) };
    const feedsConst = { A: feeds.A };

    // dense-ref is fed the rate-0.2 spikes as floats (its time does not depend on values), so
    // its output doubles as a bit-exactness check of the spike kernel.
    const checkS = spikes.get(CACHED_RATE)!;
    const checkA = Float32Array.from(checkS);

    const contenders: Contender[] = [
      { key: "ort", rounds, run: () => sess.run(feeds), times: [] },
      { key: "ort-const", rounds, run: () => sessConst.run(feedsConst), times: [] },
      { key: "dense-ref", rounds: refRounds, run: () => denseMatmulRef(checkA, M, K, W, N, refOut), times: [] },
      ...RATES.map((r) => ({
        key: `spike@${r}`,
        rounds,
        run: () => spikeMatmul(spikes.get(r)!, M, K, W, N, out, spikeOpts),
        times: [] as number[],
      })),
      {
        key: "spike-cached",
        rounds,
        run: () => spikeMatmul(checkS, M, K, W, N, out, { ...spikeOpts, cacheWeights: true }),
        times: [],
      },
    ];

    // warm-up (JIT, page faults, ORT session init); dense-ref once is enough
    for (let w = 0; w < warm; w++) {
      for (const c of contenders) if (c.key !== "dense-ref" || w === 0) await c.run();
      ctx.step(`${M}x${K}x${N} warm-up`);
    }

    // bit-exactness check against dense-ref on the same spikes
    spikeMatmul(checkS, M, K, W, N, out, spikeOpts);
    const ok = sameBits(out, refOut);
    if (!ok) ctx.log(`MISMATCH: spike-accumulate vs dense-ref bits differ at ${M}x${K}x${N}`);

    const bytesBefore = defaultPool.stats.bytesAllocated;
    let spikeCalls = 0;
    const plans = new Map<string, string>();
    for (let round = 0; round < rounds; round++) {
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!);
      for (const c of order) {
        if (round >= c.rounds) continue;
        c.times.push(await timeMs(c.run));
        if (c.key.startsWith("spike")) {
          spikeCalls++;
          const p = lastSpikePlan();
          if (p) plans.set(c.key, `${p.backend}/${p.variant}/${p.threads}t`);
        }
      }
      ctx.step(`${M}x${K}x${N} round ${round + 1}/${rounds}`);
    }
    const bytesPerCall = spikeCalls ? (defaultPool.stats.bytesAllocated - bytesBefore) / spikeCalls : 0;
    await sess.release();
    await sessConst.release();

    const t = (key: string) => median(contenders.find((c) => c.key === key)!.times);
    const gf = (ms: number) => (2 * M * K * N) / (ms * 1e6);
    const row = (name: string, rate: number, spikeKey: string, vs: string, baseKey: string): BenchRow => {
      const s = t(spikeKey);
      const b = t(baseKey);
      return {
        name,
        shape: [M, K, N],
        rate,
        vs,
        ratio: b / s,
        spike_ms: s,
        base_ms: b,
        spike_gflops: gf(s),
        base_gflops: gf(b),
        bytes_per_call: bytesPerCall,
        plan: plans.get(spikeKey) ?? "",
        bit_exact_vs_dense_ref: ok,
      };
    };
    for (const r of RATES) rows.push(row("accumulate only: spike-accumulate", r, `spike@${r}`, "ort-dense", "ort"));
    for (const r of RATES) rows.push(row("accumulate only: spike-accumulate", r, `spike@${r}`, "dense-ref", "dense-ref"));
    rows.push(row("accumulate only: spike-accumulate[cached-W]", CACHED_RATE, "spike-cached", "ort-dense[const-B]", "ort-const"));
  }
  return rows;
});
