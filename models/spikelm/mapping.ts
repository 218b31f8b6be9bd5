/**
 * How the reference code's checkpoints (`spikeLM-BERT`, a Hugging Face BERT `state_dict` with
 * SpikeLM's quantised linears; see SpikeLM's design notes (docs and models/README.md), "Checkpoint layout") name the
 * parameters of the specs in this folder. Pure data: `[reference name pattern, spec path]`.
 *
 * `{i}` is the layer index; `{t}` the time step: the reference keeps one 0-d scalar per step
 * (`act_clip_val.0` … `act_clip_val.3`), the spec one amplitude of shape [T].
 * `act_clip_val` of a linear layer is the alpha of the neuron in front of it (`fire`);
 * `clip_key` / `clip_value` are the alphas of the key/value re-quantisers (`kfire` / `vfire`).
 * Linear weights are [out, in] on both sides (no transpose).
 *
 * The causal decoder has no counterpart in the reference code (it is BERT only); its file
 * uses the same BERT names for the embeddings and layers, and `lm_head.{weight,bias}`.
 */
import type { IgnoredRow, MappingRow, TiedRow, WeightMapping } from "../weights-mapping.js";

/** One spiking linear layer: weight, bias and the amplitude of its input neuron. */
const spikeLinear = (ref: string, spec: string): MappingRow[] => [
  [`${ref}.weight`, `${spec}.W`],
  [`${ref}.bias`, `${spec}.b`],
  [`${ref}.act_clip_val.{t}`, `${spec}.fire.alpha`],
];

const L = "bert.encoder.layer.{i}";

/** The spiking layers (shared by the encoder and the decoder). */
export const LAYER_ROWS: readonly MappingRow[] = [
  ...spikeLinear(`${L}.attention.self.query`, "blocks.{i}.attn.q"),
  ...spikeLinear(`${L}.attention.self.key`, "blocks.{i}.attn.k"),
  ...spikeLinear(`${L}.attention.self.value`, "blocks.{i}.attn.v"),
  [`${L}.attention.self.clip_key.{t}`, "blocks.{i}.attn.kfire.alpha"],
  [`${L}.attention.self.clip_value.{t}`, "blocks.{i}.attn.vfire.alpha"],
  ...spikeLinear(`${L}.attention.output.dense`, "blocks.{i}.proj"),
  [`${L}.attention.output.LayerNorm.weight`, "blocks.{i}.norm1.gamma"],
  [`${L}.attention.output.LayerNorm.bias`, "blocks.{i}.norm1.beta"],
  ...spikeLinear(`${L}.intermediate.dense`, "blocks.{i}.up"),
  ...spikeLinear(`${L}.output.dense`, "blocks.{i}.down"),
  [`${L}.output.LayerNorm.weight`, "blocks.{i}.norm2.gamma"],
  [`${L}.output.LayerNorm.bias`, "blocks.{i}.norm2.beta"],
];

export const EMBEDDING_ROWS: readonly MappingRow[] = [
  ["bert.embeddings.word_embeddings.weight", "embeddings.word.table"],
  ["bert.embeddings.position_embeddings.weight", "embeddings.position.table"],
  ["bert.embeddings.token_type_embeddings.weight", "embeddings.token_type.table"],
  ["bert.embeddings.LayerNorm.weight", "embeddings.norm.gamma"],
  ["bert.embeddings.LayerNorm.bias", "embeddings.norm.beta"],
];

const MLM_TRANSFORM_ROWS: readonly MappingRow[] = [
  ["cls.predictions.transform.dense.weight", "mlm.transform.W"],
  ["cls.predictions.transform.dense.bias", "mlm.transform.b"],
  ["cls.predictions.transform.LayerNorm.weight", "mlm.norm.gamma"],
  ["cls.predictions.transform.LayerNorm.bias", "mlm.norm.beta"],
];

/**
 * BERT's masked-LM head as BERT builds it (`SpikeLMForMaskedLM`): the decoder's weight is the
 * word-embedding table (the spec reads `embeddings.word.table`), only the bias is the head's.
 */
export const MLM_ROWS: readonly MappingRow[] = [...MLM_TRANSFORM_ROWS, ["cls.predictions.bias", "mlm.bias"]];

