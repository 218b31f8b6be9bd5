/**
 * The shipped models, by name: which spec and entry, with which constructor arguments,
 * which tokenizer (and vocab file), which weights file (if shipped), how the reference
 * code names its weights, and the context length. `spikelm models` lists them; `classify`,
 * `fill-mask`, `report` (and `generate`) take `--model NAME` or a `.spk` file.
 *
 * Shipped weight files are in the reference code's naming (see spikelm/mapping.ts). The small
 * models ship trained weights (`spikelm train`, then models/spikelm/ship-trained.ts; the
 * commands are in models/README.md); the seeded untrained files written by
 * `models/spikelm/make-weights.ts` (reproducible byte for byte) stay for the tests.
 */
import { platform } from "#platform";
import type { ArgValue } from "../interpreter/compile.js";
import { compileEntry } from "../interpreter/compile.js";
import type { Program } from "../interpreter/checker/program.js";
import { closest } from "../interpreter/checker/suggest.js";
import { i32 } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import type { ParamSpec } from "../interpreter/ir/graph.js";
import { BpeTokenizer, ByteTokenizer, type Tokenizer, WordPieceTokenizer, tokenizerFromFile } from "./tokenizers/index.js";
import { CLASSIFIER_MAPPING, DECODER_MAPPING, ENCODER_MAPPING, MLM_MAPPING, MLM_UNTIED_MAPPING } from "./spikelm/mapping.js";
import type { WeightMapping } from "./weights-mapping.js";

const MODELS_DIR = platform.path.join(platform.repoRoot, "models");
const here = (...p: string[]) => platform.path.join(MODELS_DIR, ...p);

export type Task = "encode" | "fill-mask" | "classify" | "generate";

export type TokenizerInfo =
  | { readonly kind: "byte" }
  /** Byte-level BPE: `merges` is the shipped merges file (models/tokenizers/bpe.ts), `size` 256 + its merges. */
  | { readonly kind: "bpe"; readonly merges: string; readonly size: number }
  /** `vocab` is the shipped vocab.txt, if any (otherwise the user passes --vocab). */
  | { readonly kind: "wordpiece"; readonly vocab?: string; readonly size: number };

export interface ModelInfo {
  readonly name: string;
  readonly description: string;
  readonly task: Task;
  /** Absolute path of the spec file. */
  readonly spec: string;
  readonly entry: string;
  readonly args: Readonly<Record<string, ArgValue>>;
  readonly tokenizer: TokenizerInfo;
  /** Shipped weights (reference naming), absolute path. */
  readonly weights?: string;
  readonly mapping: WeightMapping;
  /** Longest input, in tokens (the position table's size). */
  readonly context: number;
  /** Class names of a classifier. */
  readonly labels?: readonly string[];
}

const ENCODER_SPEC = here("spikelm/spikelm_encoder.spk");
const DECODER_SPEC = here("spikelm/spikelm_decoder.spk");
export const SMALL_VOCAB = here("spikelm/vocab-small.txt");
/** Byte-level BPE merges learned from kjv-train.txt (models/spikelm/make-bpe.ts). */
export const KJV_BPE = here("spikelm/bpe-kjv.txt");
export const SMALL_ENCODER_WEIGHTS = here("spikelm/spikelm-small.safetensors");
export const SMALL_DECODER_WEIGHTS = here("spikelm/decoder-small.safetensors");
/** Trained weights (models/README.md says how they were made). */
export const TRAINED_DECODER_WEIGHTS = here("spikelm/trained-decoder-small.safetensors");
export const TRAINED_BPE_DECODER_WEIGHTS = here("spikelm/trained-decoder-small-bpe.safetensors");
export const TRAINED_MLM_WEIGHTS = here("spikelm/trained-mlm-small.safetensors");
export const TRAINED_CLASSIFIER_WEIGHTS = here("spikelm/trained-classifier-small.safetensors");
/** The shipped input `spikelm report` runs on. */
export const SAMPLE_TEXT = here("spikelm/sample.txt");

/** Small encoder: a 625-token WordPiece vocabulary, d 64, 4 heads, 2 layers, FFN 256, T 4. */
export const SMALL_ENCODER_ARGS = { vocab: 625, d: 64, heads: 4, depth: 2, ffn: 256, ctx: 128 } as const;
/** BERT-base: 12 layers, d 768, 12 heads, FFN 3072, vocab 30522, context 512 (the spec's defaults). */
const BASE_ENCODER_ARGS = { vocab: 30522, d: 768, heads: 12, depth: 12, ffn: 3072, ctx: 512 } as const;
export const SMALL_DECODER_ARGS = { vocab: 256, d: 64, heads: 4, depth: 2, ffn: 256, ctx: 128 } as const;
/** decoder-small's architecture over the 2,048-token KJV BPE vocabulary (256 bytes + 1,792 merges). */
export const SMALL_BPE_DECODER_ARGS = { ...SMALL_DECODER_ARGS, vocab: 2048 } as const;
/** GPT-2-small-sized: 12 layers, d 768, 12 heads, FFN 3072, context 1024, byte vocabulary. */
const BASE_DECODER_ARGS = { vocab: 256, d: 768, heads: 12, depth: 12, ffn: 3072, ctx: 1024 } as const;

