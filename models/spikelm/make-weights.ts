/**
 * Writes the shipped small-model weights, in the reference code's naming, as safetensors:
 *
 *   models/spikelm/spikelm-small.safetensors   the small encoder with both heads (masked LM,
 *                                               pooler + classifier): encoder-small, mlm-small,
 *                                               classifier-small
 *   models/spikelm/decoder-small.safetensors   the small causal decoder: decoder-small
 *
 * Run:  node --import tsx tools/models/scripts.ts make-weights [--out DIR]
 *
 * How (all deterministic, so re-running reproduces identical bytes; a test checks it):
 * 1. Every weight is drawn from the spec's seeded initialisation (seed SEED, one random
 *    stream per parameter path; interpreter/engine/random.ts): embeddings N(0, 1), linear
 *    weights U(±1/sqrt(in)). Biases and LayerNorm shifts are U(±0.1) and LayerNorm scales
 *    1 + U(±0.1) from the stream of `path + "#ship"`, so no tensor is a constant.
 * 2. The amplitudes (`act_clip_val.t`, `clip_key.t`, `clip_value.t`) are calibrated as the
 *    reference does on a layer's first call (`2 * mean|u_t|`), by one forward run on the
 *    sentences of models/spikelm/sample.txt (padded batch, padding included).
 * 3. The tensors are renamed to the reference naming (spikelm/mapping.ts) and written with
 *    the buffers a reference checkpoint has and the spec ignores: `bert.embeddings.position_ids`
 *    (int64 [1, ctx]) and every linear's `weight_clip_val` (a 0-d scalar, unused).
 * The weights are untrained: the models run, spike and report, but predict nothing useful.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type ArgValue, compileEntry } from "../../interpreter/compile.js";
import { initTensor, streamFor } from "../../interpreter/engine/random.js";
import { type F32Tensor, type Tensor, f32, i32 } from "../../interpreter/engine/tensor.js";
import { readFileText } from "../../interpreter/io/files.js";
import { serializeSafetensors } from "../../interpreter/io/safetensors.js";
import type { ParamSpec } from "../../interpreter/ir/graph.js";
import { ParamStore } from "../../interpreter/runtime/params.js";
import { runSpec } from "../../interpreter/run.js";
import { ByteTokenizer, WordPieceTokenizer } from "../tokenizers/index.js";
import { type WeightMapping, exportWeights } from "../weights-mapping.js";
import { CLASSIFIER_ROWS, DECODER_MAPPING, EMBEDDING_ROWS, IGNORED_ALWAYS, LAYER_ROWS, MLM_UNTIED_ROWS } from "./mapping.js";

const SEED = 20240605;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ENCODER_SPEC = path.join(HERE, "spikelm_encoder.spk");
const DECODER_SPEC = path.join(HERE, "spikelm_decoder.spk");
const VOCAB = path.join(HERE, "vocab-small.txt");
const SAMPLE = path.join(HERE, "sample.txt");

// Kept in step with registry.ts (a test checks they agree).
export const ENCODER_ARGS = { vocab: 625, d: 64, heads: 4, depth: 2, ffn: 256, ctx: 128 } as const;
export const DECODER_ARGS = { vocab: 256, d: 64, heads: 4, depth: 2, ffn: 256, ctx: 128 } as const;

/** Every tensor of the small encoder file: embeddings, layers, both heads. */
const SMALL_ENCODER_FILE_MAPPING: WeightMapping = {
  name: "spikelm-encoder-all-heads",
  rows: [...EMBEDDING_ROWS, ...LAYER_ROWS, ...MLM_UNTIED_ROWS, ...CLASSIFIER_ROWS],
  ignored: IGNORED_ALWAYS,
};

function params(spec: string, entry: string, args: Readonly<Record<string, ArgValue>>, inputs: readonly string[]): readonly ParamSpec[] {
  const one = i32([1, 1], [0]);
  return compileParams(spec, entry, args, new Map(inputs.map((n) => [n, one])));
}

function compileParams(spec: string, entry: string, args: Readonly<Record<string, ArgValue>>, inputs: ReadonlyMap<string, Tensor>): readonly ParamSpec[] {
  return compileEntry({ file: spec, entry, args, inputs }).graph.params;
}

function union(...lists: (readonly ParamSpec[])[]): ParamSpec[] {
  const seen = new Map<string, ParamSpec>();
  for (const l of lists) for (const p of l) if (!seen.has(p.path)) seen.set(p.path, p);
  return [...seen.values()];
}

/** Seeded values for every weight (not the amplitudes); see the header, step 1. */
function seededWeights(specs: readonly ParamSpec[]): Map<string, F32Tensor> {
  const out = new Map<string, F32Tensor>();
  for (const p of specs) {
    if (p.kind !== "weight") continue;
    const last = p.path.slice(p.path.lastIndexOf(".") + 1);
    const ship = streamFor(SEED, `${p.path}#ship`);
    if (last === "b" || last === "beta") out.set(p.path, initTensor(p.shape, { kind: "uniform", bound: 0.1 }, ship));
    else if (last === "gamma") {
      const t = initTensor(p.shape, { kind: "uniform", bound: 0.1 }, ship);
      for (let i = 0; i < t.data.length; i++) t.data[i] = Math.fround(1 + t.data[i]!);
      out.set(p.path, t);
    } else if (p.init.kind === "fill") out.set(p.path, f32(p.shape, new Float32Array(p.shape.reduce((a, b) => a * b, 1)).fill(p.init.value)));
    else out.set(p.path, initTensor(p.shape, p.init, streamFor(SEED, p.path)));
  }
  return out;
}

