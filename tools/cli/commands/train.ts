/**
 * `spikelm train (FILE --entry NAME | --model NAME) --task lm|mlm|classify --data FILE ...`:
 * trains a spec on a task (models/training.ts builds the model, interpreter/train/trainer.ts
 * runs the loop) and writes a resumable safetensors checkpoint, a JSONL run log and an HTML
 * page of curves. Every argument, file and the model are checked before anything is written.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { initGradKernels } from "../../../interpreter/engine/grad/matmul-wasm.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { writeFileAtomic } from "../../../interpreter/io/files.js";
import { type Checkpoint, checkOptimizerState, loadCheckpoint } from "../../../interpreter/train/checkpoint.js";
import type { ScheduleKind } from "../../../interpreter/train/schedule.js";
import { type EvalRecord, type StepRecord, TRAIN_DEFAULTS, type TrainConfig, train } from "../../../interpreter/train/trainer.js";
import { type TaskData, type TrainTask, SpecTrainModel, TRAIN_TASKS, checkSeqFits, loadClassifyData, loadTextData, resolveModel, splitHeldOut } from "../../../models/training.js";
import { tokenizerFingerprint } from "../../../models/tokenizers/index.js";
import { renderTrainingHtml } from "../../report/train-render.js";
import { trainingBar } from "../progress.js";
import { displayPath } from "../report-errors.js";
import { parseArgs } from "./run.js";

export interface TrainOptions {
  model?: string;
  entry?: string;
  arg?: string[];
  task?: string;
  data?: string;
  evalData?: string;
  weights?: string;
  vocab?: string;
  steps?: string;
  batch?: string;
  seq?: string;
  lr?: string;
  seed?: string;
  out?: string;
  resume?: string;
  trainAmplitudes?: boolean;
  html?: string;
  warmup?: string;
  schedule?: string;
  minLrRatio?: string;
  clip?: string;
  accum?: string;
  weightDecay?: string;
  evalEvery?: string;
  evalBatches?: string;
  saveEvery?: string;
  log?: string;
  stopAfter?: string;
  quiet?: boolean;
}

function num(name: string, raw: string | undefined, check: (v: number) => boolean, what: string): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || !check(v)) throw new UserError(`${name} expects ${what}, found \`${raw}\``);
  return v;
}
const int = (name: string, raw: string | undefined, min: number) => num(name, raw, (v) => Number.isSafeInteger(v) && v >= min, `a whole number >= ${min}`);
/** Micro-batches per step: more would make one step run for hours with no progress shown. */
const MAX_ACCUM = 1024;
/** Tokens in one micro-batch: its activations (and logits) grow with it; more would exhaust memory. */
export const MAX_BATCH_TOKENS = 1 << 20;
const atMost = (name: string, v: number | undefined, max: number) => {
  if (v !== undefined && v > max) throw new UserError(`${name} is at most ${max.toLocaleString("en")}, found ${v}`);
  return v;
};
const pos = (name: string, raw: string | undefined) => num(name, raw, (v) => v > 0, "a positive number");
const nonneg = (name: string, raw: string | undefined) => num(name, raw, (v) => v >= 0, "a number >= 0");

/**
 * What a resumed run takes from its checkpoint's `config` / `shape` when an option is not
 * given: each value must pass the check its option would, so a damaged or hand-edited
 * checkpoint is refused here rather than training on NaN or asking for a huge batch.
 */
const RESUMED_CHECKS: Readonly<Record<string, [(v: number) => boolean, string]>> = {
  steps: [(v) => Number.isSafeInteger(v) && v >= 1, "a whole number >= 1"],
  lr: [(v) => v > 0, "a positive number"],
  warmup: [(v) => Number.isSafeInteger(v) && v >= 0, "a whole number >= 0"],
  minLrRatio: [(v) => v >= 0, "a number >= 0"],
  clip: [(v) => v >= 0, "a number >= 0"],
  accum: [(v) => Number.isSafeInteger(v) && v >= 1 && v <= MAX_ACCUM, `a whole number from 1 to ${MAX_ACCUM}`],
  weightDecay: [(v) => v >= 0, "a number >= 0"],
  beta1: [(v) => v >= 0 && v < 1, "a number in [0, 1)"],
  beta2: [(v) => v >= 0 && v < 1, "a number in [0, 1)"],
  seed: [(v) => Number.isSafeInteger(v) && v >= 0, "a whole number >= 0"],
  evalEvery: [(v) => Number.isSafeInteger(v) && v >= 0, "a whole number >= 0"],
  saveEvery: [(v) => Number.isSafeInteger(v) && v >= 0, "a whole number >= 0"],
  batch: [(v) => Number.isSafeInteger(v) && v >= 1, "a whole number >= 1"],
  seq: [(v) => Number.isSafeInteger(v) && v >= 2, "a whole number >= 2"],
  evalBatches: [(v) => Number.isSafeInteger(v) && v >= 0, "a whole number >= 0"],
};

