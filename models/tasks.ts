/**
 * Using the models: resolve `--model NAME|SPEC` (a shipped model, or a .spk file), turn texts
 * into a padded batch (ids, token types, attention mask), run, and read classification
 * probabilities or masked-token predictions. The CLI commands are thin layers over this.
 */
import { platform } from "#platform";
import type { ArgValue, Compiled } from "../interpreter/compile.js";
import { type F32Tensor, type I32Tensor, type Tensor, i32, numel, sameShape, shapeString } from "../interpreter/engine/tensor.js";
import type { Mode, NeuronRecord } from "../interpreter/reference/interpreter.js";
import { UserError } from "../interpreter/io/errors.js";
import type { SpikeReport } from "../interpreter/report/counts.js";
import { runWithReport } from "../interpreter/report/run.js";
import { compileEntry, resolveEntry } from "../interpreter/compile.js";
import { Program } from "../interpreter/checker/program.js";
import { type RunTimings, runSpec, timed } from "../interpreter/run.js";
import { ParamStore, gatheredRows } from "../interpreter/runtime/params.js";
import { listKey, rememberJobs, rememberedJobs } from "../interpreter/runtime/param-list.js";
import { type SeedJob, prefillOnThread } from "../interpreter/runtime/seed-threads.js";
import { type LoadedWeights, type WeightsTarget, loadWeightsFor } from "./load-weights.js";
import { type ModelInfo, type Task, DEFAULT_MODELS, findModel, inputNames, modelParams, modelTokenizer } from "./registry.js";
import { CLASSIFIER_MAPPING, DECODER_MAPPING, ENCODER_MAPPING, MLM_MAPPING, MLM_UNTIED_MAPPING } from "./spikelm/mapping.js";
import { BpeTokenizer, ByteTokenizer, type Tokenizer, WordPieceTokenizer, tokenizerFromFile } from "./tokenizers/index.js";
import type { WeightMapping } from "./weights-mapping.js";

export interface ModelOptions {
  /** A shipped model's name or a .spk file (default: the task's default model). */
  readonly model?: string;
  /** The entry in a .spk file (default: the task's usual entry name). */
  readonly entry?: string;
  readonly args?: Readonly<Record<string, ArgValue>>;
  /** Weights: reference naming for shipped models (and for spec files when the names are). */
  readonly weights?: string;
  /** A WordPiece vocab.txt (required for models that do not ship one). */
  readonly vocab?: string;
  readonly seed?: number;
  /** Keep amplitudes exactly 1.0 in a reference-named file (default: calibrated, as the reference does). */
  readonly keepAmplitudes?: boolean;
  /** false: skip tensors the model has no place for and seed what the file lacks (see load-weights.ts). */
  readonly strict?: boolean;
  /** Skip the tokenizer (a run from an input file needs none); `tokenizer` is then bytes. */
  readonly noTokenizer?: boolean;
}

export interface LoadedModel {
  readonly info: ModelInfo;
  /** Weights by spec path (undefined: seeded initialisation, untrained). */
  readonly weights?: Map<string, F32Tensor>;
  readonly weightsSource?: string;
  /** How the weights were loaded (mapping applied, amplitudes left to calibrate); `.summary` is for stderr. */
  readonly loadedWeights?: LoadedWeights;
  /**
   * The weights loaded against a compile of this model's entry: a forward that compiles the
   * entry anyway checks the file against that compile. Reading `weights` or `loadedWeights`
   * first compiles the entry once more for its parameter list (seconds for BERT-base).
   * The file is read once either way.
   */
  readonly weightsFor: (compiled: Compiled) => LoadedWeights | undefined;
  readonly tokenizer: Tokenizer;
  readonly seed: number;
  /** The spec's files, loaded and checked once: every compile of this model reuses them. */
  readonly program: Program;
}

