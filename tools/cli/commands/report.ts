/**
 * `spikelm report`: per-layer and per-neuron firing rates, ACs, MACs and energy of a real
 * forward run, the same model counted as a dense ANN, and the spike-driven proof (every
 * matmul without a spike operand with its share of operations). Without options: the default
 * model on the shipped sample text. Also the `--report [FILE]` option of `run` and `classify`.
 */
import { progressBar } from "../progress.js";
import type { Tensor } from "../../../interpreter/engine/tensor.js";
import { i32 } from "../../../interpreter/engine/tensor.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { readFileText } from "../../../interpreter/io/files.js";
import { readTensorMap } from "../../../interpreter/io/tensor-json.js";
import type { SpikeReport } from "../../../interpreter/report/counts.js";
import { runWithReport } from "../../../interpreter/report/run.js";
import { SAMPLE_TEXT } from "../../../models/registry.js";
import { encodeTexts, loadModel, runModel } from "../../../models/tasks.js";
import { renderReportText, writeReport } from "../../report/render.js";
import { type RunOptions, noteWeights, parseArgs, parseIntOption, prepareRun, runCommand } from "./run.js";

export interface ReportOptions {
  model?: string;
  entry?: string;
  arg?: string[];
  weights?: string;
  vocab?: string;
  text?: string[];
  input?: string;
  json?: string;
  html?: string;
  seed?: string;
  keepAmplitudes?: boolean;
}

/** Prints the report and writes the files asked for. `target`: true (print only) or a .json/.html file. */
export function emitReport(report: SpikeReport, targets: readonly (string | true | undefined)[]): void {
  for (const t of targets) if (typeof t === "string") writeReport(report, t);
  process.stdout.write(`${renderReportText(report)}\n`);
  for (const t of targets) if (typeof t === "string") process.stdout.write(`wrote ${t}\n`);
}

export function reportCommand(opts: ReportOptions): number {
  const seed = parseIntOption("--seed", opts.seed, 0) ?? 0;
  // Validate output names before the (possibly long) run.
  if (opts.json !== undefined && !opts.json.toLowerCase().endsWith(".json")) throw new UserError(`--json expects a .json file, found ${opts.json}`);
  if (opts.html !== undefined && !/\.html?$/i.test(opts.html)) throw new UserError(`--html expects a .html file, found ${opts.html}`);
  const m = loadModel("any", { model: opts.model, entry: opts.entry, args: parseArgs(opts.arg), weights: opts.weights, vocab: opts.vocab, seed, noTokenizer: opts.input !== undefined, keepAmplitudes: opts.keepAmplitudes });
  if (opts.weights) noteWeights(m.loadedWeights);
  let report: SpikeReport;
  if (opts.input) {
    const inputs: Map<string, Tensor> = readTensorMap(opts.input);
    report = runWithReport({ file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs, weights: m.weights, weightsSource: m.weightsSource, seed, model: m.info.name, onProgress: progressBar("report") }).report;
  } else {
    let texts = opts.text && opts.text.length > 0 ? opts.text : readFileText(SAMPLE_TEXT, "sample text").split("\n").filter((l) => l.trim().length > 0);
    if (m.info.task === "generate") {
      // One sequence (a causal model has no padding mask), cut to the context.
      const joined = texts.join(" ");
      const all = m.tokenizer.encode(joined);
      const ids = all.slice(0, m.info.context);
      if (ids.length === 0) throw new UserError("the text is empty");
      // The user's own text cut short is said (the shipped sample is cut to the context by design).
      if (opts.text && opts.text.length > 0 && all.length > ids.length)
        process.stderr.write(`note: the text is ${all.length} tokens; the report covers the first ${ids.length} (the context of \`${m.info.name}\`)\n`);
      report = runModel(m, { ids: i32([1, ids.length], ids), types: i32([1, ids.length]), mask: i32([1, ids.length]) }, { report: true, onProgress: progressBar("report") }).report!;
      texts = [joined];
    } else {
      report = runModel(m, encodeTexts(m, texts), { report: true, onProgress: progressBar("report") }).report!;
    }
  }
  emitReport(report, [opts.json, opts.html]);
  return 0;
}

/**
 * `run ... --report [FILE]`: the run as usual, then the report of the same spec, weights and
 * inputs, observed op by op by the reference interpreter (the same spikes, bit for bit).
 */
export async function runAndReport(file: string, opts: RunOptions & { report?: string | boolean }): Promise<number> {
  checkReportTarget(opts.report);
  // One compile and one weights load for both the run and the report.
  const prepared = prepareRun(file, opts);
  const code = await runCommand(file, opts, prepared);
  if (code !== 0) return code;
  const r = runWithReport({
    file,
    entry: opts.entry,
    args: prepared.args,
    inputs: prepared.inputs,
    compiled: prepared.compiled,
    weights: prepared.loaded?.weights,
    weightsSource: opts.weights,
    seed: prepared.seed,
    timesteps: prepared.timesteps,
  });
  emitReport(r.report, [typeof opts.report === "string" ? opts.report : undefined]);
  return 0;
}

/** A `--report` value: true (print only) or a .json / .html file. */
export function checkReportTarget(report: string | boolean | undefined): void {
  if (typeof report === "string" && !/\.(json|html?)$/i.test(report)) throw new UserError(`--report ${report}: a report file ends in .json or .html`);
}