const smallWordPiece: TokenizerInfo = { kind: "wordpiece", vocab: SMALL_VOCAB, size: SMALL_ENCODER_ARGS.vocab };
const baseWordPiece: TokenizerInfo = { kind: "wordpiece", size: BASE_ENCODER_ARGS.vocab };

export const MODELS: readonly ModelInfo[] = [
  {
    name: "decoder-small",
    description: "causal SpikeLM, bytes, 2 layers, d 64 (trained on the KJV corpus, models/data)",
    task: "generate",
    spec: DECODER_SPEC,
    entry: "SpikeLMDecoder",
    args: SMALL_DECODER_ARGS,
    tokenizer: { kind: "byte" },
    weights: TRAINED_DECODER_WEIGHTS,
    mapping: DECODER_MAPPING,
    context: SMALL_DECODER_ARGS.ctx,
  },
  {
    name: "decoder-small-bpe",
    description: "causal SpikeLM, byte-level BPE (2,048 tokens), 2 layers, d 64 (trained on the KJV corpus, models/data)",
    task: "generate",
    spec: DECODER_SPEC,
    entry: "SpikeLMDecoder",
    args: SMALL_BPE_DECODER_ARGS,
    tokenizer: { kind: "bpe", merges: KJV_BPE, size: SMALL_BPE_DECODER_ARGS.vocab },
    weights: TRAINED_BPE_DECODER_WEIGHTS,
    mapping: DECODER_MAPPING,
    context: SMALL_BPE_DECODER_ARGS.ctx,
  },
  {
    name: "decoder-base",
    description: "causal SpikeLM, bytes, GPT-2-small size: 12 layers, d 768 (seeded init unless --weights)",
    task: "generate",
    spec: DECODER_SPEC,
    entry: "SpikeLMDecoder",
    args: BASE_DECODER_ARGS,
    tokenizer: { kind: "byte" },
    mapping: DECODER_MAPPING,
    context: BASE_DECODER_ARGS.ctx,
  },
  {
    name: "mlm-small",
    // Trained before the head was tied to the embeddings: a decoder matrix of its own.
    description: "SpikeLM encoder + masked-LM head (decoder not tied), 2 layers, d 64 (masked LM on the KJV corpus)",
    task: "fill-mask",
    spec: ENCODER_SPEC,
    entry: "SpikeLMForMaskedLMUntied",
    args: SMALL_ENCODER_ARGS,
    tokenizer: smallWordPiece,
    weights: TRAINED_MLM_WEIGHTS,
    mapping: MLM_UNTIED_MAPPING,
    context: SMALL_ENCODER_ARGS.ctx,
  },
  {
    name: "classifier-small",
    description: "SpikeLM encoder + pooler + 2-way classifier, 2 layers, d 64 (trained on the sentiment set)",
    task: "classify",
    spec: ENCODER_SPEC,
    entry: "SpikeLMForSequenceClassification",
    args: { ...SMALL_ENCODER_ARGS, classes: 2 },
    tokenizer: smallWordPiece,
    weights: TRAINED_CLASSIFIER_WEIGHTS,
    mapping: CLASSIFIER_MAPPING,
    context: SMALL_ENCODER_ARGS.ctx,
    labels: ["negative", "positive"],
  },
  {
    name: "encoder-small",
    description: "SpikeLM encoder (hidden states), 2 layers, d 64 (masked LM on the KJV corpus)",
    task: "encode",
    spec: ENCODER_SPEC,
    entry: "SpikeLMEncoder",
    args: SMALL_ENCODER_ARGS,
    tokenizer: smallWordPiece,
    weights: TRAINED_MLM_WEIGHTS,
    mapping: ENCODER_MAPPING,
    context: SMALL_ENCODER_ARGS.ctx,
  },
  {
    name: "mlm-base",
    description: "BERT-base-sized SpikeLM + masked-LM head (needs --vocab; --weights from the reference code)",
    task: "fill-mask",
    spec: ENCODER_SPEC,
    entry: "SpikeLMForMaskedLM",
    args: BASE_ENCODER_ARGS,
    tokenizer: baseWordPiece,
    mapping: MLM_MAPPING,
    context: BASE_ENCODER_ARGS.ctx,
  },
  {
    name: "classifier-base",
    description: "BERT-base-sized SpikeLM + 2-way classifier (needs --vocab; --weights from the reference code)",
    task: "classify",
    spec: ENCODER_SPEC,
    entry: "SpikeLMForSequenceClassification",
    args: { ...BASE_ENCODER_ARGS, classes: 2 },
    tokenizer: baseWordPiece,
    mapping: CLASSIFIER_MAPPING,
    context: BASE_ENCODER_ARGS.ctx,
  },
  {
    name: "encoder-base",
    description: "BERT-base-sized SpikeLM encoder, 12 layers, d 768, T 4",
    task: "encode",
    spec: ENCODER_SPEC,
    entry: "SpikeLMEncoder",
    args: BASE_ENCODER_ARGS,
    tokenizer: baseWordPiece,
    mapping: ENCODER_MAPPING,
    context: BASE_ENCODER_ARGS.ctx,
  },
];