const ENTRY_FOR_TASK: Readonly<Record<Task, string>> = {
  classify: "SpikeLMForSequenceClassification",
  "fill-mask": "SpikeLMForMaskedLM",
  encode: "SpikeLMEncoder",
  generate: "SpikeLMDecoder",
};

const MAPPING_FOR_ENTRY: ReadonlyMap<string, WeightMapping> = new Map([
  ["SpikeLMEncoder", ENCODER_MAPPING],
  ["SpikeLMForMaskedLM", MLM_MAPPING],
  ["SpikeLMForMaskedLMUntied", MLM_UNTIED_MAPPING],
  ["SpikeLMForSequenceClassification", CLASSIFIER_MAPPING],
  ["SpikeLMDecoder", DECODER_MAPPING],
]);

/** The names of an entry's forward inputs. */
function forwardInputs(file: string, entry: string): string[] {
  if (!platform.exists(file)) throw new UserError(`cannot read spec file ${file}: no such file`);
  const { decl } = resolveEntry(file, entry);
  const f = decl.members.find((m) => m.kind === "Forward" || m.kind === "Step");
  return f && (f.kind === "Forward" || f.kind === "Step") ? f.params.map((p) => p.name.name) : [];
}

/** A spec file as a model: entry, arguments, tokenizer and context from what is given. */
function specModel(task: Task, opts: ModelOptions, tokenizer: Tokenizer): ModelInfo {
  const file = opts.model!;
  if (!platform.exists(file)) throw new UserError(`cannot read spec file ${file}: no such file`);
  const entry = opts.entry ?? ENTRY_FOR_TASK[task];
  const args = opts.args ?? {};
  const inputs = task === "generate" ? ["ids"] : ["ids", "types", "mask"];
  const one = i32([1, 1], [0]);
  const graph = compileEntry({ file, entry, args, inputs: new Map(inputs.map((n) => [n, one])) }).graph;
  const posTable = graph.params.find((p) => /(^|\.)(position|pos)\.table$/.test(p.path));
  const wordTable = graph.params.find((p) => /(^|\.)(word|embed)\.table$/.test(p.path));
  const context = typeof args.ctx === "number" ? args.ctx : (posTable?.shape[0] ?? Number.MAX_SAFE_INTEGER);
  // Ids the table has no row for are refused here, before any forward, with both sizes.
  if (opts.vocab && wordTable && tokenizer.vocabSize > wordTable.shape[0]!)
    throw new UserError(`${opts.vocab} makes ${tokenizer.vocabSize} tokens, but \`${entry}\` in ${platform.path.basename(file)} embeds only ${wordTable.shape[0]} (${wordTable.path} is [${wordTable.shape.join(", ")}]): pass -a vocab=${tokenizer.vocabSize} or a smaller vocabulary`, { file: opts.vocab });
  return {
    name: platform.path.basename(file),
    description: `${entry} from ${file}`,
    task,
    spec: platform.path.resolve(file),
    entry,
    args,
    tokenizer: !opts.vocab ? { kind: "byte" } : tokenizer instanceof BpeTokenizer ? { kind: "bpe", merges: opts.vocab, size: tokenizer.vocabSize } : { kind: "wordpiece", vocab: opts.vocab, size: wordTable?.shape[0] ?? 0 },
    mapping: MAPPING_FOR_ENTRY.get(entry) ?? { name: "none", rows: [], ignored: [] },
    context,
  };
}

/**
 * Resolves `--model` for a task ("any": whatever the model does, as `report` wants) and
 * loads its weights and tokenizer; every problem is a UserError.
 */
