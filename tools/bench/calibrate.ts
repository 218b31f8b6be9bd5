/**
 * Measurements behind the "auto" choices in interpreter/engine/kernels/spike-matmul.ts.
 *
 *   node --import tsx tools/bench/calibrate.ts
 *
 * Prints: (1) event-driven vs dense-ternary time by firing rate, JS and WASM; (2) the cost
 * model constants (ns per accumulated float, per packed weight, per call); (3) JS vs WASM and
 * 1 vs 2 threads at small sizes, next to what the chooser picks. Not part of `npm run bench`.
 */

import { median, randomF32, randomSpikes, rng } from "./stats.js";
import { textTable } from "./table.js";
import {
  chooseSpikePlan,
  initSpikeKernels,
  shutdownKernelPool,
  spikeMatmul,
  type SpikeKernelOptions,
} from "../../interpreter/engine/kernels/spike-matmul.js";

function timeIt(fn: () => unknown, reps: number): number {
  fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    ts.push(performance.now() - t);
  }
  return median(ts);
}

async function main(): Promise<void> {
  await initSpikeKernels({ threads: 2 });
  const rand = rng(7);

  // (1) event vs dense by rate
  {
    const rows: (string | number)[][] = [];
    const shapes: [string, number, number, number][] = [
      ["js", 128, 768, 768],
      ["wasm", 512, 768, 3072],
    ];
    for (const [backend, M, K, N] of shapes) {
      const W = randomF32(K * N, rand);
      const out = new Float32Array(M * N);
      for (const rate of [0.05, 0.2, 0.4, 0.6, 0.8, 1.0]) {
        const S = randomSpikes(M * K, rate, rand);
        const o = (variant: "event" | "dense"): SpikeKernelOptions => ({ backend: backend as "js" | "wasm", variant, threads: 1 });
        const te = timeIt(() => spikeMatmul(S, M, K, W, N, out, o("event")), backend === "js" ? 3 : 7);
        const td = timeIt(() => spikeMatmul(S, M, K, W, N, out, o("dense")), backend === "js" ? 3 : 7);
        rows.push([backend, `${M}x${K}x${N}`, rate, te, td, te / td]);
      }
    }
    console.log("(1) event-driven vs dense-ternary, 1 thread (ms)");
    console.log(textTable(["backend", "shape", "rate", "event", "dense", "event/dense"], rows));
  }

  // (2) cost model constants
  {
    const M = 256, K = 768, N = 768, rate = 0.2;
    const W = randomF32(K * N, rand);
    const S = randomSpikes(M * K, rate, rand);
    const out = new Float32Array(M * N);
    let nnz = 0;
    for (const s of S) if (s !== 0) nnz++;
    const adds = nnz * N;
    const js = timeIt(() => spikeMatmul(S, M, K, W, N, out, { backend: "js" }), 3);
    const wasm1 = timeIt(() => spikeMatmul(S, M, K, W, N, out, { backend: "wasm", threads: 1 }), 9);
    const S0 = new Int8Array(M * K); // no events: copy + pack + fixed cost only
    const wasm0 = timeIt(() => spikeMatmul(S0, M, K, W, N, out, { backend: "wasm", threads: 1, nnz: 1 }), 9);
    const S1 = new Int8Array(1 * 8);
    const W1 = randomF32(8 * 8, rand);
    const tiny = timeIt(() => spikeMatmul(S1, 1, 8, W1, 8, new Float32Array(64), { backend: "wasm", threads: 1, nnz: 1 }), 50);
    console.log(`\n(2) cost model at ${M}x${K}x${N}, rate ${rate}:`);
    console.log(`  JS ns/add           ${((js * 1e6) / adds).toFixed(3)}`);
    console.log(`  WASM ns/add (1t)    ${(((wasm1 - wasm0) * 1e6) / adds).toFixed(3)}`);
    console.log(`  WASM ns/weight elem ${(((wasm0 - tiny) * 1e6) / (K * N)).toFixed(3)}  (copy + per-tile pack, no events)`);
    console.log(`  WASM fixed ns/call  ${(tiny * 1e6).toFixed(0)}`);
  }

  // (3) small problems: JS vs WASM (1t) vs WASM (2t), and the chooser's pick
  {
    const rows: (string | number)[][] = [];
    const K = 768, N = 768;
    const W = randomF32(K * N, rand);
    for (const rate of [0.05, 0.2]) {
      for (const M of [1, 2, 4, 8, 16, 32, 64, 128]) {
        const S = randomSpikes(M * K, rate, rand);
        const out = new Float32Array(M * N);
        let nnz = 0;
        for (const s of S) if (s !== 0) nnz++;
        const js = timeIt(() => spikeMatmul(S, M, K, W, N, out, { backend: "js" }), 5);
        const w1 = timeIt(() => spikeMatmul(S, M, K, W, N, out, { backend: "wasm", threads: 1 }), 9);
        const w2 = timeIt(() => spikeMatmul(S, M, K, W, N, out, { backend: "wasm", threads: 2 }), 9);
        const wc = timeIt(() => spikeMatmul(S, M, K, W, N, out, { backend: "wasm", threads: 1, cacheWeights: true }), 9);
        const p = chooseSpikePlan(M, K, N, nnz, { threads: 2 });
        const pc = chooseSpikePlan(M, K, N, nnz, { threads: 2, weightsCached: true });
        rows.push([rate, M, js, w1, w2, wc, `${p.backend}/${p.threads}t`, `${pc.backend}/${pc.threads}t`]);
      }
    }
    console.log(`\n(3) small M at K=N=768 (ms); chooser picks (uncached / cached weights)`);
    console.log(textTable(["rate", "M", "js", "wasm 1t", "wasm 2t", "wasm 1t cached", "auto", "auto cached"], rows));
  }
  await shutdownKernelPool();
}

await main();