/** Runs `entry` once on `inputs` with `weights` and returns the calibrated amplitudes. */
function calibrate(spec: string, entry: string, args: Readonly<Record<string, ArgValue>>, weights: ReadonlyMap<string, F32Tensor>, inputs: Map<string, Tensor>): Map<string, F32Tensor> {
  const specs = compileParams(spec, entry, args, inputs);
  const mine = new Map([...weights].filter(([k]) => specs.some((p) => p.path === k)));
  const store = ParamStore.create(specs, mine, { seed: SEED });
  runSpec({ file: spec, entry, args, inputs, params: store, optimize: false });
  const out = new Map<string, F32Tensor>();
  for (const [k, e] of store.entries) if (e.spec.kind === "amplitude") out.set(k, e.tensor);
  return out;
}

function sampleLines(): string[] {
  return readFileText(SAMPLE, "sample text")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** Reference-checkpoint buffers the spec ignores (header, step 3). */
function buffers(names: readonly string[], ctx: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  out.set("bert.embeddings.position_ids", i32([1, ctx], Array.from({ length: ctx }, (_, i) => i)));
  for (const n of names) if (n.endsWith(".weight") && n.startsWith("bert.encoder.layer.")) out.set(n.replace(/\.weight$/, ".weight_clip_val"), f32([], [2.5]));
  return out;
}

/** The small encoder file's bytes. */
export function smallEncoderBytes(): Uint8Array {
  const args = ENCODER_ARGS;
  const inputs3 = ["ids", "types", "mask"];
  const all = union(
    params(ENCODER_SPEC, "SpikeLMForMaskedLMUntied", args, inputs3),
    params(ENCODER_SPEC, "SpikeLMForSequenceClassification", { ...args, classes: 2 }, inputs3),
  );
  const weights = seededWeights(all);
  const tok = WordPieceTokenizer.fromFile(VOCAB);
  const seqs = sampleLines().map((l) => tok.encode(l, { addSpecial: true }));
  const L = Math.max(...seqs.map((s) => s.length));
  const B = seqs.length;
  const pad = tok.specialIds.pad ?? 0;
  const ids = i32([B, L], seqs.flatMap((s) => [...s, ...new Array<number>(L - s.length).fill(pad)]));
  const mask = i32([B, L], seqs.flatMap((s) => [...s.map(() => 1), ...new Array<number>(L - s.length).fill(0)]));
  const types = i32([B, L]);
  const alphas = calibrate(ENCODER_SPEC, "SpikeLMEncoder", args, weights, new Map<string, Tensor>([["ids", ids], ["types", types], ["mask", mask]]));
  const values = new Map<string, Tensor>([...weights, ...alphas]);
  const ref = exportWeights(values, SMALL_ENCODER_FILE_MAPPING, all);
  return serializeSafetensors(new Map([...ref, ...buffers([...ref.keys()], args.ctx)]), metadata("spikelm-small (encoder, masked-LM head, pooler + classifier)"), { intDtype: "I64" });
}

/** The small decoder file's bytes. */
export function smallDecoderBytes(): Uint8Array {
  const args = DECODER_ARGS;
  const specs = params(DECODER_SPEC, "SpikeLMDecoder", args, ["ids"]);
  const weights = seededWeights(specs);
  const bytes = new ByteTokenizer().encode(sampleLines().join(" ")).slice(0, args.ctx);
  const ids = i32([1, bytes.length], bytes);
  const alphas = calibrate(DECODER_SPEC, "SpikeLMDecoder", args, weights, new Map<string, Tensor>([["ids", ids]]));
  const ref = exportWeights(new Map<string, Tensor>([...weights, ...alphas]), DECODER_MAPPING, specs);
  return serializeSafetensors(new Map([...ref, ...buffers([...ref.keys()], args.ctx)]), metadata("decoder-small (causal SpikeLM, bytes)"), { intDtype: "I64" });
}

function metadata(what: string): Record<string, string> {
  return { format: "pt", model: what, generator: "models/spikelm/make-weights.ts", seed: String(SEED), trained: "no" };
}

const OUTPUTS = {
  encoder: "spikelm-small.safetensors",
  decoder: "decoder-small.safetensors",
} as const;

/** Writes the shipped files into `dir` (default: next to this module); returns what it wrote. */
export function writeShippedWeights(dir: string = HERE): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files: [string, Uint8Array][] = [
    [OUTPUTS.encoder, smallEncoderBytes()],
    [OUTPUTS.decoder, smallDecoderBytes()],
  ];
  return files.map(([name, b]) => {
    fs.writeFileSync(path.join(dir, name), b);
    return `wrote ${path.join(dir, name)} (${b.length} bytes)`;
  });
}
