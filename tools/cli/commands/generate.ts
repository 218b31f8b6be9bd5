/**
 * `spikelm generate`: streams text from a causal model spec, token by token, using the
 * spike key/value cache (or, with --no-cache, recomputing the prefix every step), on the
 * optimized executor (or, with --no-opt, the reference interpreter: same tokens). Prints the
 * cache's bytes per token next to what float32 keys and values would take.
 */
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { streamFor } from "../../../interpreter/engine/random.js";
import { type CacheStats, Generator, sampleToken } from "../../../interpreter/generate/generator.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { i32 } from "../../../interpreter/engine/tensor.js";
import { runWithReport } from "../../../interpreter/report/run.js";
import { READABLE_DECODER } from "../../../models/registry.js";
import { loadModel } from "../../../models/tasks.js";
import { streamDecoderFor } from "../../../models/tokenizers/index.js";
import { checkReportTarget, emitReport } from "./report.js";
import { noteWeights, parseArgs, parseIntOption } from "./run.js";

/**
 * Sampling needs finite logits (as torch.multinomial does): NaN or ±Infinity means the
 * model's weights or activations overflowed float32, and any token chosen from them would be
 * arbitrary, so the command stops with the position instead of printing junk.
 */
function requireFinite(logits: Float32Array, position: number): void {
  let bad = 0;
  for (const v of logits) if (!Number.isFinite(v)) bad++;
  if (bad > 0) throw new UserError(`the logits after position ${position} are not finite (${bad} of ${logits.length} are NaN or ±Infinity): the model's weights or activations overflow float32, so no token can be sampled`);
}

export interface GenerateOptions {
  model?: string;
  entry?: string;
  arg?: string[];
  weights?: string;
  prompt?: string;
  maxTokens?: string;
  temperature?: string;
  topK?: string;
  seed?: string;
  cache?: boolean;
  opt?: boolean;
  report?: string | boolean;
  keepAmplitudes?: boolean;
  /** A byte-level BPE merges file (or WordPiece vocab.txt) for a model that does not ship one. */
  vocab?: string;
}

function parseFloatOption(name: string, raw: string | undefined, dflt: number, min: number): number {
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) throw new UserError(`${name} expects a number >= ${min}, found \`${raw}\``);
  return v;
}

export async function generateCommand(opts: GenerateOptions): Promise<number> {
  if (opts.prompt === undefined || opts.prompt.length === 0) throw new UserError("the prompt is empty: pass --prompt TEXT");
  checkReportTarget(opts.report);
  const maxTokens = parseIntOption("--max-tokens", opts.maxTokens, 1) ?? 64;
  const temperature = parseFloatOption("--temperature", opts.temperature, 0.8, 0);
  const topK = parseIntOption("--top-k", opts.topK, 0) ?? 40;
  const seed = parseIntOption("--seed", opts.seed, 0) ?? 0;
  const model = loadModel("generate", { model: opts.model ?? READABLE_DECODER, entry: opts.entry, args: parseArgs(opts.arg), weights: opts.weights, keepAmplitudes: opts.keepAmplitudes, vocab: opts.vocab });
  if (opts.weights) noteWeights(model.loadedWeights);
  const { info, tokenizer } = model;
  const prompt = tokenizer.encode(opts.prompt);
  if (prompt.length === 0) throw new UserError("the prompt is empty after tokenization");
  if (prompt.length >= info.context) throw new UserError(`the prompt is ${prompt.length} tokens, but \`${info.name}\` has a context of ${info.context}: shorten it`);
  if (opts.opt !== false) await initSpikeKernels();
  const generator = new Generator({ file: info.spec, entry: info.entry, args: info.args, weights: model.weights, weightsSource: model.weightsSource, seed: model.seed, cache: opts.cache !== false, maxContext: info.context, optimize: opts.opt !== false });
  const rng = streamFor(seed, "spikelm-generate");
  const decoder = streamDecoderFor(tokenizer);
  const t0 = performance.now();
  let logits = generator.feed(prompt);
  const tPrompt = performance.now();
  // The prompt is echoed once its logits are known to be usable: a model that cannot
  // sample its first token prints nothing on stdout.
  requireFinite(logits, generator.length);
  process.stdout.write(opts.prompt);
  const produced: number[] = [];
  while (produced.length < maxTokens && generator.length < info.context) {
    const next = sampleToken(logits, { temperature, topK, uniform: () => rng.uniform() });
    produced.push(next);
    process.stdout.write(decoder.push(next));
    if (produced.length < maxTokens && generator.length < info.context) {
      logits = generator.feed([next]);
      requireFinite(logits, generator.length);
    }
  }
  process.stdout.write(`${decoder.flush()}\n`);
  const tEnd = performance.now();
  const perTok = produced.length > 0 ? (tEnd - tPrompt) / produced.length : 0;
  const stats = generator.cacheStats();
  process.stderr.write(
    `${info.name}: ${produced.length} tokens in ${((tEnd - t0) / 1000).toFixed(2)} s (prompt of ${prompt.length}: ${(tPrompt - t0).toFixed(0)} ms; then ${perTok.toFixed(1)} ms/token)` +
      (opts.cache !== false
        ? `; key/value cache ${bytes(stats.bytesPerToken)} bytes/token as ${held(stats)} vs ${bytes(stats.float32BytesPerToken)} as float32 (${(stats.float32BytesPerToken / Math.max(1, stats.bytesPerToken)).toFixed(1)}x smaller)\n`
        : "; no cache: the prefix was recomputed for every token\n"),
  );
  if (opts.report) {
    // The report observes one forward over the whole text with the calibrated amplitudes.
    const ids = [...prompt, ...produced].slice(0, info.context);
    const r = runWithReport({ file: info.spec, entry: info.entry, args: info.args, inputs: new Map([["ids", i32([1, ids.length], ids)]]), params: generator.parameters, model: info.name, optimize: opts.opt !== false });
    emitReport(r.report, [typeof opts.report === "string" ? opts.report : undefined]);
  }
  return 0;
}

/** What the cache holds, from its measured storage ("spikes (int8 levels)" when every site is int8). */
export function held(stats: CacheStats): string {
  const kinds = [...new Set(stats.sites.map((s) => s.storage))];
  return kinds.length === 1 && kinds[0] === "int8 levels" ? "spikes (int8 levels)" : kinds.join(" + ");
}

const bytes = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
