/**
 * `spikelm generate`: streams text from a causal model spec, token by token, using the
 * spike key/value cache (or, with --no-cache, recomputing the prefix every step). Prints the
 * cache's bytes per token next to what float32 keys and values would take.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { streamFor } from "../../../interpreter/engine/random.js";
import { Generator, sampleToken } from "../../../interpreter/generate/generator.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { ByteStreamDecoder, ByteTokenizer } from "../../../models/tokenizers/index.js";
import { parseArgs, parseIntOption, loadWeights } from "./run.js";

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../models");

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
  context?: string;
}

export interface ResolvedModel {
  readonly file: string;
  readonly entry: string;
  readonly args: Record<string, number | boolean>;
  readonly weights?: string;
  readonly maxContext?: number;
}

/** A spec file given on the command line; `--entry` names the model (default: the file's last model). */
export function resolveSpecModel(opts: GenerateOptions): ResolvedModel {
  const file = opts.model ?? path.join(MODELS, "tiny/tiny_spikelm.spk");
  if (!file.endsWith(".spk")) throw new UserError(`unknown model \`${file}\`: give a .spk file (and --entry), or a shipped model name (see \`spikelm models\`)`);
  const args = parseArgs(opts.arg);
  const entry = opts.entry ?? "TinySpikeLM";
  const ctx = typeof args.ctx === "number" ? args.ctx : opts.model ? undefined : 128;
  return { file, entry, args, weights: opts.weights, maxContext: parseIntOption("--context", opts.context, 1) ?? ctx };
}

export function parseFloatOption(name: string, raw: string | undefined, dflt: number, min: number): number {
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) throw new UserError(`${name} expects a number >= ${min}, found \`${raw}\``);
  return v;
}

export async function generateCommand(opts: GenerateOptions, resolve: (o: GenerateOptions) => ResolvedModel = resolveSpecModel): Promise<number> {
  if (opts.prompt === undefined || opts.prompt.length === 0) throw new UserError("the prompt is empty: pass --prompt TEXT");
  const model = resolve(opts);
  const maxTokens = parseIntOption("--max-tokens", opts.maxTokens, 1) ?? 64;
  const temperature = parseFloatOption("--temperature", opts.temperature, 0.8, 0);
  const topK = parseIntOption("--top-k", opts.topK, 0) ?? 40;
  const seed = parseIntOption("--seed", opts.seed, 0) ?? 0;
  const tokenizer = new ByteTokenizer();
  const prompt = tokenizer.encode(opts.prompt);
  if (model.maxContext !== undefined && prompt.length >= model.maxContext)
    throw new UserError(`the prompt is ${prompt.length} tokens, but the model's context is ${model.maxContext}: shorten it`);
  const generator = new Generator({ file: model.file, entry: model.entry, args: model.args, weights: loadWeights(model.weights), weightsSource: model.weights, seed: 0, cache: opts.cache !== false, maxContext: model.maxContext });
  const rng = streamFor(seed, "spikelm-generate");
  const decoder = new ByteStreamDecoder();
  process.stdout.write(opts.prompt);
  const t0 = performance.now();
  let logits = generator.feed(prompt);
  const tPrompt = performance.now();
  let produced = 0;
  for (; produced < maxTokens; produced++) {
    if (model.maxContext !== undefined && generator.length >= model.maxContext) break;
    const next = sampleToken(logits, { temperature, topK, uniform: () => rng.uniform() });
    process.stdout.write(decoder.push(next));
    if (produced + 1 < maxTokens && (model.maxContext === undefined || generator.length + 1 <= model.maxContext)) logits = generator.feed([next]);
  }
  process.stdout.write(`${decoder.flush()}\n`);
  const tEnd = performance.now();
  const stats = generator.cacheStats();
  const perTok = produced > 0 ? (tEnd - tPrompt) / produced : 0;
  process.stderr.write(
    `${produced} tokens in ${((tEnd - t0) / 1000).toFixed(2)} s (prompt ${prompt.length} tokens: ${(tPrompt - t0).toFixed(0)} ms; ${perTok.toFixed(1)} ms/token)` +
      (opts.cache !== false ? `; key/value cache: ${stats.bytesPerToken} bytes/token as spikes (int8 levels) vs ${stats.float32BytesPerToken} as float32 (${(stats.float32BytesPerToken / Math.max(1, stats.bytesPerToken)).toFixed(1)}x)\n` : "; no cache (prefix recomputed each token)\n"),
  );
  return 0;
}
