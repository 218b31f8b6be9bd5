/**
 * Generation at long context: decoder-base (GPT-2-small sized, seeded weights, context 1024)
 * fed a long prompt (900 bytes of text), then greedy tokens one at a time up to the full
 * context, with the spike key/value cache on the optimized executor. Reported per band of
 * positions: the median wall and CPU time of a token (CPU: the process, all threads) and the
 * slowest token; plus the prompt's time, the first token's (it plans the one-token executor
 * and copies the weights for the few-rows kernel), and the bytes the cache holds per token and
 * reserves in all.
 *
 * Oracle: the reference interpreter is far too slow at 1024 positions, so every generated
 * position's logits (and hence the greedy tokens) are checked, bit for bit (NaN as one value),
 * against ONE uncached forward of the optimized executor over the whole sequence (the prompt
 * plus every generated token, on the same calibrated parameters): what recomputing the prefix
 * gives, without the cache, the incremental graph or the cached attention kernels. That
 * forward's time is also the row's baseline (the cost of one token without the cache at the
 * last position). `--quick`: a 240-token prompt up to 256 positions.
 */
import * as os from "node:os";
import { compileEntry } from "../../../interpreter/compile.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { i32 } from "../../../interpreter/engine/tensor.js";
import { Generator, sampleToken } from "../../../interpreter/generate/generator.js";
import { OptimizedExecutor } from "../../../interpreter/optimized/executor.js";
import { optimize } from "../../../interpreter/passes/pass.js";
import { loadModel } from "../../../models/tasks.js";
import { type BenchContext, type BenchRow, registerGroup } from "../registry.js";
import { median } from "../stats.js";

const TEXT = "The spiking language model reads a long text one byte at a time, and every new byte attends to all the bytes before it. ";

/** Float32 bits, every NaN as one value (NaN payloads are not semantics). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!(Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) return false;
  return true;
}

async function longContext(ctx: BenchContext, promptTokens: number, until: number, band: number): Promise<BenchRow[]> {
  const m = loadModel("generate", { model: "decoder-base" });
  const g = new Generator({ file: m.info.spec, entry: m.info.entry, args: m.info.args, weights: m.weights, weightsSource: m.weightsSource, seed: m.seed, maxContext: m.info.context });
  const prompt = m.tokenizer.encode(TEXT.repeat(Math.ceil(promptTokens / TEXT.length))).slice(0, promptTokens);
  const load = os.loadavg()[0]!;
  let t0 = performance.now();
  let logits = g.feed(prompt);
  const promptMs = performance.now() - t0;
  ctx.step(`decoder-base: ${prompt.length}-token prompt`);
  const seen = [logits];
  const tokens: number[] = [];
  const steps: { position: number; ms: number; cpuMs: number }[] = [];
  while (g.length < until) {
    const t = sampleToken(logits, { temperature: 0, topK: 0, uniform: () => 0 });
    tokens.push(t);
    const c0 = process.cpuUsage();
    t0 = performance.now();
    logits = g.feed([t]);
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    steps.push({ position: g.length, ms, cpuMs: (c.user + c.system) / 1000 });
    seen.push(logits);
  }
  ctx.step(`decoder-base: ${steps.length} tokens to ${until}`);
  const stats = g.cacheStats();
  const reserved = [...g.caches.values()].reduce((s, c) => s + (c as { reservedBytes?: number }).reservedBytes!, 0);

  // The oracle: one uncached forward over everything, on the same (calibrated) parameters.
  const all = [...prompt, ...tokens];
  const compiled = compileEntry({ file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs: new Map([["ids", i32([1, all.length])]]) });
  const exec = new OptimizedExecutor(optimize(compiled.graph).graph, g.parameters);
  t0 = performance.now();
  const full = exec.run(new Map([["ids", i32([1, all.length], all)]])).output.data as Float32Array;
  const oracleMs = performance.now() - t0;
  exec.release();
  ctx.step(`decoder-base: uncached forward of ${all.length} tokens (oracle)`);
  const V = seen[0]!.length;
  // seen[i] are the logits after position prompt.length + i (1-based), row prompt.length + i - 1
  const identical = seen.every((l, i) => sameBits(l, full.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V)));

  const steady = steps.slice(1);
  const rows: BenchRow[] = [];
  for (let lo = prompt.length + 2; lo <= until; lo += band) {
    const hi = Math.min(until, lo + band - 1);
    const inBand = steady.filter((s) => s.position >= lo && s.position <= hi);
    if (inBand.length === 0) continue;
    const ms = median(inBand.map((s) => s.ms));
    rows.push({
      name: `generate decoder-base at long context: ms/token at positions ${lo}-${hi} (prompt ${prompt.length}), key/value cache, optimized executor`,
      shape: null,
      rate: null,
      vs: `no cache: one optimized forward of all ${all.length} positions (also the logits' oracle)`,
      ratio: oracleMs / ms,
      spike_ms: Number(ms.toFixed(2)),
      cpu_ms: Number(median(inBand.map((s) => s.cpuMs)).toFixed(2)),
      max_ms: Number(Math.max(...inBand.map((s) => s.ms)).toFixed(2)),
      tokens: inBand.length,
      base_ms: Number(oracleMs.toFixed(0)),
      prompt_tokens: prompt.length,
      prompt_ms: Number(promptMs.toFixed(0)),
      first_token_ms: Number(steps[0]!.ms.toFixed(1)),
      first_token_cpu_ms: Number(steps[0]!.cpuMs.toFixed(1)),
      cache_bytes_per_token: stats.bytesPerToken,
      cache_reserved_bytes: reserved,
      positions_checked: `${prompt.length}-${until} (every generated position, against the uncached forward; the reference interpreter is too slow here)`,
      identical_tokens_and_logits: identical,
      load_average: Number(load.toFixed(2)),
    });
  }
  return rows;
}

registerGroup("generation-long", async (ctx) => {
  await initSpikeKernels();
  ctx.addSteps(3);
  const rows = ctx.quick ? await longContext(ctx, 240, 256, 16) : await longContext(ctx, 900, 1024, 31);
  for (const r of rows) if (r["identical_tokens_and_logits"] === false) ctx.log(`WARNING: ${r.name}: logits differ from the uncached forward`);
  return rows;
});
