/**
 * Generation benchmarks: milliseconds per generated token (greedy, after the prompt) of the
 * shipped decoders, with the spike key/value cache on the optimized executor, against
 * recomputing the prefix (optimized executor, no cache) and against the cache on the
 * reference interpreter, in the same process. Every path's tokens and logits are checked
 * identical (bit for bit, NaN as one value) over the tokens they share.
 * - decoder-small: the shipped trained weights (d 64, 2 layers, context 128; bytes), and
 *   decoder-small-bpe, the same with a 2,048-token byte-level BPE vocabulary (`generate`'s default);
 * - decoder-base: GPT-2-small-sized (d 768, 12 layers, context 1024), seeded weights.
 * Per-token time is the median over the decoding steps after the first (the first one plans
 * the one-token executor; a prompt longer than 16 tokens leaves it the weights to copy for
 * the few-rows kernel too). The JSON also has the load average,
 * the fastest step, the CPU time per step (all threads: the work, whatever else the shared
 * machine runs), and the ArrayBuffer bytes one decoding step allocates (the returned
 * logits, 4 · vocab bytes, included).
 */
import * as os from "node:os";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { rowTimesLevels, rowTimesLevelsT, rowsTimesCache, rowsTimesLevelsWasm } from "../../../interpreter/optimized/decode-attention.js";
import { PlannedCache } from "../../../interpreter/runtime/planned-cache.js";
import { Generator, type GeneratorOptions, sampleToken } from "../../../interpreter/generate/generator.js";
import { loadModel } from "../../../models/tasks.js";
import { type BenchContext, type BenchRow, registerGroup } from "../registry.js";
import { median, randomF32, randomSpikes, rng } from "../stats.js";

interface Decoded {
  readonly tokens: number[];
  readonly logits: Float32Array[];
  /** Per decoding step (prompt excluded). */
  readonly stepMs: number[];
  /** CPU time of the process (all its threads) per decoding step: the work, whatever else the machine runs. */
  readonly stepCpuMs: number[];
  readonly promptMs: number;
  /** ArrayBuffer bytes one steady decoding step allocates (after a forced GC; null without --expose-gc). */
  readonly stepBytes: number | null;
}

