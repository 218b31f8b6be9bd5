/**
 * Turns `spikelm train` checkpoints into the shipped trained weights, in the reference code's
 * naming (like the seeded files make-weights.ts writes), without the optimizer state:
 *
 *   models/spikelm/trained-decoder-small.safetensors     decoder-small  (causal LM on the KJV corpus)
 *   models/spikelm/trained-mlm-small.safetensors         mlm-small, encoder-small (masked LM on the corpus)
 *   models/spikelm/trained-classifier-small.safetensors  classifier-small (fine-tuned on the sentiment set)
 *   models/spikelm/trained-decoder-dense-small.safetensors  decoder_dense.spk DenseDecoder: decoder-small's
 *     architecture as a dense ANN, trained with the same budget (the README's comparison); spec paths
 *   models/spikelm/trained-decoder-small-bpe.safetensors  decoder-small-bpe (causal LM over the KJV BPE vocabulary)
 *   models/spikelm/trained-decoder-dense-bpe.safetensors  DenseDecoder with vocab 2048: decoder-small-bpe's
 *     dense twin, trained with the same budget; spec paths
 *
 * Run: node --import tsx tools/models/scripts.ts ship-trained [--decoder CK] [--mlm CK] [--classifier CK] [--dense CK] [--bpe CK] [--bpe-dense CK] [--out-dir DIR]
 * The header's __metadata__ records the training run (steps, data, config, seconds) read off
 * the checkpoint. The commands that made the checkpoints are in models/README.md.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Tensor } from "../../interpreter/engine/tensor.js";
import { serializeSafetensors } from "../../interpreter/io/safetensors.js";
import { writeFileAtomic } from "../../interpreter/io/files.js";
import { loadCheckpoint } from "../../interpreter/train/checkpoint.js";
import { type ModelInfo, entryParams, findModel, inputNames } from "../registry.js";
import { exportWeights } from "../weights-mapping.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));

const TRAINED_FILES = {
  decoder: "trained-decoder-small.safetensors",
  mlm: "trained-mlm-small.safetensors",
  classifier: "trained-classifier-small.safetensors",
  dense: "trained-decoder-dense-small.safetensors",
  bpe: "trained-decoder-small-bpe.safetensors",
  bpeDense: "trained-decoder-dense-bpe.safetensors",
} as const;

function runMetadata(ck: ReturnType<typeof loadCheckpoint>, model: string): Record<string, string> {
  const info = ck.state?.info ?? {};
  return {
    format: "pt",
    model,
    generator: "spikelm train, then models/spikelm/ship-trained.ts",
    trained: "yes",
    steps: String(ck.state?.step ?? "?"),
    task: String(info.task ?? "?"),
    data: String(info.data ?? "?"),
    seconds: String(Math.round(Number(info.elapsed_s ?? 0))),
    config: JSON.stringify(info.config ?? {}),
  };
}

function ship(model: ModelInfo, checkpoint: string, out: string): string {
  const ck = loadCheckpoint(checkpoint);
  const params = entryParams(model.spec, model.entry, model.args, inputNames(model));
  const mine = new Map<string, Tensor>([...ck.weights].filter(([k]) => params.some((p) => p.path === k)));
  const ref = exportWeights(mine, model.mapping, params);
  const meta = runMetadata(ck, model.name);
  const bytes = serializeSafetensors(ref, meta);
  writeFileAtomic(out, bytes);
  return `wrote ${out} (${bytes.length} bytes; ${model.name}, ${meta.steps} steps)`;
}

/** The dense comparison model is not a registry model: its weights keep the spec's paths. */
function shipDense(checkpoint: string, out: string, model = "decoder_dense.spk DenseDecoder"): string {
  const ck = loadCheckpoint(checkpoint);
  const meta = runMetadata(ck, model);
  const bytes = serializeSafetensors(ck.weights, meta);
  writeFileAtomic(out, bytes);
  return `wrote ${out} (${bytes.length} bytes; ${meta.model}, ${meta.steps} steps)`;
}

/** The checkpoint to ship for each trained model (absent: that file is left as it is). */
export interface TrainedCheckpoints {
  readonly decoder?: string;
  readonly mlm?: string;
  readonly classifier?: string;
  /** decoder_dense.spk's DenseDecoder, trained with decoder-small's budget */
  readonly dense?: string;
  /** decoder-small-bpe */
  readonly bpe?: string;
  /** decoder_dense.spk's DenseDecoder with vocab 2048, trained with decoder-small-bpe's budget */
  readonly bpeDense?: string;
}

/**
 * Writes the trained files from the given checkpoints, next to this module (or into `outDir`,
 * to look at a candidate before it replaces the shipped file); returns what it wrote.
 */
export function shipTrained(checkpoints: TrainedCheckpoints, outDir: string = HERE): string[] {
  const jobs: [string, string | undefined, string][] = [
    ["decoder-small", checkpoints.decoder, TRAINED_FILES.decoder],
    ["mlm-small", checkpoints.mlm, TRAINED_FILES.mlm],
    ["classifier-small", checkpoints.classifier, TRAINED_FILES.classifier],
    ["decoder-small-bpe", checkpoints.bpe, TRAINED_FILES.bpe],
  ];
  const shipped = jobs.flatMap(([name, ck, file]) => (ck ? [ship({ ...findModel(name), weights: undefined }, ck, path.join(outDir, file))] : []));
  if (checkpoints.dense) shipped.push(shipDense(checkpoints.dense, path.join(outDir, TRAINED_FILES.dense)));
  if (checkpoints.bpeDense) shipped.push(shipDense(checkpoints.bpeDense, path.join(outDir, TRAINED_FILES.bpeDense), "decoder_dense.spk DenseDecoder vocab=2048 (bpe-kjv.txt)"));
  return shipped;
}