function resumedConfig(file: string | undefined, raw: unknown, where = "config"): Record<string, unknown> {
  if (raw === undefined || file === undefined) return {};
  const bad = (what: string, found: unknown) => new UserError(`${file}: the training state's ${where}${what}, found ${JSON.stringify(found) ?? String(found)}`, { file });
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad(" must be a JSON object", raw);
  const out = raw as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) {
    if (k === "schedule") continue; // checked with --schedule below
    const check = RESUMED_CHECKS[k];
    if (check && !(typeof v === "number" && Number.isFinite(v) && check[0](v))) throw bad(`.${k} must be ${check[1]}`, v);
  }
  return out;
}

export function parseTask(raw: string | undefined): TrainTask {
  if (raw === undefined) throw new UserError(`--task is required: one of ${TRAIN_TASKS.join(", ")}`);
  if (!(TRAIN_TASKS as readonly string[]).includes(raw)) throw new UserError(`--task is one of ${TRAIN_TASKS.join(", ")}, found \`${raw}\``);
  return raw as TrainTask;
}

/** `FILE --entry NAME` or `--model NAME|FILE` into loadModel's model/entry. */
export function modelArg(file: string | undefined, opts: { model?: string; entry?: string }): { model?: string; entry?: string } {
  if (file && opts.model) throw new UserError(`give a spec file or --model, not both (found ${file} and --model ${opts.model})`);
  const model = file ?? opts.model;
  if (!model) throw new UserError("which model? give a .spk file with --entry NAME, or --model NAME (see `spikelm models`)");
  if (model.endsWith(".spk") && !opts.entry) throw new UserError(`--entry is required with a spec file (the model in ${model} to train)`);
  return { model, entry: opts.entry };
}

/** Loads a task's data file (and the held-out split), with the tokenizer and the model's class count. */
export function loadTaskData(task: TrainTask, file: string, m: ReturnType<typeof resolveModel>, classes: number, maxLen: number): TaskData {
  return task === "classify" ? loadClassifyData(file, m.tokenizer, classes, m.info.labels, maxLen) : loadTextData(task, file, m.tokenizer);
}

function checkOutFile(flag: string, file: string | undefined, exts: readonly string[]): void {
  if (!file) return;
  if (!exts.some((e) => file.toLowerCase().endsWith(e))) throw new UserError(`${flag} ${file}: expected a ${exts.join(" or ")} file`);
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`${flag} ${file}: the directory ${dir} does not exist`);
  // Found out only when the file is written, this would fail after the whole run.
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new UserError(`${flag} ${file}: cannot write there: it is a folder`);
}