/** The default model of each task; the default decoder is the small one. */
export const DEFAULT_MODELS: Readonly<Record<Task, string>> = {
  generate: "decoder-small",
  "fill-mask": "mlm-small",
  classify: "classifier-small",
  encode: "encoder-small",
};

/**
 * The decoder `npm start` and `spikelm generate` use unless `--model` says otherwise: the BPE
 * model, whose text reads like the corpus. The library's default decoder
 * (`DEFAULT_MODELS.generate`, also `report`'s) stays the byte model that tests and benches pin.
 */
export const READABLE_DECODER = "decoder-small-bpe";

/** A shipped model by name; an unknown name is a UserError listing the names. */
export function findModel(name: string): ModelInfo {
  const m = MODELS.find((x) => x.name === name);
  if (m) return m;
  const guess = closest(name, MODELS.map((x) => x.name));
  throw new UserError(
    `unknown model \`${name}\`${guess ? `; did you mean \`${guess}\`?` : ""} (shipped models: ${MODELS.map((x) => x.name).join(", ")}; or give a .spk file)`,
  );
}

/** The parameters of a model's entry (compiled for a 1-token input; shapes do not depend on it). */
export function entryParams(spec: string, entry: string, args: Readonly<Record<string, ArgValue>>, inputs: readonly string[] = ["ids"], timesteps?: number, program?: Program): readonly ParamSpec[] {
  const one = i32([1, 1], [0]);
  const compiled = compileEntry({ file: spec, entry, args, inputs: new Map(inputs.map((n) => [n, one])), timesteps, program });
  return compiled.graph.params;
}

/** The forward's input names of the registry's entries. */
export function inputNames(info: Pick<ModelInfo, "task">): string[] {
  return info.task === "generate" ? ["ids"] : ["ids", "types", "mask"];
}

/**
 * The parameters of a registry model's entry (what `loadWeightsFor` checks a file against).
 * `program`: the checked files to reuse (the run that follows then does not check them again).
 */
export function modelParams(info: Pick<ModelInfo, "spec" | "entry" | "args" | "task">, program?: Program): readonly ParamSpec[] {
  return entryParams(info.spec, info.entry, info.args, inputNames(info), undefined, program);
}

/** The model's tokenizer: bytes, or BPE / WordPiece from `vocab` (or the shipped file). */
export function modelTokenizer(info: Pick<ModelInfo, "name" | "tokenizer">, vocab?: string): Tokenizer {
  if (info.tokenizer.kind === "byte") return new ByteTokenizer();
  if (info.tokenizer.kind === "bpe") {
    const file = vocab ?? info.tokenizer.merges;
    if (!platform.exists(file)) throw new UserError(`cannot read the BPE merges file ${file}: no such file`);
    const tok = tokenizerFromFile(file);
    if (!(tok instanceof BpeTokenizer)) throw new UserError(`${file} is a WordPiece vocabulary, but \`${info.name}\` uses byte-level BPE: pass a merges file (its first line is \`#version: 0.2\`)`);
    if (tok.vocabSize !== info.tokenizer.size)
      throw new UserError(`${file} makes ${tok.vocabSize} tokens (256 bytes + ${tok.vocabSize - 256} merges), but \`${info.name}\` has a vocabulary of ${info.tokenizer.size}`);
    return tok;
  }
  const file = vocab ?? info.tokenizer.vocab;
  if (!file)
    throw new UserError(`\`${info.name}\` needs a WordPiece vocabulary of ${info.tokenizer.size} tokens (BERT's vocab.txt): pass --vocab FILE`);
  if (!platform.exists(file)) throw new UserError(`cannot read the vocab file ${file}: no such file`);
  const tok = WordPieceTokenizer.fromFile(file);
  if (tok.vocabSize !== info.tokenizer.size)
    throw new UserError(`${file} has ${tok.vocabSize} tokens, but \`${info.name}\` has a vocabulary of ${info.tokenizer.size}`);
  return tok;
}