export function loadModel(task: Task | "any", opts: ModelOptions = {}): LoadedModel {
  const seed = opts.seed ?? 0;
  const isSpec = opts.model !== undefined && opts.model.endsWith(".spk");
  let info: ModelInfo;
  let tokenizer: Tokenizer;
  if (isSpec) {
    const t: Task = task !== "any" ? task : forwardInputs(opts.model!, opts.entry ?? ENTRY_FOR_TASK.generate).length === 1 ? "generate" : "encode";
    if (!opts.vocab && t !== "generate" && !opts.noTokenizer) throw new UserError(`a ${t} model needs a WordPiece vocabulary: pass --vocab vocab.txt`);
    tokenizer = opts.vocab ? tokenizerFromFile(opts.vocab) : new ByteTokenizer();
    info = specModel(t, opts, tokenizer);
  } else {
    const base = findModel(opts.model ?? (task === "any" ? DEFAULT_MODELS.generate : DEFAULT_MODELS[task]));
    if (task !== "any" && base.task !== task)
      throw new UserError(`model \`${base.name}\` is a ${base.task} model and cannot ${task}; e.g. \`${DEFAULT_MODELS[task]}\` can (see \`spikelm models\`)`);
    if (opts.entry) throw new UserError(`--entry is for .spk files; \`${base.name}\` is a shipped model (entry ${base.entry})`);
    info = { ...base, args: { ...base.args, ...(opts.args ?? {}) } };
    tokenizer = opts.noTokenizer ? new ByteTokenizer() : modelTokenizer(info, opts.vocab);
  }

  const file = opts.weights ?? info.weights;
  const program = new Program();
  if (file && !platform.exists(file)) throw new UserError(opts.weights ? `cannot read weights file ${file}: no such file` : `the shipped weights of \`${info.name}\` are missing (${file}); regenerate them: node --import tsx tools/models/scripts.ts make-weights`);
  // The one loading path: the file's naming (spec paths or a declared mapping) is read off its
  // names. Loaded on first use, against the forward's compile when it comes first.
  let loaded: LoadedWeights | undefined;
  const load = (target: () => WeightsTarget): LoadedWeights | undefined => {
    if (!file) return undefined;
    loaded ??= loadWeightsFor(target(), file, {
      preferred: info.mapping.rows.length > 0 ? info.mapping : undefined,
      keepAmplitudes: opts.keepAmplitudes,
      strict: opts.strict,
    });
    return loaded;
  };
  const byParamList = () => load(() => ({ params: modelParams(info, program), entry: info.entry }));
  return {
    info,
    get weights() {
      return byParamList()?.weights;
    },
    get loadedWeights() {
      return byParamList();
    },
    weightsFor: (compiled) => load(() => compiled),
    weightsSource: file,
    tokenizer,
    seed,
    program,
  };
}

export interface Batch {
  readonly ids: I32Tensor;
  readonly types: I32Tensor;
  readonly mask: I32Tensor;
  /** Token ids per text, unpadded. */
  readonly tokens: readonly (readonly number[])[];
}

/** Texts → a padded batch: WordPiece texts are wrapped in [CLS] … [SEP]; padding has mask 0. */
export function encodeTexts(m: Pick<LoadedModel, "tokenizer" | "info">, texts: readonly string[]): Batch {
  if (texts.length === 0) throw new UserError("no text given");
  const tok = m.tokenizer;
  const seqs = texts.map((text, i) => {
    const what = texts.length > 1 ? `text ${i + 1}` : "the text";
    if (text.trim().length === 0) throw new UserError(`${what} is empty`);
    const ids = tok instanceof WordPieceTokenizer ? tok.encode(text, { addSpecial: true }) : tok.encode(text);
    if (ids.length === 0 || (tok instanceof WordPieceTokenizer && ids.length <= 2)) throw new UserError(`${what} has no tokens after tokenization`);
    if (ids.length > m.info.context)
      throw new UserError(`${what} is ${ids.length} tokens${tok instanceof WordPieceTokenizer ? " (with [CLS] and [SEP])" : ""}, longer than the context of \`${m.info.name}\` (${m.info.context}): shorten it`);
    return ids;
  });
  const L = Math.max(...seqs.map((s) => s.length));
  const pad = tok.specialIds?.pad ?? 0;
  const B = seqs.length;
  const ids = i32([B, L], seqs.flatMap((s) => [...s, ...new Array<number>(L - s.length).fill(pad)]));
  const mask = i32([B, L], seqs.flatMap((s) => [...s.map(() => 1), ...new Array<number>(L - s.length).fill(0)]));
  return { ids, types: i32([B, L]), mask, tokens: seqs };
}