export async function trainCommand(file: string | undefined, opts: TrainOptions): Promise<number> {
  // 1. Arguments (all before any work).
  const task = parseTask(opts.task);
  const which = modelArg(file, opts);
  if (!opts.data) throw new UserError("--data FILE is required (text for lm/mlm, text<TAB>label lines for classify)");
  if (!opts.out) throw new UserError("--out CKPT.safetensors is required");
  checkOutFile("--out", opts.out, [".safetensors"]);
  checkOutFile("--html", opts.html, [".html", ".htm"]);
  checkOutFile("--log", opts.log, [".jsonl", ".json", ".log"]);
  let resume: Checkpoint | undefined;
  if (opts.resume) {
    if (!fs.existsSync(opts.resume)) throw new UserError(`cannot read checkpoint ${opts.resume}: no such file`);
    resume = loadCheckpoint(opts.resume);
    if (!resume.state) throw new UserError(`${opts.resume} is a weights file without training state (not written by spikelm train); to start from its weights use --weights`);
    if (opts.weights) throw new UserError("--resume continues from the checkpoint's weights; --weights cannot be given with it");
  }
  const prev = resumedConfig(opts.resume, resume?.state?.info.config) as Partial<TrainConfig>;
  const schedule = (opts.schedule ?? prev.schedule ?? TRAIN_DEFAULTS.schedule) as ScheduleKind;
  if (!["cosine", "linear", "constant"].includes(schedule)) {
    const from = opts.schedule === undefined && prev.schedule !== undefined ? `${opts.resume}: the training state's config.schedule` : "--schedule";
    throw new UserError(`${from} is cosine, linear or constant, found \`${String(schedule)}\``);
  }
  const steps = int("--steps", opts.steps, 1) ?? prev.steps;
  if (steps === undefined) throw new UserError("--steps N is required");
  const config: TrainConfig = {
    steps,
    lr: pos("--lr", opts.lr) ?? prev.lr ?? TRAIN_DEFAULTS.lr,
    warmup: int("--warmup", opts.warmup, 0) ?? prev.warmup ?? Math.min(100, Math.floor(steps / 10)),
    schedule,
    minLrRatio: nonneg("--min-lr-ratio", opts.minLrRatio) ?? prev.minLrRatio ?? TRAIN_DEFAULTS.minLrRatio,
    clip: nonneg("--clip", opts.clip) ?? prev.clip ?? TRAIN_DEFAULTS.clip,
    accum: atMost("--accum", int("--accum", opts.accum, 1), MAX_ACCUM) ?? prev.accum ?? TRAIN_DEFAULTS.accum,
    weightDecay: nonneg("--weight-decay", opts.weightDecay) ?? prev.weightDecay ?? TRAIN_DEFAULTS.weightDecay,
    beta1: prev.beta1 ?? TRAIN_DEFAULTS.beta1,
    beta2: prev.beta2 ?? TRAIN_DEFAULTS.beta2,
    seed: int("--seed", opts.seed, 0) ?? prev.seed ?? TRAIN_DEFAULTS.seed,
    evalEvery: int("--eval-every", opts.evalEvery, 0) ?? prev.evalEvery ?? Math.max(1, Math.floor(steps / 10)),
    saveEvery: int("--save-every", opts.saveEvery, 0) ?? prev.saveEvery ?? 0,
  };
  const prevShape = resumedConfig(opts.resume, resume?.state?.info.shape, "shape") as { batch?: number; seq?: number; evalBatches?: number };
  const batch = int("--batch", opts.batch, 1) ?? prevShape.batch ?? 8;
  const seqDefault = task === "classify" ? 64 : 128;
  const seq = int("--seq", opts.seq, 2) ?? prevShape.seq ?? seqDefault;
  if (batch * seq > MAX_BATCH_TOKENS) throw new UserError(`a micro-batch of ${batch.toLocaleString("en")} × ${seq.toLocaleString("en")} tokens is more than the limit of ${MAX_BATCH_TOKENS.toLocaleString("en")}${opts.batch === undefined || opts.seq === undefined ? ` (batch and sequence length from ${opts.resume ?? "the defaults"} where not given)` : ""}: use a smaller --batch or --seq (and --accum to accumulate)`);
  if (task === "mlm" && seq < 4) throw new UserError("--seq must be at least 4 for mlm ([CLS] + tokens + [SEP])");
  const evalBatches = int("--eval-batches", opts.evalBatches, 0) ?? prevShape.evalBatches ?? 0;
  const stopAfter = int("--stop-after", opts.stopAfter, 1);
  if (resume && resume.state!.step >= config.steps) throw new UserError(`${opts.resume} is already at step ${resume.state!.step}; give --steps larger than that to continue`);

  // 2. Model and data.
  const args = parseArgs(opts.arg);
  const m = resolveModel(task, { ...which, args, weights: opts.weights, shippedWeights: false, vocab: opts.vocab, seed: config.seed });
  // The class count comes from the model (a compile for a tiny batch is cheap).
  const probe = task === "classify" ? new SpecTrainModel({ task, model: { ...m, weights: undefined }, batch: 1, seq: 2, seed: config.seed }) : undefined;
  const classes = probe?.classes ?? 0;
  checkSeqFits(seq, m.info); // before the data: a long --seq is not "too few tokens"
  // A checkpoint trained on other token ids (another merges file or vocab.txt of the same size) must not be continued on these.
  const tokenizer = tokenizerFingerprint(m.tokenizer);
  const trainedOn = resume?.state?.info.tokenizer;
  if (trainedOn !== undefined && trainedOn !== tokenizer)
    throw new UserError(`${opts.resume} was trained with the tokenizer \`${String(trainedOn)}\`, but this run tokenizes with \`${tokenizer}\`${opts.vocab ? ` (--vocab ${opts.vocab})` : ""}: resume with the same merges file or vocab.txt`, { file: opts.resume });
  const maxLen = Math.min(seq, m.info.context);
  const data = loadTaskData(task, opts.data, m, classes, maxLen);
  const minTokens = task === "lm" ? seq + 1 : Math.max(1, seq - 2);
  const split = opts.evalData ? { train: data, held: loadTaskData(task, opts.evalData, m, classes, maxLen) } : splitHeldOut(data, minTokens);
  if (split.train.kind !== "classify" && split.train.tokens.length < minTokens) throw new UserError(`${opts.data} has ${split.train.tokens.length} tokens for training; windows of --seq ${seq} need at least ${minTokens}`);
  // A held-out file shorter than one window would be "evaluated" on nothing.
  if (opts.evalData && split.held.kind !== "classify" && split.held.tokens.length < minTokens) throw new UserError(`${opts.evalData} has ${split.held.tokens.length} tokens for evaluation; windows of --seq ${seq} need at least ${minTokens}`);
  const model = new SpecTrainModel({ task, model: m, train: split.train, eval: split.held, batch, seq, seed: config.seed, trainAmplitudes: opts.trainAmplitudes, resumeWeights: resume?.weights, evalBatches });
  if (resume) checkOptimizerState(opts.resume!, resume, model.params);
  await initSpikeKernels();
  await initGradKernels();

  // 3. Train.
  const say = (s: string) => {
    if (!opts.quiet) process.stderr.write(`${s}\n`);
  };
  const nParams = model.params.reduce((a, p) => a + p.data.length, 0);
  say(`training ${m.info.name} (${m.info.entry}) on ${displayPath(opts.data)}: task ${task}, ${nParams.toLocaleString("en")} trainable parameters, batch ${batch}×${model.seqLen}${config.accum > 1 ? ` × ${config.accum} accumulated` : ""}, ${config.steps} steps, lr ${config.lr} (${config.schedule}, warmup ${config.warmup}), seed ${config.seed}`);
  if (resume) say(`resuming ${displayPath(opts.resume!)} at step ${resume.state!.step}`);
  else if (opts.weights) say(`initial weights: ${displayPath(opts.weights)}${model.seeded.length ? `; ${model.seeded.length} tensors not in it are seeded (${model.seeded.slice(0, 4).join(", ")}${model.seeded.length > 4 ? ", ..." : ""})` : ""}${model.ignored.length ? `; ${model.ignored.length} of its tensors are not parameters here and are ignored` : ""}`);
  const steps_: StepRecord[] = [];
  const evals: EvalRecord[] = [];
  const logLines: string[] = [];
  if (opts.log && resume && fs.existsSync(opts.log)) {
    // Keep the earlier run's records (up to the checkpoint) so the page shows the whole run.
    for (const line of fs.readFileSync(opts.log, "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as StepRecord | EvalRecord | { kind: string };
        if ((r.kind === "step" || r.kind === "eval") && (r as StepRecord).step <= resume.state!.step) {
          logLines.push(line);
          if (r.kind === "step") steps_.push(r as StepRecord);
          else evals.push(r as EvalRecord);
        }
      } catch {
        /* a torn last line of an interrupted run */
      }
    }
  }
  const header = { kind: "start", model: m.info.name, entry: m.info.entry, spec: displayPath(m.info.spec), task, data: opts.data, eval_data: opts.evalData ?? "(held out: last 5% / every 10th row)", batch, seq: model.seqLen, config, resume_from: resume?.state?.step ?? 0, trainable_parameters: nParams };
  logLines.push(JSON.stringify(header));
  const appendLog = (r: object) => {
    if (!opts.log) return;
    logLines.push(JSON.stringify(r));
  };
  const flushLog = () => {
    if (opts.log) writeFileAtomic(opts.log, `${logLines.join("\n")}\n`);
  };
  const bar = opts.quiet ? undefined : trainingBar(config.steps, resume?.state?.step ?? 0);
  let lastFlush = performance.now();
  const result = train(model, config, {
    out: opts.out,
    resume,
    stopAfter,
    info: { task, model: m.info.name, entry: m.info.entry, shape: { batch, seq, evalBatches }, data: opts.data, tokenizer },
    onStep: (r) => {
      steps_.push(r);
      appendLog(r);
      bar?.update(r.step, r.loss, r.tokens_per_s);
      if (performance.now() - lastFlush > 10_000) {
        flushLog();
        lastFlush = performance.now();
      }
    },
    onEval: (r) => {
      evals.push(r);
      appendLog(r);
      flushLog();
    },
  });
  bar?.stop();
  flushLog();
  const last = result.evals.at(-1);
  const summary = [
    `${m.info.name} (${m.info.entry}), task ${task}: ${result.step} steps, ${(steps_.at(-1)?.tokens ?? 0).toLocaleString("en")} tokens, ${result.seconds.toFixed(1)} s`,
    `final training loss ${result.lastLoss.toFixed(4)}`,
    ...(last ? [`held-out loss ${last.loss.toFixed(4)}${last.bits_per_byte !== undefined ? `, ${last.bits_per_byte.toFixed(3)} bits/byte` : ""}, perplexity ${Math.exp(last.loss).toFixed(2)}${last.accuracy !== undefined ? `, accuracy ${(100 * last.accuracy).toFixed(1)}%` : ""} (${last.tokens} ${task === "classify" ? "examples" : "tokens"})`] : []),
    `checkpoint ${displayPath(opts.out)}`,
  ];
  if (opts.html) writeFileAtomic(opts.html, renderTrainingHtml({ title: `spikelm train: ${m.info.name} (${task})`, summary }, steps_, evals));
  process.stdout.write(`${summary.join("\n")}\n`);
  return 0;
}
