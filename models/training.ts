/**
 * Training and evaluating models written in the language (`spikelm train`, `spikelm eval`):
 * task data from files (causal LM, masked LM, classification TSV), batches drawn from the
 * trainer's RNG into buffers allocated once, the loss (softmax cross-entropy) and its
 * gradient on the model's output, gradients from the IR (interpreter/autodiff) on the
 * optimized executor's forward, and evaluation (loss, bits per byte, perplexity, accuracy,
 * firing rates) on the optimized executor.
 *
 * The loop itself (AdamW, schedule, clipping, accumulation, checkpoints) is
 * interpreter/train/trainer.ts; this module turns a spec + task + data into a `TrainModel`.
 */
import * as fs from "node:fs";
import { GradientEngine } from "../interpreter/autodiff/index.js";
import { type ArgValue, compileEntry } from "../interpreter/compile.js";
import { type F32Tensor, type I32Tensor, type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import { readFileText } from "../interpreter/io/files.js";
import type { Graph } from "../interpreter/ir/graph.js";
import { dimValue } from "../interpreter/types/dims.js";
import { OptimizedExecutor } from "../interpreter/optimized/executor.js";
import { releasePackedWeights } from "../interpreter/engine/kernels/spike-matmul.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import type { OptimParam } from "../interpreter/train/adamw.js";
import { crossEntropy } from "../interpreter/train/loss.js";
import { TrainRng } from "../interpreter/train/rng.js";
import type { EvalResult, MicroResult, TrainModel } from "../interpreter/train/trainer.js";
import { type ModelInfo, type Task, MODELS, findModel, modelTokenizer } from "./registry.js";
import { loadModel } from "./tasks.js";
import { BpeTokenizer, type Tokenizer, WordPieceTokenizer } from "./tokenizers/index.js";

export type TrainTask = "lm" | "mlm" | "classify";
export const TRAIN_TASKS: readonly TrainTask[] = ["lm", "mlm", "classify"];

const REGISTRY_TASK: Readonly<Record<TrainTask, Task>> = { lm: "generate", mlm: "fill-mask", classify: "classify" };

export interface ResolveOptions {
  readonly model?: string;
  readonly entry?: string;
  readonly args?: Readonly<Record<string, ArgValue>>;
  /** Initial weights (spec paths, or the reference naming for shipped models). */
  readonly weights?: string;
  /** Use the shipped weights when no `weights` is given (eval: yes; train: no, start from the seed). */
  readonly shippedWeights: boolean;
  readonly vocab?: string;
  readonly seed: number;
}

export interface ResolvedModel {
  readonly info: ModelInfo;
  readonly tokenizer: Tokenizer;
  readonly weights?: ReadonlyMap<string, F32Tensor>;
  readonly weightsSource?: string;
}

/** `--model NAME | FILE --entry NAME` for a training task. */
export function resolveModel(task: TrainTask, opts: ResolveOptions): ResolvedModel {
  const want = REGISTRY_TASK[task];
  let model = opts.model;
  if (model !== undefined && !model.endsWith(".spk")) {
    // A shipped model of another task on the same spec (encoder-small for mlm -> mlm-small).
    const base = findModel(model);
    if (base.task !== want) {
      const twin = MODELS.find((m) => m.task === want && m.spec === base.spec && JSON.stringify(Object.entries(m.args).filter(([k]) => k !== "classes")) === JSON.stringify(Object.entries(base.args).filter(([k]) => k !== "classes")));
      if (!twin) throw new UserError(`model \`${base.name}\` is a ${base.task} model; --task ${task} needs a ${want} model (see \`spikelm models\`)`);
      model = twin.name;
    }
  }
  if (!opts.weights && !opts.shippedWeights && model !== undefined && !model.endsWith(".spk")) {
    // A shipped model trained from its seeded initialisation: do not read its weights file.
    if (opts.entry) throw new UserError(`--entry is for .spk files; \`${model}\` is a shipped model`);
    const base = findModel(model);
    const info = { ...base, args: { ...base.args, ...(opts.args ?? {}) }, weights: undefined };
    return { info, tokenizer: modelTokenizer(info, opts.vocab) };
  }
  const m = loadModel(want, { model, entry: opts.entry, args: opts.args, weights: opts.weights, vocab: opts.vocab, seed: opts.seed });
  if (!opts.weights && !opts.shippedWeights) return { info: m.info, tokenizer: m.tokenizer };
  return { info: m.info, tokenizer: m.tokenizer, weights: m.weights, weightsSource: m.weightsSource };
}

// ---------------------------------------------------------------------------- data

export interface LmData {
  readonly kind: "lm" | "mlm";
  readonly tokens: Int32Array;
  /** UTF-8 bytes of the text the tokens came from (for bits per byte). */
  readonly bytes: number;
  /**
   * Bytes of each token id, where tokens cover different numbers of bytes (BPE): bits per byte
   * is then the NLL of the scored tokens over the bytes those tokens cover.
   */
  readonly tokenBytes?: Uint16Array;
  readonly source: string;
}

export interface ClassifyData {
  readonly kind: "classify";
  readonly rows: readonly { readonly ids: readonly number[]; readonly label: number }[];
  readonly labels: readonly string[];
  readonly source: string;
}

export type TaskData = LmData | ClassifyData;

function readData(file: string): string {
  if (!fs.existsSync(file)) throw new UserError(`cannot read data file ${file}: no such file`, { file });
  if (fs.statSync(file).isDirectory()) throw new UserError(`data file ${file} is a directory`, { file });
  const text = readFileText(file, "data file");
  if (text.trim().length === 0) throw new UserError(`data file ${file} is empty`, { file });
  return text;
}

/** A text file as one token stream (WordPiece: line by line, without [CLS]/[SEP]). */
export function loadTextData(kind: "lm" | "mlm", file: string, tok: Tokenizer): LmData {
  const text = readData(file);
  if (kind === "mlm" && !(tok instanceof WordPieceTokenizer)) throw new UserError(`--task mlm needs a WordPiece model with a [MASK] token; this model uses ${tok.name} tokens`);
  let tokens: Int32Array;
  if (tok instanceof WordPieceTokenizer) {
    const all: number[] = [];
    for (const line of text.split("\n")) if (line.trim()) for (const id of tok.encode(line)) all.push(id);
    tokens = Int32Array.from(all);
  } else tokens = Int32Array.from(tok.encode(text));
  const tokenBytes = tok instanceof BpeTokenizer ? Uint16Array.from({ length: tok.vocabSize }, (_, id) => tok.bytesOf(id).length) : undefined;
  return { kind, tokens, bytes: Buffer.byteLength(text, "utf8"), source: file, ...(tokenBytes ? { tokenBytes } : {}) };
}

/**
 * A classification TSV: `text<TAB>label` per line (more columns: the label is the last,
 * the text the first); a first line whose label column is `label` is a header. Labels are
 * the model's class names, or indices 0..C-1, or (for a model without names) the sorted
 * distinct labels of the training file.
 */
export function loadClassifyData(file: string, tok: Tokenizer, classes: number, names: readonly string[] | undefined, maxLen: number): ClassifyData {
  if (!(tok instanceof WordPieceTokenizer)) throw new UserError(`--task classify needs a WordPiece encoder model; this model uses ${tok.name} tokens`);
  const text = readData(file);
  const lines = text.split("\n").map((l, i) => ({ l: l.replace(/\r$/, ""), n: i + 1 })).filter((x) => x.l.trim().length > 0);
  const raw: { text: string; label: string; n: number }[] = [];
  lines.forEach(({ l, n }, i) => {
    const cols = l.split("\t");
    if (cols.length < 2) throw new UserError(`${file}:${n}: expected two tab-separated columns, text<TAB>label, found ${cols.length} column (no tab)`, { file });
    const label = cols[cols.length - 1]!.trim();
    if (i === 0 && label.toLowerCase() === "label") return;
    if (!cols[0]!.trim()) throw new UserError(`${file}:${n}: the text column is empty`, { file });
    if (!label) throw new UserError(`${file}:${n}: the label column is empty`, { file });
    raw.push({ text: cols[0]!, label, n });
  });
  if (raw.length === 0) throw new UserError(`${file} has a header but no rows`, { file });
  const labels = names && names.length === classes ? [...names] : (() => {
    const distinct = [...new Set(raw.map((r) => r.label))].sort();
    const numeric = distinct.every((d) => /^\d+$/.test(d) && Number(d) < classes);
    return numeric ? Array.from({ length: classes }, (_, i) => String(i)) : distinct;
  })();
  if (labels.length > classes) throw new UserError(`${file} has ${labels.length} distinct labels (${labels.slice(0, 6).join(", ")}${labels.length > 6 ? ", ..." : ""}), but the model has ${classes} classes`, { file });
  const rows = raw.map((r) => {
    let label = labels.indexOf(r.label);
    if (label < 0 && /^\d+$/.test(r.label) && Number(r.label) < classes) label = Number(r.label);
    if (label < 0) throw new UserError(`${file}:${r.n}: unknown label \`${r.label}\` (the model's labels: ${labels.join(", ")}; or 0..${classes - 1})`, { file });
    let ids = tok.encode(r.text, { addSpecial: true });
    if (ids.length > maxLen) ids = [...ids.slice(0, maxLen - 1), ids[ids.length - 1]!];
    return { ids, label };
  });
  return { kind: "classify", rows, labels, source: file };
}

/** The held-out split when no eval file is given: the last 5% of a stream, every 10th row of a TSV. */
export function splitHeldOut(d: TaskData, minTokens: number): { train: TaskData; held: TaskData } {
  if (d.kind === "classify") {
    if (d.rows.length < 10) throw new UserError(`${d.source} has ${d.rows.length} rows: too few to hold out an evaluation split (give --eval-data)`);
    return { train: { ...d, rows: d.rows.filter((_, i) => i % 10 !== 9) }, held: { ...d, rows: d.rows.filter((_, i) => i % 10 === 9) } };
  }
  const n = d.tokens.length;
  const held = Math.max(minTokens, Math.floor(n * 0.05));
  if (n - held < minTokens) throw new UserError(`${d.source} has ${n} tokens: too few to hold out an evaluation split of ${held} and still train on windows of ${minTokens} (give --eval-data or a longer file)`);
  const frac = (n - held) / n;
  return { train: { ...d, tokens: d.tokens.subarray(0, n - held), bytes: Math.round(d.bytes * frac) }, held: { ...d, tokens: d.tokens.subarray(n - held), bytes: d.bytes - Math.round(d.bytes * frac) } };
}

// ---------------------------------------------------------------------------- batches

/** One batch's input tensors and targets, in buffers reused for every batch of this shape. */
interface BatchBuffers {
  readonly inputs: Map<string, Tensor>;
  readonly ids: I32Tensor;
  readonly types: I32Tensor;
  readonly mask: I32Tensor;
  /** Per output row: the target id (-1: ignored). */
  readonly targets: Int32Array;
}

function batchBuffers(task: TrainTask, inputNames: readonly string[], B: number, L: number): BatchBuffers {
  const ids = i32([B, L]);
  const types = i32([B, L]);
  const mask = i32([B, L]);
  const all: Record<string, Tensor> = { ids, types, mask };
  const inputs = new Map(inputNames.map((n) => [n, all[n]!]));
  return { inputs, ids, types, mask, targets: new Int32Array(task === "classify" ? B : B * L) };
}

interface Special {
  readonly cls: number;
  readonly sep: number;
  readonly pad: number;
  readonly mask: number;
  /** Ids a masked position may be replaced with (not special tokens). */
  readonly ordinary: Int32Array;
}

function specials(tok: Tokenizer): Special | undefined {
  const s = tok.specialIds;
  if (!(tok instanceof WordPieceTokenizer) || !s || s.cls === undefined || s.sep === undefined || s.mask === undefined) return undefined;
  const special = new Set(Object.values(s).filter((v): v is number => v !== undefined));
  const ordinary = Int32Array.from(Array.from({ length: tok.vocabSize }, (_, i) => i).filter((i) => !special.has(i)));
  return { cls: s.cls, sep: s.sep, pad: s.pad ?? 0, mask: s.mask, ordinary };
}

/** BERT's masking of one row's positions 1..n (the rest stay -1): 15%, then 80/10/10. */
function maskRow(b: BatchBuffers, row: number, L: number, n: number, sp: Special, rng: TrainRng): void {
  const o = row * L;
  let any = false;
  for (let i = 1; i <= n; i++) {
    if (rng.uniform() >= 0.15) continue;
    any = true;
    maskAt(b, o + i, sp, rng);
  }
  if (!any && n > 0) maskAt(b, o + 1 + rng.int(n), sp, rng);
}

function maskAt(b: BatchBuffers, at: number, sp: Special, rng: TrainRng): void {
  const ids = b.ids.data;
  b.targets[at] = ids[at]!;
  const r = rng.uniform();
  if (r < 0.8) ids[at] = sp.mask;
  else if (r < 0.9) ids[at] = sp.ordinary[rng.int(sp.ordinary.length)]!;
}

/** Fills `b` with an MLM row: [CLS] stream[start, start+n) [SEP] [PAD]... */
function mlmRow(b: BatchBuffers, row: number, L: number, stream: Int32Array, start: number, sp: Special, rng: TrainRng): void {
  const o = row * L;
  const n = Math.max(0, Math.min(L - 2, stream.length - start));
  const ids = b.ids.data;
  const mask = b.mask.data;
  ids[o] = sp.cls;
  for (let i = 0; i < n; i++) ids[o + 1 + i] = stream[start + i]!;
  ids[o + 1 + n] = sp.sep;
  for (let i = 0; i < L; i++) {
    mask[o + i] = i < n + 2 ? 1 : 0;
    b.targets[o + i] = -1;
    if (i >= n + 2) ids[o + i] = sp.pad;
  }
  maskRow(b, row, L, n, sp, rng);
}

/** Fills `b` with an LM row: input stream[start, start+L), targets shifted by one (-1 past the end). */
function lmRow(b: BatchBuffers, row: number, L: number, stream: Int32Array, start: number): void {
  const o = row * L;
  const ids = b.ids.data;
  for (let i = 0; i < L; i++) {
    const at = start + i;
    ids[o + i] = at < stream.length ? stream[at]! : 0;
    b.targets[o + i] = at + 1 < stream.length ? stream[at + 1]! : -1;
    b.mask.data[o + i] = at < stream.length ? 1 : 0;
  }
}

function classifyRow(b: BatchBuffers, row: number, L: number, r: { ids: readonly number[]; label: number }, pad: number, target: number): void {
  const o = row * L;
  for (let i = 0; i < L; i++) {
    b.ids.data[o + i] = i < r.ids.length ? r.ids[i]! : pad;
    b.mask.data[o + i] = i < r.ids.length ? 1 : 0;
  }
  b.targets[row] = target;
}

// ---------------------------------------------------------------------------- the model

export interface SpecTrainOptions {
  readonly task: TrainTask;
  readonly model: ResolvedModel;
  readonly train?: TaskData;
  readonly eval?: TaskData;
  readonly batch: number;
  readonly seq: number;
  readonly seed: number;
  readonly trainAmplitudes?: boolean;
  /** Weights to start from that override `model.weights` (a checkpoint being resumed). */
  readonly resumeWeights?: ReadonlyMap<string, Tensor>;
  /** Stop evaluation after this many batches (0: the whole eval set). */
  readonly evalBatches?: number;
  /** Rows per evaluation batch (default: `batch`). */
  readonly evalBatch?: number;
}

export interface EvalStats extends EvalResult {
  readonly perplexity: number;
  /** Bytes the scored tokens cover (lm with tokens of different lengths: bits per byte's denominator). */
  readonly bytes?: number;
  /** Fraction of nonzero spikes per neuron path, on the first evaluation batch. */
  readonly rates: Record<string, number>;
}

/** Throws unless windows of `seq` tokens fit the model's context (its `ctx` argument, if smaller). */
export function checkSeqFits(seq: number, info: { readonly name: string; readonly context: number; readonly args: Readonly<Record<string, unknown>> }): void {
  const ctx = typeof info.args.ctx === "number" ? Math.min(info.context, info.args.ctx) : info.context;
  if (seq > ctx) throw new UserError(`--seq ${seq} is longer than the context of \`${info.name}\` (${ctx})`);
}

/** Spec + task + data → the trainer's TrainModel (and evaluation for `spikelm eval`). */
export class SpecTrainModel implements TrainModel<BatchBuffers> {
  readonly params: OptimParam[];
  readonly tokensPerBatch: number;
  readonly store: ParamStore;
  readonly inputNames: readonly string[];
  readonly seqLen: number;
  /** Parameters initialised from the seed (not in the initial weights). */
  readonly seeded: readonly string[];
  /** Initial-weight tensors that are not parameters of this entry (e.g. another head). */
  readonly ignored: readonly string[];
  private readonly trainBuf: BatchBuffers;
  private readonly gradOut: F32Tensor;
  private engine?: GradientEngine;
  private readonly graph: Graph;
  private readonly outDim: number;
  private readonly special?: Special;
  private readonly evalGraphs = new Map<string, Graph>();
  private last = { sum: 0, count: 0, correct: 0 };

  constructor(readonly opts: SpecTrainOptions) {
    const { info } = opts.model;
    const task = opts.task;
    this.inputNames = task === "lm" ? ["ids"] : ["ids", "types", "mask"];
    checkSeqFits(opts.seq, info);
    this.special = specials(opts.model.tokenizer);
    if (task === "mlm" && !this.special) throw new UserError(`--task mlm needs a WordPiece vocabulary with [CLS], [SEP] and [MASK]`);
    let L = opts.seq;
    if (task === "classify") {
      const longest = Math.max(2, ...[opts.train, opts.eval].flatMap((d) => (d?.kind === "classify" ? d.rows.map((r) => r.ids.length) : [])));
      L = Math.min(L, longest);
    }
    this.seqLen = L;
    this.trainBuf = batchBuffers(task, this.inputNames, opts.batch, L);
    this.graph = this.compile(opts.batch, L);
    const out = this.graph.nodes.find((n) => n.id === this.graph.output)!;
    const shape = out.type.shape.map((x) => dimValue(x) ?? NaN);
    this.outDim = shape[shape.length - 1] ?? NaN;
    const vocab = opts.model.tokenizer.vocabSize;
    if (task !== "classify" && shape.length !== 3) throw new UserError(`\`${info.entry}\` returns a rank-${shape.length} tensor, but a ${task === "lm" ? "language model" : "masked LM"} returns [B, L, vocab]`);
    if (task === "classify" && shape.length !== 2) throw new UserError(`\`${info.entry}\` returns a rank-${shape.length} tensor, but a classifier returns [B, classes]`);
    if (task !== "classify" && this.outDim !== vocab) throw new UserError(`\`${info.entry}\` returns ${this.outDim} logits per token, but the tokenizer has ${vocab} tokens`);
    this.gradOut = f32(task === "classify" ? [opts.batch, this.outDim] : [opts.batch, L, this.outDim]);

    const specs = this.graph.params;
    const paths = new Set(specs.map((p) => p.path));
    const init = new Map<string, Tensor>();
    const ignored: string[] = [];
    const source = opts.resumeWeights ?? opts.model.weights;
    for (const [k, t] of source ?? []) (paths.has(k) ? init.set(k, t) : ignored.push(k));
    this.ignored = ignored;
    this.seeded = specs.filter((p) => p.kind === "weight" && !init.has(p.path)).map((p) => p.path);
    this.store = ParamStore.create(specs, init, { seed: opts.seed, source: opts.model.weightsSource });
    this.params = specs
      .filter((p) => p.kind === "weight" || opts.trainAmplitudes)
      .map((p) => ({ path: p.path, data: this.store.get(p.path).tensor.data, decay: p.kind === "weight" && p.shape.length >= 2 }));
    this.tokensPerBatch = opts.batch * L;
  }

  private compile(B: number, L: number): Graph {
    const { info } = this.opts.model;
    const one = i32([B, L]);
    return compileEntry({ file: info.spec, entry: info.entry, args: info.args, inputs: new Map(this.inputNames.map((n) => [n, one])) }).graph;
  }

  /** Output classes of a classifier. */
  get classes(): number {
    return this.outDim;
  }

  sample(rng: TrainRng): BatchBuffers {
    const d = this.opts.train;
    if (!d) throw new Error("internal: no training data");
    const b = this.trainBuf;
    const B = this.opts.batch;
    const L = this.seqLen;
    b.types.data.fill(0);
    for (let r = 0; r < B; r++) {
      if (d.kind === "classify") {
        const row = d.rows[rng.int(d.rows.length)]!;
        classifyRow(b, r, L, row, this.special?.pad ?? 0, row.label);
      } else if (d.kind === "lm" && this.opts.task === "lm") {
        lmRow(b, r, L, d.tokens, rng.int(d.tokens.length - L));
      } else {
        mlmRow(b, r, L, d.tokens, rng.int(Math.max(1, d.tokens.length - (L - 2) + 1)), this.special!, rng);
      }
    }
    return b;
  }

  lossAndGrad(b: BatchBuffers): MicroResult {
    this.engine ??= new GradientEngine(this.graph, this.store, { trainAmplitudes: this.opts.trainAmplitudes ?? false, optimize: true, reuseBuffers: true });
    // The optimized executor computes weight-only nodes (transposed weights, ...) once and
    // keeps them; the weights change every step, so they must be recomputed.
    invalidateStatics(this.engine);
    const r = this.engine.run(b.inputs, (output) => {
      const ce = crossEntropy(output.data, b.targets, this.outDim, this.gradOut.data);
      this.last = ce;
      return { loss: ce.count > 0 ? ce.sum / ce.count : 0, gradOutput: this.gradOut };
    });
    const { sum, count, correct } = this.last;
    return { loss: count > 0 ? sum / count : 0, count, correct: this.opts.task === "classify" ? correct : undefined, grads: r.grads };
  }

  weights(): Map<string, F32Tensor> {
    return this.store.snapshot();
  }

  /** Forward values the gradient tape computed itself in the last step (the executor did not hold them as floats). */
  get tapeRecomputed(): number {
    return this.engine?.computedByTape.size ?? 0;
  }

  /** Loss, bits per byte (lm), perplexity, accuracy (classify) and firing rates on `eval` data. */
  evaluate(): EvalStats {
    const d = this.opts.eval;
    if (!d) throw new Error("internal: no evaluation data");
    return evaluateData(this, d);
  }

  /** A forward-only executor for [B, L] inputs, sharing this model's parameters (fresh, so weights updated in place are read anew). */
  executor(B: number, L: number): OptimizedExecutor {
    const key = `${B}x${L}`;
    let g = this.evalGraphs.get(key);
    if (!g) {
      g = optimize(this.compile(B, L)).graph;
      this.evalGraphs.set(key, g);
    }
    const ex = new OptimizedExecutor(g, this.store);
    invalidateStatics(ex);
    return ex;
  }

  /** @internal for evaluateData */
  get internals(): { special?: Special; outDim: number } {
    return { special: this.special, outDim: this.outDim };
  }
}

/**
 * Makes the engine's optimized executor recompute its static (weight-only) nodes on the next
 * run. Until the executor has a public way to say "the parameters changed", this resets its
 * flag; it is a no-op if the engine has no executor or the field is gone.
 */
function invalidateStatics(engine: GradientEngine | OptimizedExecutor): void {
  type Internals = { staticsReady?: boolean; slots?: Map<number, unknown>; plan: OptimizedExecutor["plan"] };
  const ex = (engine instanceof OptimizedExecutor ? engine : (engine as unknown as { executor?: OptimizedExecutor }).executor) as unknown as Internals | undefined;
  if (!ex || typeof ex.staticsReady !== "boolean") return;
  ex.staticsReady = false;
  // The spike-accumulate kernels keep a packed copy of each weight operand (keyed by the array).
  for (const p of ex.plan.nodes) {
    if (!p.isStatic) continue;
    const b = ex.slots?.get(p.node.id);
    if (b instanceof Float32Array) releasePackedWeights(b);
  }
}

/** Evaluates `m` on `d` in fixed-size batches (the tail padded with ignored rows). */
export function evaluateData(m: SpecTrainModel, d: TaskData): EvalStats {
  const task = m.opts.task;
  const B = m.opts.evalBatch ?? m.opts.batch;
  const L = m.seqLen;
  const { special, outDim } = m.internals;
  const buf = batchBuffers(task, m.inputNames, B, L);
  const exec = m.executor(B, L);
  const rng = TrainRng.seeded(0, "spikelm-eval-mask");
  // Row sources: LM windows of L (stride L), MLM windows of L-2, TSV rows.
  const rows = d.kind === "classify" ? d.rows.length : task === "lm" ? Math.ceil(Math.max(0, d.tokens.length - 1) / L) : Math.ceil(d.tokens.length / (L - 2));
  if (rows === 0)
    throw new UserError(`${d.source}: no evaluation examples (${d.kind === "classify" ? "no rows" : `${d.tokens.length} token${d.tokens.length === 1 ? "" : "s"}; ${task === "lm" ? "a language model is scored on at least 2" : "at least 1 is needed"}`})`, { file: d.source });
  const batches = Math.ceil(rows / B);
  const limit = m.opts.evalBatches && m.opts.evalBatches > 0 ? Math.min(batches, m.opts.evalBatches) : batches;
  let sum = 0;
  let count = 0;
  let correct = 0;
  /** Bytes covered by the scored tokens (when tokens differ in length). */
  let covered = 0;
  const lens = d.kind !== "classify" && task === "lm" ? d.tokenBytes : undefined;
  const rates: Record<string, number> = {};
  for (let k = 0; k < limit; k++) {
    buf.types.data.fill(0);
    for (let r = 0; r < B; r++) {
      const i = k * B + r;
      const real = i < rows;
      const j = real ? i : 0;
      if (d.kind === "classify") classifyRow(buf, r, L, d.rows[j]!, special?.pad ?? 0, real ? d.rows[j]!.label : -1);
      else if (task === "lm") {
        lmRow(buf, r, L, d.tokens, j * L);
        if (!real) buf.targets.fill(-1, r * L, (r + 1) * L);
      } else {
        mlmRow(buf, r, L, d.tokens, j * (L - 2), special!, rng);
        if (!real) buf.targets.fill(-1, r * L, (r + 1) * L);
      }
    }
    const res = exec.run(buf.inputs, { record: k === 0 });
    const ce = crossEntropy(res.output.data, buf.targets, outDim);
    sum += ce.sum;
    count += ce.count;
    if (lens) for (const t of buf.targets) if (t >= 0) covered += lens[t]!;
    correct += ce.correct;
    if (k === 0)
      for (const [path, rec] of res.record) {
        const lv = rec.levels.data;
        let nz = 0;
        for (let i = 0; i < lv.length; i++) if (lv[i] !== 0) nz++;
        rates[path] = nz / lv.length;
      }
  }
  const loss = count > 0 ? sum / count : NaN;
  let bitsPerByte: number | undefined;
  if (task === "lm" && lens) bitsPerByte = sum / Math.max(1, covered) / Math.LN2;
  else if (task === "lm" && d.kind !== "classify") {
    // Nats per token times tokens per byte, in bits (exact for byte tokenizers).
    const tokensPerByte = d.tokens.length / Math.max(1, d.bytes);
    bitsPerByte = (loss * tokensPerByte) / Math.LN2;
  }
  return { loss, count, accuracy: task === "classify" ? correct / Math.max(1, count) : undefined, bitsPerByte, perplexity: Math.exp(loss), rates, ...(lens ? { bytes: covered } : {}) };
}

/** The unigram baseline: token frequencies of `train` (add-one smoothed) scored on `held`, in bits per byte. */
export function unigramBitsPerByte(train: LmData, held: LmData, vocab: number): number {
  const counts = new Float64Array(vocab).fill(1);
  for (const t of train.tokens) counts[t]! += 1;
  const total = train.tokens.length + vocab;
  let nats = 0;
  let covered = 0;
  for (let i = 1; i < held.tokens.length; i++) {
    nats -= Math.log(counts[held.tokens[i]!]! / total);
    covered += held.tokenBytes ? held.tokenBytes[held.tokens[i]!]! : 1;
  }
  // Tokens of different lengths (BPE): the NLL of tokens 1.. over the bytes they cover.
  if (held.tokenBytes) return nats / Math.max(1, covered) / Math.LN2;
  const perToken = nats / Math.max(1, held.tokens.length - 1);
  return (perToken * (held.tokens.length / Math.max(1, held.bytes))) / Math.LN2;
}