export interface ModelRun {
  readonly output: Tensor;
  readonly report?: SpikeReport;
}

/**
 * Runs the model on a batch: the optimized executor, or (with `report`) the reference
 * interpreter observed op by op (the same spikes, bit for bit).
 */
export interface RunModelOptions {
  readonly report?: boolean;
  /** Filled in with the wall time of each stage (compile, optimize, params, forward). */
  readonly timings?: RunTimings;
  readonly onProgress?: (done: number, total: number) => void;
}

export function runModel(m: LoadedModel, batch: Pick<Batch, "ids" | "types" | "mask">, opts: RunModelOptions = {}): ModelRun {
  return prepareRun(m, batch, opts).run();
}

/** A run of a model on a batch whose spec is compiled; `run` builds the parameters and runs it. */
export interface PreparedRun<R = ModelRun> {
  readonly run: () => R;
}

/**
 * `runModel` in two halves: the compile now, the parameters and the forward when `run` is
 * called. A one-shot command readies the WebAssembly kernels in between, so their worker
 * threads start while the spec compiles.
 */
export function prepareRun(m: LoadedModel, batch: Pick<Batch, "ids" | "types" | "mask">, opts: RunModelOptions = {}): PreparedRun {
  const names = inputNames(m.info);
  const all: Record<string, Tensor> = { ids: batch.ids, types: batch.types, mask: batch.mask };
  const inputs = new Map(names.map((n) => [n, all[n]!]));
  if (opts.report) {
    const req = { file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs, weights: m.weights, weightsSource: m.weightsSource, seed: m.seed, program: m.program };
    const tokens = batch.mask.data.length;
    return {
      run: () => {
        const r = runWithReport({ ...req, model: m.info.name, tokens, onProgress: opts.onProgress });
        return { output: r.output, report: r.report };
      },
    };
  }
  const { timings } = opts;
  const req = { file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs, weightsSource: m.weightsSource, seed: m.seed, program: m.program };
  // A seeded model: its weights (as seeded last time) start seeding on another thread now,
  // during the compile; the store takes those the compile asks for (runtime/param-list.ts).
  const seededKey = m.weightsSource === undefined && m.weights === undefined ? listKey(m.info.spec, m.info.entry, m.info.args) : undefined;
  const remembered = seededKey === undefined ? undefined : rememberedJobs(seededKey);
  const prefill = remembered ? prefillOnThread(remembered, m.seed) : undefined;
  const compiled = timed(timings, "compile", () => compileEntry(req));
  // The file is checked against this compile: no second compile for the parameter list.
  // A model object without a weights source (e.g. `{ ...loadModel(...), weights: undefined,
  // weightsSource: undefined }`: seeded) keeps what it says, not what its loader would read.
  const weights = timed(timings, "params", () => (m.weightsSource === undefined ? m.weights : m.weightsFor(compiled)?.weights));
  return {
    run: () => {
      // One forward, its store private to it: embedding tables are seeded only at the rows it gathers.
      const onlyRows = gatheredRows(compiled.graph, inputs);
      // The model's weights are read, not copied: nothing in one forward changes a weight.
      const onSeeded = seededKey === undefined ? undefined : (jobs: readonly SeedJob[]) => rememberJobs(seededKey, jobs);
      const params = timed(timings, "params", () => ParamStore.create(compiled.graph.params, weights, { seed: m.seed, source: m.weightsSource, onlyRows, adopt: true, prefill, onSeeded }));
      return { output: runSpec({ ...req, weights, compiled, params, timings }).output };
    },
  };
}