function decode(ctx: BenchContext, label: string, opts: GeneratorOptions, prompt: readonly number[], steps: number): Decoded {
  const g = new Generator(opts);
  let t0 = performance.now();
  let logits = g.feed(prompt);
  const promptMs = performance.now() - t0;
  ctx.step(`${label}: prompt`);
  const tokens: number[] = [];
  const all = [logits];
  const stepMs: number[] = [];
  const stepCpuMs: number[] = [];
  const gc = (globalThis as { gc?: () => void }).gc;
  let stepBytes: number | null = null;
  for (let i = 0; i < steps; i++) {
    const t = sampleToken(logits, { temperature: 0, topK: 0, uniform: () => 0 });
    tokens.push(t);
    const measure = i === 2 && gc !== undefined;
    if (measure) gc();
    const before = process.memoryUsage().arrayBuffers;
    const cpu0 = process.cpuUsage();
    t0 = performance.now();
    logits = g.feed([t]);
    stepMs.push(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    stepCpuMs.push((cpu.user + cpu.system) / 1000);
    if (measure) stepBytes = Math.max(0, process.memoryUsage().arrayBuffers - before);
    all.push(logits);
  }
  ctx.step(`${label}: ${steps} tokens`);
  return { tokens, logits: all, stepMs, stepCpuMs, promptMs, stepBytes };
}

/** Same tokens and logits over the steps both ran (NaN payloads are not semantics). */
function same(a: Decoded, b: Decoded): boolean {
  const n = Math.min(a.tokens.length, b.tokens.length);
  const eq = (x: Float32Array, y: Float32Array) => x.length === y.length && x.every((v, i) => Object.is(v, y[i]) || (Number.isNaN(v) && Number.isNaN(y[i])));
  return a.tokens.slice(0, n).join() === b.tokens.slice(0, n).join() && a.logits.slice(0, n + 1).every((l, i) => eq(l, b.logits[i]!));
}

/** Steady state: the steps after the first (which plans the one-token executor). */
const perToken = (d: Decoded) => median(d.stepMs.length > 1 ? d.stepMs.slice(1) : d.stepMs);
const cpuPerToken = (d: Decoded) => median(d.stepCpuMs.length > 1 ? d.stepCpuMs.slice(1) : d.stepCpuMs);

async function model(ctx: BenchContext, name: string, promptText: string, steps: { cached: number; uncached: number; reference: number }, threads?: number): Promise<BenchRow[]> {
  const m = loadModel("generate", { model: name });
  const base: GeneratorOptions = { file: m.info.spec, entry: m.info.entry, args: m.info.args, weights: m.weights, weightsSource: m.weightsSource, seed: m.seed, maxContext: m.info.context, executor: threads ? { threads } : undefined };
  const prompt = m.tokenizer.encode(promptText);
  const load = os.loadavg()[0]!;
  const cached = decode(ctx, `${name} cached`, base, prompt, steps.cached);
  const uncached = decode(ctx, `${name} uncached`, { ...base, cache: false }, prompt, steps.uncached);
  const reference = decode(ctx, `${name} reference`, { ...base, optimize: false }, prompt, steps.reference);
  const ms = perToken(cached);
  const t = threads ? `, ${threads} thread${threads > 1 ? "s" : ""}` : "";
  const steady = cached.stepMs.length > 1 ? cached.stepMs.slice(1) : cached.stepMs;
  const common = { shape: null, rate: null, spike_ms: Number(ms.toFixed(2)), min_ms: Number(Math.min(...steady).toFixed(2)), cpu_ms: Number(cpuPerToken(cached).toFixed(2)), prompt_tokens: prompt.length, tokens: steps.cached, prompt_ms: Number(cached.promptMs.toFixed(0)), bytes_allocated_per_token: cached.stepBytes, returned_logits_bytes: 4 * cached.logits[0]!.length, first_token_ms: Number(cached.stepMs[0]!.toFixed(1)), load_average: Number(load.toFixed(2)), threads: threads ?? null };
  return [
    { name: `generate ${name}: ms/token, key/value cache, optimized executor${t}`, vs: "no cache (optimized, prefix recomputed)", ratio: perToken(uncached) / ms, base_ms: Number(perToken(uncached).toFixed(2)), base_cpu_ms: Number(cpuPerToken(uncached).toFixed(2)), identical_tokens_and_logits: same(cached, uncached), ...common },
    { name: `generate ${name}: ms/token, key/value cache, optimized executor${t}`, vs: "key/value cache on the reference interpreter", ratio: perToken(reference) / ms, base_ms: Number(perToken(reference).toFixed(2)), base_cpu_ms: Number(cpuPerToken(reference).toFixed(2)), identical_tokens_and_logits: same(cached, reference), ...common },
  ];
}

/**
 * The attention of one decoding step of decoder-base at `positions` cached positions: per
 * layer (12), 48 (4 steps × 12 heads) query rows against int8 keys [positions, 64], then 48
 * probability rows against int8 values [positions, 64]; the WebAssembly kernels the executor
 * runs, reading the key/value caches where they are stored (decode-attention.ts
 * rowsTimesCache, one call per layer and product, on runtime/planned-cache.ts caches in the
 * module's memory), against the same kernels with each cache copied into the module's memory
 * per call (rowsTimesLevelsWasm: what a step did before the caches lived there) and against
 * the JavaScript loops per head. Same bits, checked.
 */
function attentionRows(ctx: BenchContext, positions: number, runs: number): BenchRow[] {
  const e = 64;
  const layers = 12;
  const heads = 48;
  const rand = rng(7);
  const q = randomF32(heads * e, rand);
  const p = randomF32(heads * positions, rand);
  const keys = randomSpikes(heads * positions * e, 0.5, rand);
  const values = randomSpikes(heads * positions * e, 0.5, rand);
  const keyCache = new PlannedCache(true, -2, { limit: 1024 });
  const valueCache = new PlannedCache(true, -2, { limit: 1024 });
  keyCache.append(keys, [heads, positions, e]);
  valueCache.append(values, [heads, positions, e]);
  const outs = () => ({ s: new Float32Array(heads * positions), o: new Float32Array(heads * e) });
  const [inPlace, copied, loops] = [outs(), outs(), outs()];
  const variants: Record<"inPlace" | "copied" | "loops", () => void> = {
    inPlace: () => {
      for (let l = 0; l < layers; l++) {
        rowsTimesCache("nt", q, e, keyCache, positions, heads, inPlace.s, true);
        rowsTimesCache("nn", p, positions, valueCache, e, heads, inPlace.o, true);
      }
    },
    copied: () => {
      for (let l = 0; l < layers; l++) {
        rowsTimesLevelsWasm("nt", q, e, keys, positions, heads, copied.s);
        rowsTimesLevelsWasm("nn", p, positions, values, e, heads, copied.o);
      }
    },
    loops: () => {
      for (let l = 0; l < layers; l++)
        for (let b = 0; b < heads; b++) {
          rowTimesLevelsT(q, b * e, e, keys, b * positions * e, positions, loops.s, b * positions);
          rowTimesLevels(p, b * positions, positions, values, b * positions * e, e, loops.o, b * e);
        }
    },
  };
  const ms = { inPlace: [] as number[], copied: [] as number[], loops: [] as number[] };
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const k of ["inPlace", "copied", "loops"] as const) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      variants[k]();
      ms[k].push(performance.now() - t0);
      if (k === "inPlace") {
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
      }
    }
  }
  keyCache.release();
  valueCache.release();
  ctx.step(`attention at ${positions} positions`);
  const eq = (a: Float32Array, b: Float32Array) => a.every((v, i) => Object.is(v, b[i]));
  const same = eq(inPlace.s, loops.s) && eq(inPlace.o, loops.o) && eq(copied.s, loops.s) && eq(copied.o, loops.o);
  const ours = median(ms.inPlace);
  const common = { shape: null, rate: 0.5, spike_ms: Number(ours.toFixed(2)), cpu_ms: Number(median(cpu).toFixed(2)), identical_outputs: same, load_average: Number(os.loadavg()[0]!.toFixed(2)) };
  const name = `decoding attention per token, decoder-base shapes, ${positions} cached positions (WebAssembly, cache read in place, one thread)`;
  return [
    { name, vs: "the same kernels, each cache copied into the module's memory per call", ratio: median(ms.copied) / ours, base_ms: Number(median(ms.copied).toFixed(2)), ...common },
    { name, vs: "JavaScript loops per head", ratio: median(ms.loops) / ours, base_ms: Number(median(ms.loops).toFixed(2)), ...common },
  ];
}

registerGroup("generation", async (ctx) => {
  await initSpikeKernels();
  const quick = ctx.quick;
  ctx.addSteps(3 * 2 * 3 + 2);
  const rows: BenchRow[] = [];
  rows.push(...(await model(ctx, "decoder-small", "In the beginning God created", quick ? { cached: 20, uncached: 5, reference: 5 } : { cached: 64, uncached: 16, reference: 16 })));
  // What `npm start` and `generate` decode by default: the same architecture with a 2,048-token head.
  rows.push(...(await model(ctx, "decoder-small-bpe", "In the beginning God created", quick ? { cached: 20, uncached: 5, reference: 5 } : { cached: 64, uncached: 16, reference: 16 })));
  rows.push(...(await model(ctx, "decoder-base", "The spiking", quick ? { cached: 4, uncached: 2, reference: 2 } : { cached: 24, uncached: 3, reference: 3 })));
  rows.push(...attentionRows(ctx, 128, quick ? 3 : 7), ...attentionRows(ctx, 1024, quick ? 1 : 3));
  for (const r of rows) if (r["identical_tokens_and_logits"] === false || r["identical_outputs"] === false) ctx.log(`WARNING: ${r.name} vs ${r.vs}: tokens or logits differ`);
  return rows;
});
