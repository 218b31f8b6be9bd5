/**
 * Turns `spikelm train` checkpoints into the shipped trained weights, in the reference code's
 * naming (like the seeded files make-weights.ts writes), without the optimizer state:
 *
 *   models/spikelm/trained-decoder-small.safetensors     decoder-small  (causal LM on the KJV corpus)
 *   models/spikelm/trained-mlm-small.safetensors         mlm-small, encoder-small (masked LM on the corpus)
 *   models/spikelm/trained-classifier-small.safetensors  classifier-small (fine-tuned on the sentiment set)
 *
 * Run: node --import tsx models/spikelm/ship-trained.ts [--decoder CK] [--mlm CK] [--classifier CK]
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
} as const;

function ship(model: ModelInfo, checkpoint: string, out: string): void {
  const ck = loadCheckpoint(checkpoint);
  const params = entryParams(model.spec, model.entry, model.args, inputNames(model));
  const mine = new Map<string, Tensor>([...ck.weights].filter(([k]) => params.some((p) => p.path === k)));
  const ref = exportWeights(mine, model.mapping, params);
  const info = ck.state?.info ?? {};
  const meta: Record<string, string> = {
    format: "pt",
    model: model.name,
    generator: "spikelm train, then models/spikelm/ship-trained.ts",
    trained: "yes",
    steps: String(ck.state?.step ?? "?"),
    task: String(info.task ?? "?"),
    data: String(info.data ?? "?"),
    seconds: String(Math.round(Number(info.elapsed_s ?? 0))),
    config: JSON.stringify(info.config ?? {}),
  };
  const bytes = serializeSafetensors(ref, meta);
  writeFileAtomic(out, bytes);
  process.stdout.write(`wrote ${out} (${bytes.length} bytes; ${model.name}, ${meta.steps} steps)\n`);
}

function main(argv: readonly string[]): void {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const jobs: [string, string | undefined, string][] = [
    ["decoder-small", arg("--decoder"), TRAINED_FILES.decoder],
    ["mlm-small", arg("--mlm"), TRAINED_FILES.mlm],
    ["classifier-small", arg("--classifier"), TRAINED_FILES.classifier],
  ];
  for (const [name, ck, file] of jobs) if (ck) ship({ ...findModel(name), weights: undefined }, ck, path.join(HERE, file));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