function softmaxRow(x: ArrayLike<number>, from: number, n: number): number[] {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[from + i]!);
  const e = Array.from({ length: n }, (_, i) => Math.exp(x[from + i]! - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export interface Classification {
  readonly text: string;
  readonly label: string;
  readonly probabilities: readonly { readonly label: string; readonly p: number }[];
}

export interface Classified {
  readonly results: Classification[];
  readonly report?: SpikeReport;
}

export function classify(m: LoadedModel, texts: readonly string[], opts: RunModelOptions = {}): Classified {
  return prepareClassify(m, texts, opts).run();
}

/** `classify` with the compile done now and the forward when `run` is called (see prepareRun). */
export function prepareClassify(m: LoadedModel, texts: readonly string[], opts: RunModelOptions = {}): PreparedRun<Classified> {
  const prepared = prepareRun(m, encodeTexts(m, texts), opts);
  return {
    run: () => {
      const r = prepared.run();
      const [B, C] = r.output.shape as [number, number];
      if (r.output.shape.length !== 2) throw new UserError(`\`${m.info.entry}\` returns ${JSON.stringify(r.output.shape)}, but a classifier returns [B, classes]`);
      const labels = m.info.labels ?? Array.from({ length: C }, (_, i) => `LABEL_${i}`);
      const results = Array.from({ length: B }, (_, b) => {
        const p = softmaxRow(r.output.data, b * C, C);
        const best = p.indexOf(Math.max(...p));
        return { text: texts[b]!, label: labels[best] ?? `LABEL_${best}`, probabilities: p.map((v, i) => ({ label: labels[i] ?? `LABEL_${i}`, p: v })) };
      });
      return { results, report: r.report };
    },
  };
}

export interface MaskPrediction {
  /** Position of the [MASK] token in the tokenized input (with [CLS] at 0). */
  readonly position: number;
  readonly top: readonly { readonly token: string; readonly id: number; readonly p: number }[];
}

export interface MaskFilled {
  readonly masks: MaskPrediction[];
  readonly report?: SpikeReport;
}

export function fillMask(m: LoadedModel, text: string, opts: RunModelOptions & { topK?: number } = {}): MaskFilled {
  return prepareFillMask(m, text, opts).run();
}

/** `fillMask` with the compile done now and the forward when `run` is called (see prepareRun). */
export function prepareFillMask(m: LoadedModel, text: string, opts: RunModelOptions & { topK?: number } = {}): PreparedRun<MaskFilled> {
  const tok = m.tokenizer;
  if (!(tok instanceof WordPieceTokenizer)) throw new UserError(`fill-mask needs a WordPiece model with a [MASK] token; \`${m.info.name}\` uses bytes`);
  const maskId = tok.specialIds.mask;
  if (maskId === undefined) throw new UserError(`the vocabulary of \`${m.info.name}\` has no [MASK] token`);
  const batch = encodeTexts(m, [text]);
  const positions = batch.tokens[0]!.flatMap((id, i) => (id === maskId ? [i] : []));
  if (positions.length === 0) throw new UserError(`the text has no [MASK] token to fill: write it where the missing word goes, e.g. "the [MASK] sat on the mat"`);
  const prepared = prepareRun(m, batch, opts);
  return {
    run: () => {
      const r = prepared.run();
      const V = r.output.shape[2] ?? 0;
      if (r.output.shape.length !== 3 || V !== tok.vocabSize) throw new UserError(`\`${m.info.entry}\` returns ${JSON.stringify(r.output.shape)}, but a masked-LM returns [B, L, ${tok.vocabSize}]`);
      const k = Math.max(1, Math.min(opts.topK ?? 5, V));
      const masks = positions.map((pos) => {
        const p = softmaxRow(r.output.data, pos * V, V);
        const order = [...p.keys()].sort((a, b) => p[b]! - p[a]! || a - b).slice(0, k);
        return { position: pos, top: order.map((id) => ({ token: tok.idToToken(id), id, p: p[id]! })) };
      });
      return { masks, report: r.report };
    },
  };
}

export interface EncodeOptions {
  /** `--record PATH` patterns: layer outputs (and neuron spikes) to hand back (interpreter/taps.ts). */
  readonly taps?: readonly string[];
  /** Every neuron's spikes (bare `--record`). */
  readonly recordAll?: boolean;
  readonly mode?: Mode;
  /** false: the reference interpreter (default: the optimized executor). */
  readonly optimize?: boolean;
}

export interface Encoded {
  /** The model's output: hidden states [B, L, d] for an encoder. */
  readonly output: Tensor;
  readonly taps: Map<string, Tensor>;
  readonly record: Map<string, NeuronRecord>;
  readonly timesteps: number;
}

/** Runs an encode model on a batch with taps: hidden states and recorded layer outputs. */
export function encodeBatch(m: LoadedModel, batch: Pick<Batch, "ids" | "types" | "mask">, opts: EncodeOptions = {}): Encoded {
  const all: Record<string, Tensor> = { ids: batch.ids, types: batch.types, mask: batch.mask };
  const inputs = new Map(inputNames(m.info).map((n) => [n, all[n]!]));
  const r = runSpec({
    file: m.info.spec,
    entry: m.info.entry,
    args: m.info.args,
    inputs,
    weights: m.weights,
    weightsSource: m.weightsSource,
    seed: m.seed,
    program: m.program,
    taps: opts.taps,
    record: opts.recordAll,
    mode: opts.mode,
    optimize: opts.optimize,
  });
  return { output: r.output, taps: r.taps, record: r.record, timesteps: r.compiled.graph.timesteps };
}

/**
 * A batch from an input file (`--input ids.json`): `ids` [B, L] (required), `types` (default
 * zeros) and `mask` (default ones), whole numbers; checked against the model's context.
 */
export function batchFromTensors(m: Pick<LoadedModel, "info">, tensors: ReadonlyMap<string, Tensor>, file: string): Batch {
  const known = ["ids", "types", "mask"];
  for (const k of tensors.keys()) if (!known.includes(k)) throw new UserError(`${file}: unknown input \`${k}\` (an encode input file holds ids, and optionally types and mask)`, { file });
  const ids = tensors.get("ids");
  if (!ids) throw new UserError(`${file}: no \`ids\` tensor (token ids [B, L])`, { file });
  if (ids.shape.length !== 2) throw new UserError(`${file}: \`ids\` has shape ${shapeString(ids.shape)}, expected [B, L]`, { file });
  const whole = (name: string, t: Tensor): I32Tensor => {
    if (!sameShape(t.shape, ids.shape)) throw new UserError(`${file}: \`${name}\` has shape ${shapeString(t.shape)} but \`ids\` is ${shapeString(ids.shape)}`, { file });
    const bad = Array.from(t.data).findIndex((v) => !Number.isInteger(v));
    if (bad >= 0) throw new UserError(`${file}: \`${name}\`[${bad}] = ${t.data[bad]} is not a whole number`, { file });
    return i32(t.shape, Int32Array.from(t.data));
  };
  const L = ids.shape[1]!;
  if (L > m.info.context) throw new UserError(`${file}: \`ids\` holds ${L} tokens per sequence, longer than the context of \`${m.info.name}\` (${m.info.context})`, { file });
  const idsT = whole("ids", ids);
  const mask = tensors.get("mask") ? whole("mask", tensors.get("mask")!) : i32(ids.shape, new Int32Array(numel(ids.shape)).fill(1));
  const types = tensors.get("types") ? whole("types", tensors.get("types")!) : i32(ids.shape);
  const B = ids.shape[0]!;
  const tokens = Array.from({ length: B }, (_, b) => Array.from(idsT.data.subarray(b * L, (b + 1) * L)).filter((_, i) => mask.data[b * L + i] !== 0));
  return { ids: idsT, types, mask, tokens };
}
