/**
 * `spikelm fill-mask [--model NAME|SPEC] "the [MASK] sat"`: the most likely tokens for each
 * [MASK], with probabilities, from a SpikeLM encoder with BERT's masked-LM head.
 */
import { progressBar } from "../progress.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { loadModel, prepareFillMask } from "../../../models/tasks.js";
import { renderTable } from "../table.js";
import { type KernelStart, timingsLine } from "../timings.js";
import { timed } from "../../../interpreter/run.js";
import { type ModelCommandOptions, modelOptions } from "./classify.js";
import { checkReportTarget, emitReport } from "./report.js";
import { noteWeights, parseIntOption } from "./run.js";

/** `kernels`: started by the caller; awaited after the compile, right before the forward. */
export async function fillMaskCommand(texts: string[], opts: ModelCommandOptions & { topK?: string }, kernels?: KernelStart): Promise<number> {
  checkReportTarget(opts.report);
  const timings = kernels?.timings;
  const topK = parseIntOption("--top-k", opts.topK, 1) ?? 5;
  if (texts.length === 0) throw new UserError('no text given: spikelm fill-mask "the [MASK] sat on the mat"');
  const text = texts.join(" ");
  const m = timed(timings, "model", () => loadModel("fill-mask", modelOptions(opts)));
  const prepared = prepareFillMask(m, text, { topK, report: opts.report !== undefined && opts.report !== false, onProgress: progressBar("fill-mask"), timings });
  // after the compile: the file was checked against it (models/tasks.ts, weightsFor)
  if (opts.weights) noteWeights(m.loadedWeights);
  await kernels?.ready();
  const { masks, report } = prepared.run();
  for (const [i, mk] of masks.entries()) {
    if (masks.length > 1) process.stdout.write(`[MASK] #${i + 1} (token ${mk.position}):\n`);
    process.stdout.write(`${renderTable(["rank", "token", "probability", "filled in"], mk.top.map((t, r) => [r + 1, t.token, t.p, fillIn(text, i, t.token)]))}\n`);
  }
  if (!m.weights) process.stderr.write(`note: \`${m.info.name}\` has no weights: seeded random initialisation (pass --weights)\n`);
  if (report) emitReport(report, [typeof opts.report === "string" ? opts.report : undefined]);
  if (opts.timings && timings) process.stderr.write(`${timingsLine(timings)}\n`);
  return 0;
}

/** The text with its `which`-th [MASK] replaced by `token` (WordPiece "##" joined to the word). */
function fillIn(text: string, which: number, token: string): string {
  let n = -1;
  const s = text.replace(/ ?\[MASK\]/g, (m) => {
    n++;
    if (n !== which) return m;
    return token.startsWith("##") ? token.slice(2) : `${m.startsWith(" ") ? " " : ""}${token}`;
  });
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
