/**
 * Interpreter benchmarks: the optimized executor against the reference interpreter on the
 * same graph, inputs and parameters, in the same process, with spikes checked identical.
 * - TinySpikeLM (examples) on 2 x 64 byte tokens;
 * - one BERT-base-sized SpikeLM block (d 768, 12 heads, FFN 3072, T 4, 128 tokens).
 * Also the tensor memory a steady-state forward pass allocates (ArrayBuffer bytes, measured
 * around a call after a forced GC when node runs with --expose-gc).
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { compileEntry } from "../../../interpreter/compile.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { streamFor } from "../../../interpreter/engine/random.js";
import { type Tensor, f32, i32 } from "../../../interpreter/engine/tensor.js";
import { OptimizedExecutor } from "../../../interpreter/optimized/executor.js";
import { optimize } from "../../../interpreter/passes/pass.js";
import { ReferenceInterpreter, type RunResult } from "../../../interpreter/reference/interpreter.js";
import { ParamStore } from "../../../interpreter/runtime/params.js";
import { type BenchContext, type BenchRow, registerGroup } from "../registry.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

function allocatedBytes(f: () => void): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  gc();
  const before = process.memoryUsage().arrayBuffers;
  f();
  return Math.max(0, process.memoryUsage().arrayBuffers - before);
}

function sameRun(a: RunResult, b: RunResult): boolean {
  const eq = (x: ArrayLike<number>, y: ArrayLike<number>) => x.length === y.length && Array.from(x).every((v, i) => Object.is(v, y[i]));
  return eq(a.output.data, b.output.data) && [...a.record].every(([k, r]) => eq(r.levels.data, b.record.get(k)!.levels.data));
}

async function compare(ctx: BenchContext, name: string, file: string, entry: string, args: Record<string, number>, inputs: Map<string, Tensor>, refRuns: number, optRuns: number): Promise<BenchRow> {
  const compiled = compileEntry({ file, entry, args, inputs });
  const { graph } = optimize(compiled.graph);
  const ref = new ReferenceInterpreter(compiled.graph, ParamStore.create(compiled.graph.params, new Map(), { seed: 1 }));
  const opt = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }));
  // First calls calibrate the amplitudes (and compile kernels); steady state is what we time.
  const r0 = ref.run(inputs, { record: true });
  const o0 = opt.run(inputs, { record: true });
  ctx.step(`${name}: first calls`);
  const refTimes: number[] = [];
  const optTimes: number[] = [];
  for (let i = 0; i < Math.max(refRuns, optRuns); i++) {
    if (i < optRuns) optTimes.push(time(() => opt.run(inputs)));
    if (i < refRuns) refTimes.push(time(() => ref.run(inputs)));
    ctx.step(`${name}: run ${i + 1}`);
  }
  const r1 = ref.run(inputs, { record: true });
  const o1 = opt.run(inputs, { record: true });
  const identical = sameRun(r0, o0) && sameRun(r1, o1);
  let nz = 0;
  let total = 0;
  for (const r of o1.record.values()) {
    for (const v of r.levels.data) if (v !== 0) nz++;
    total += r.levels.data.length;
  }
  const bytes = allocatedBytes(() => opt.run(inputs));
  const refMs = median(refTimes);
  const optMs = median(optTimes);
  return {
    name,
    shape: null,
    rate: total ? Number((nz / total).toFixed(4)) : null,
    vs: "unoptimized",
    ratio: refMs / optMs,
    spike_ms: Number(optMs.toFixed(2)),
    base_ms: Number(refMs.toFixed(2)),
    identical_spikes: identical,
    bytes_allocated_per_call: bytes,
    arena_bytes: opt.plan.arenaBytes,
    unplanned_bytes: opt.plan.naiveBytes,
  };
}

registerGroup("interpreter", async (ctx) => {
  await initSpikeKernels();
  const quick = ctx.quick;
  const rows: BenchRow[] = [];
  ctx.addSteps(2 * (quick ? 3 : 5) + 4);
  const ids = i32([2, 64], Array.from({ length: 128 }, (_, i) => (i * 7919 + 13) % 256));
  rows.push(await compare(ctx, "interpreter TinySpikeLM 2x64", path.join(ROOT, "models/tiny/tiny_spikelm.spk"), "TinySpikeLM", {}, new Map([["ids", ids]]), quick ? 3 : 5, quick ? 3 : 5));
  const d = quick ? 192 : 768;
  const L = quick ? 32 : 128;
  const rng = streamFor(1, "bench-block-input");
  const x = f32([4, 1, L, d], Array.from({ length: 4 * L * d }, () => rng.normal()));
  rows.push(await compare(ctx, `interpreter SpikeLM block d${d} h12 ffn${4 * d} T4 L${L}`, path.join(ROOT, "stdlib/layers.spk"), "SpikeBlock", { d, heads: 12, ffn: 4 * d }, new Map([["x", x]]), quick ? 1 : 2, quick ? 3 : 5));
  return rows;
});