/**
 * Hugging Face's `BertForMaskedLM` ties `cls.predictions.decoder.weight` to the word
 * embeddings and `cls.predictions.decoder.bias` to `cls.predictions.bias`; its state_dict
 * holds both names of each (equal data).
 */
export const MLM_TIED: readonly TiedRow[] = [
  ["cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"],
  ["cls.predictions.decoder.bias", "cls.predictions.bias"],
];

/** The untied head (`SpikeLMForMaskedLMUntied`, the shipped mlm-small): its own decoder matrix. */
export const MLM_UNTIED_ROWS: readonly MappingRow[] = [
  ...MLM_TRANSFORM_ROWS,
  ["cls.predictions.decoder.weight", "mlm.decoder.W"],
  ["cls.predictions.bias", "mlm.decoder.b"],
];

export const CLASSIFIER_ROWS: readonly MappingRow[] = [
  ["bert.pooler.dense.weight", "pooler.W"],
  ["bert.pooler.dense.bias", "pooler.b"],
  ["classifier.weight", "classifier.W"],
  ["classifier.bias", "classifier.b"],
];

/** Always ignored: unused by the reference's forward. */
export const IGNORED_ALWAYS: readonly IgnoredRow[] = [
  ["bert.embeddings.position_ids", "a buffer holding 0..ctx-1 (positions are computed)"],
  [`${L}.{*}.weight_clip_val`, "unused by the reference (weights stay full precision)"],
];

const IGNORED_POOLER: IgnoredRow = ["bert.pooler.dense.{*}", "the pooler belongs to the classification head"];
const IGNORED_CLS: IgnoredRow = ["cls.{*}", "a pretraining head (masked LM / next sentence) not used by this model"];
const IGNORED_CLASSIFIER: IgnoredRow = ["classifier.{*}", "belongs to the sequence-classification head"];

export const ENCODER_MAPPING: WeightMapping = {
  name: "spikelm-encoder",
  rows: [...EMBEDDING_ROWS, ...LAYER_ROWS],
  ignored: [...IGNORED_ALWAYS, IGNORED_POOLER, IGNORED_CLS, IGNORED_CLASSIFIER],
};

const IGNORED_NSP: IgnoredRow = ["cls.seq_relationship.{*}", "the next-sentence head of pretraining"];

export const MLM_MAPPING: WeightMapping = {
  name: "spikelm-mlm",
  rows: [...EMBEDDING_ROWS, ...LAYER_ROWS, ...MLM_ROWS],
  ignored: [...IGNORED_ALWAYS, IGNORED_NSP, IGNORED_POOLER, IGNORED_CLASSIFIER],
  tied: MLM_TIED,
};

export const MLM_UNTIED_MAPPING: WeightMapping = {
  name: "spikelm-mlm-untied",
  rows: [...EMBEDDING_ROWS, ...LAYER_ROWS, ...MLM_UNTIED_ROWS],
  ignored: [
    ...IGNORED_ALWAYS,
    ["cls.predictions.decoder.bias", "Hugging Face's alias of cls.predictions.bias"],
    IGNORED_NSP,
    IGNORED_POOLER,
    IGNORED_CLASSIFIER,
  ],
};

export const CLASSIFIER_MAPPING: WeightMapping = {
  name: "spikelm-classifier",
  rows: [...EMBEDDING_ROWS, ...LAYER_ROWS, ...CLASSIFIER_ROWS],
  ignored: [...IGNORED_ALWAYS, IGNORED_CLS],
};

export const DECODER_MAPPING: WeightMapping = {
  name: "spikelm-decoder",
  rows: [
    ["bert.embeddings.word_embeddings.weight", "embeddings.word.table"],
    ["bert.embeddings.position_embeddings.weight", "embeddings.position.table"],
    ["bert.embeddings.LayerNorm.weight", "embeddings.norm.gamma"],
    ["bert.embeddings.LayerNorm.bias", "embeddings.norm.beta"],
    ...LAYER_ROWS,
    ["lm_head.weight", "head.W"],
    ["lm_head.bias", "head.b"],
  ],
  ignored: [...IGNORED_ALWAYS],
};

export const MAPPINGS: ReadonlyMap<string, WeightMapping> = new Map(
  [ENCODER_MAPPING, MLM_MAPPING, MLM_UNTIED_MAPPING, CLASSIFIER_MAPPING, DECODER_MAPPING].map((m) => [m.name, m]),
);
