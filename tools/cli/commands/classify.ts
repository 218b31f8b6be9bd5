/**
 * `spikelm classify [--model NAME|SPEC] TEXT...`: sequence classification with a SpikeLM
 * encoder: each text's label and class probabilities. `--report [FILE]` adds the spike and
 * energy report of the run.
 */
import { progressBar } from "../progress.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { loadModel, prepareClassify } from "../../../models/tasks.js";
import { renderTable } from "../table.js";
import { type KernelStart, timingsLine } from "../timings.js";
import { timed } from "../../../interpreter/run.js";
import { checkReportTarget, emitReport } from "./report.js";
import { noteWeights, parseArgs, parseIntOption } from "./run.js";

export interface ModelCommandOptions {
  model?: string;
  entry?: string;
  arg?: string[];
  weights?: string;
  vocab?: string;
  seed?: string;
  report?: string | boolean;
  keepAmplitudes?: boolean;
  /** Print where the wall time went (tools/cli/timings.ts). */
  timings?: boolean;
}

export function modelOptions(opts: ModelCommandOptions) {
  return { model: opts.model, entry: opts.entry, args: parseArgs(opts.arg), weights: opts.weights, vocab: opts.vocab, seed: parseIntOption("--seed", opts.seed, 0) ?? 0, keepAmplitudes: opts.keepAmplitudes };
}

/** `kernels`: started by the caller; awaited after the compile, right before the forward. */
export async function classifyCommand(texts: string[], opts: ModelCommandOptions, kernels?: KernelStart): Promise<number> {
  checkReportTarget(opts.report);
  if (texts.length === 0) throw new UserError("no text to classify: spikelm classify \"some text\" [\"more text\" ...]");
  const timings = kernels?.timings;
  const m = timed(timings, "model", () => loadModel("classify", modelOptions(opts)));
  const prepared = prepareClassify(m, texts, { report: opts.report !== undefined && opts.report !== false, onProgress: progressBar("classify"), timings });
  // after the compile: the file was checked against it (models/tasks.ts, weightsFor)
  if (opts.weights) noteWeights(m.loadedWeights);
  await kernels?.ready();
  const { results, report } = prepared.run();
  const labels = results[0]?.probabilities.map((p) => p.label) ?? [];
  const clip = (s: string) => (s.length > 48 ? `${s.slice(0, 45)}...` : s);
  process.stdout.write(`${renderTable(["text", "label", ...labels.map((l) => `p(${l})`)], results.map((r) => [clip(r.text), r.label, ...r.probabilities.map((p) => p.p)]))}\n`);
  if (!m.weights) process.stderr.write(`note: \`${m.info.name}\` has no weights: seeded random initialisation (pass --weights)\n`);
  if (report) emitReport(report, [typeof opts.report === "string" ? opts.report : undefined]);
  if (opts.timings && timings) process.stderr.write(`${timingsLine(timings)}\n`);
  return 0;
}
