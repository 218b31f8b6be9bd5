/**
 * `spikelm eval (FILE --entry NAME | --model NAME) [--weights CKPT] --task lm|mlm|classify
 * --data FILE [--json F]`: loss, bits per byte (lm), perplexity, accuracy (classify) and
 * firing rates on a whole data file, on the optimized executor. `--unigram TRAIN` adds the
 * unigram baseline (token frequencies of TRAIN) in bits per byte.
 */
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { writeFileAtomic } from "../../../interpreter/io/files.js";
import { type LmData, SpecTrainModel, evaluateData, loadTextData, resolveModel, unigramBitsPerByte } from "../../../models/training.js";
import { ratesByLayer } from "../../report/train-render.js";
import { displayPath } from "../report-errors.js";
import { renderTable } from "../table.js";
import { parseArgs } from "./run.js";
import { MAX_BATCH_TOKENS, loadTaskData, modelArg, parseTask } from "./train.js";

export interface EvalOptions {
  model?: string;
  entry?: string;
  arg?: string[];
  task?: string;
  data?: string;
  weights?: string;
  vocab?: string;
  batch?: string;
  seq?: string;
  seed?: string;
  json?: string;
  unigram?: string;
  maxBatches?: string;
}

const int = (name: string, raw: string | undefined, min: number): number | undefined => {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isSafeInteger(v) || v < min) throw new UserError(`${name} expects a whole number >= ${min}, found \`${raw}\``);
  return v;
};

export async function evalCommand(file: string | undefined, opts: EvalOptions): Promise<number> {
  const task = parseTask(opts.task);
  const which = modelArg(file, opts);
  if (!opts.data) throw new UserError("--data FILE is required");
  if (opts.json && !opts.json.toLowerCase().endsWith(".json")) throw new UserError(`--json ${opts.json}: expected a .json file`);
  const seed = int("--seed", opts.seed, 0) ?? 0;
  const batch = int("--batch", opts.batch, 1) ?? 8;
  const seq = int("--seq", opts.seq, 4) ?? (task === "classify" ? 64 : 128);
  const maxBatches = int("--max-batches", opts.maxBatches, 0) ?? 0;
  // As train's micro-batch: a batch the model's tensors cannot hold is the user's option, not a compile error in the spec.
  if (batch * seq > MAX_BATCH_TOKENS)
    throw new UserError(`a batch of ${batch.toLocaleString("en")} × ${seq.toLocaleString("en")} tokens is more than the limit of ${MAX_BATCH_TOKENS.toLocaleString("en")}${opts.seq === undefined ? " (sequence length from the default)" : ""}: use a smaller --batch or --seq`);
  const m = resolveModel(task, { ...which, args: parseArgs(opts.arg), weights: opts.weights, shippedWeights: true, vocab: opts.vocab, seed });
  const probe = task === "classify" ? new SpecTrainModel({ task, model: { ...m, weights: undefined }, batch: 1, seq: 2, seed }) : undefined;
  const maxLen = Math.min(seq, m.info.context);
  const data = loadTaskData(task, opts.data, m, probe?.classes ?? 0, maxLen);
  let unigram: number | undefined;
  if (opts.unigram) {
    if (task !== "lm") throw new UserError("--unigram is for --task lm");
    unigram = unigramBitsPerByte(loadTextData("lm", opts.unigram, m.tokenizer), data as LmData, m.tokenizer.vocabSize);
  }
  await initSpikeKernels();
  const model = new SpecTrainModel({ task, model: m, eval: data, batch, seq, seed, evalBatches: maxBatches });
  const t0 = performance.now();
  const e = evaluateData(model, data);
  const seconds = (performance.now() - t0) / 1000;
  const out = {
    model: m.info.name,
    entry: m.info.entry,
    weights: m.weightsSource ?? "seeded",
    task,
    data: opts.data,
    loss: e.loss,
    ...(e.bitsPerByte !== undefined ? { bits_per_byte: e.bitsPerByte } : {}),
    ...(unigram !== undefined ? { unigram_bits_per_byte: unigram } : {}),
    perplexity: e.perplexity,
    ...(e.accuracy !== undefined ? { accuracy: e.accuracy } : {}),
    tokens: e.count,
    ...(e.bytes !== undefined ? { bytes: e.bytes } : {}),
    firing_rates: e.rates,
    seconds,
  };
  const rows: (string | number)[][] = [
    ["loss (nats)", e.loss.toFixed(4)],
    ...(e.bitsPerByte !== undefined ? [["bits per byte", e.bitsPerByte.toFixed(4)]] : []),
    ...(unigram !== undefined ? [["unigram baseline (bits per byte)", unigram.toFixed(4)]] : []),
    ["perplexity", e.perplexity.toFixed(3)],
    ...(e.accuracy !== undefined ? [["accuracy", `${(100 * e.accuracy).toFixed(2)}%`]] : []),
    [task === "classify" ? "examples" : "tokens", e.count],
    ...(e.bytes !== undefined ? [["bytes the tokens cover", e.bytes]] : []),
    ...[...ratesByLayer(e.rates)].map(([l, r]) => [`firing rate ${l}`, `${(100 * r).toFixed(1)}%`]),
  ];
  // The file first: should it fail after all (the folder went away during the run), stdout holds nothing.
  if (opts.json) writeFileAtomic(opts.json, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${m.info.name} on ${displayPath(opts.data)} (task ${task}, weights ${m.weightsSource ? displayPath(m.weightsSource) : "seeded"}, ${seconds.toFixed(1)} s)\n${renderTable(["metric", "value"], rows)}\n`);
  return 0;
}
