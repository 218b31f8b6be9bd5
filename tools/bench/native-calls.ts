/**
 * The native addon's calls during one forward of the bench's BERT-base-sized block (k = 2,
 * the layers group's): how many of each kernel, how long each took, and the gaps between
 * consecutive calls (the caller's own work, during which the addon's pool workers wait):
 *   node --import tsx tools/bench/native-calls.ts [threads=2] [forwards=3]
 * Every export is wrapped (through the platform's addon loader) to time its calls; the
 * figures are per forward, from the last `forwards` forwards after two warm-up runs.
 */
import { benchBlock } from "./bench-block.js";
import { platform } from "#platform";
import { startNative } from "../../interpreter/engine/kernels/native-backend.js";
import { initSpikeKernels, shutdownKernelPool } from "../../interpreter/engine/kernels/spike-matmul.js";
import { OptimizedExecutor } from "../../interpreter/optimized/executor.js";
import { ParamStore } from "../../interpreter/runtime/params.js";

const [threads, forwards] = [Number(process.argv[2] ?? 2), Number(process.argv[3] ?? 3)];

interface Call {
  name: string;
  t0: number;
  t1: number;
}
const calls: Call[] = [];
const load = platform.loadNativeAddon;
platform.loadNativeAddon = (name, sources, cacheDir) => {
  const got = load(name, sources, cacheDir);
  if (!("exports" in got)) return got;
  const ex = got.exports as Record<string, unknown>;
  const timed: Record<string, unknown> = {};
  for (const key of Object.getOwnPropertyNames(ex)) {
    const f = ex[key];
    timed[key] =
      typeof f === "function"
        ? (...args: unknown[]) => {
            const t0 = performance.now();
            const r = (f as (...a: unknown[]) => unknown).apply(ex, args);
            calls.push({ name: key, t0, t1: performance.now() });
            return r;
          }
        : f;
  }
  return { exports: timed };
};
if (!startNative()) throw new Error("no native addon here");

await initSpikeKernels({ threads: 2 });
const d = 768;
const { graph, inputs } = benchBlock(d, 128, 2); // the layers group's block and input at k = 2
const ex = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { threads });
ex.run(inputs);
ex.run(inputs);
calls.length = 0;
const gaps: number[] = [];
const w0 = performance.now();
for (let f = 0; f < forwards; f++) {
  const first = calls.length;
  ex.run(inputs);
  for (let i = first + 1; i < calls.length; i++) gaps.push((calls[i]!.t0 - calls[i - 1]!.t1) * 1000);
}
const wall = (performance.now() - w0) / forwards;

const us = (v: number) => v.toFixed(0);
const pct = (a: number[], p: number) => a[Math.min(a.length - 1, Math.floor(a.length * p))]!;
const lines = [`block d${d} k=2 ${threads} thread(s): ${wall.toFixed(1)} ms per forward, ${calls.length / forwards} native calls, ${(calls.reduce((s, c) => s + c.t1 - c.t0, 0) / forwards).toFixed(1)} ms in them`];
const byName = new Map<string, number[]>();
for (const c of calls) (byName.get(c.name) ?? byName.set(c.name, []).get(c.name)!).push((c.t1 - c.t0) * 1000);
for (const [name, v] of [...byName].sort((p, q) => q[1].length - p[1].length)) {
  v.sort((p, q) => p - q);
  lines.push(`  ${name.padEnd(18)} ${String(v.length / forwards).padStart(5)} per forward, us: min ${us(v[0]!)} median ${us(pct(v, 0.5))} max ${us(v[v.length - 1]!)}`);
}
gaps.sort((p, q) => p - q);
if (gaps.length) {
  lines.push(`gaps between calls, us: p10 ${us(pct(gaps, 0.1))} p25 ${us(pct(gaps, 0.25))} median ${us(pct(gaps, 0.5))} p75 ${us(pct(gaps, 0.75))} p90 ${us(pct(gaps, 0.9))}`);
  lines.push(`  under 20 us: ${gaps.filter((g) => g < 20).length}, under 50 us: ${gaps.filter((g) => g < 50).length}, of ${gaps.length}`);
}
process.stdout.write(lines.join("\n") + "\n");
await shutdownKernelPool();
