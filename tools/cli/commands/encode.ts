/**
 * `spikelm encode [--model M] TEXT...` or `--input ids.json`: the encoder's hidden states
 * [B, L, d] (and, with `--record PATH`, any layer's output, e.g. every layer's hidden state
 * with `--record "blocks.*"`), written with `--out` as JSON or safetensors (by extension):
 * `output`, `ids`, `mask` and `record.<path>.output` / `record.<path>.spikes`.
 */
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { readTensorMap } from "../../../interpreter/io/tensor-json.js";
import { batchFromTensors, encodeBatch, encodeTexts, loadModel } from "../../../models/tasks.js";
import { type ModelCommandOptions, modelOptions } from "./classify.js";
import { type RecordOption, checkOutFile, parseRecord, tapLines, writeRunFile } from "./record.js";
import { noteWeights } from "./run.js";

export interface EncodeCommandOptions extends ModelCommandOptions {
  input?: string;
  out?: string;
  record?: RecordOption;
  mode?: string;
  /** commander's negatable `--no-opt`: false runs the reference interpreter. */
  opt?: boolean;
}

export async function encodeCommand(texts: string[], opts: EncodeCommandOptions): Promise<number> {
  const mode = opts.mode ?? "multi";
  if (mode !== "multi" && mode !== "step") throw new UserError(`--mode is multi or step, found \`${mode}\``);
  if (texts.length > 0 && opts.input) throw new UserError("give texts or --input ids.json, not both");
  if (texts.length === 0 && !opts.input) throw new UserError('nothing to encode: spikelm encode "some text" ["more text" ...], or --input ids.json');
  checkOutFile(opts.out);
  const record = parseRecord(opts.record);
  if (opts.opt !== false) await initSpikeKernels();
  const m = loadModel("encode", { ...modelOptions(opts), noTokenizer: opts.input !== undefined });
  if (opts.weights) noteWeights(m.loadedWeights);
  const batch = opts.input ? batchFromTensors(m, readTensorMap(opts.input), opts.input) : encodeTexts(m, texts);
  const r = encodeBatch(m, batch, { taps: record.taps, recordAll: record.all, mode, optimize: opts.opt !== false });
  if (opts.out)
    writeRunFile(
      opts.out,
      new Map([
        ["output", r.output],
        ["ids", batch.ids],
        ["mask", batch.mask],
      ]),
      r.record,
      r.taps,
    );
  const o = r.output;
  process.stdout.write(`${m.info.name}: hidden states ${o.dtype}[${o.shape.join(", ")}] for ${batch.tokens.length} sequence${batch.tokens.length === 1 ? "" : "s"} of ${batch.tokens.map((t) => t.length).join(", ")} tokens (T = ${r.timesteps}, ${mode}-step)\n`);
  if (r.taps.size > 0) process.stdout.write(`recorded layer outputs:\n${tapLines(r.taps)}\n`);
  if (r.record.size > 0) process.stdout.write(`recorded spikes of ${r.record.size} neuron${r.record.size === 1 ? "" : "s"}\n`);
  if (!m.weights) process.stderr.write(`note: \`${m.info.name}\` has no weights: seeded random initialisation (pass --weights)\n`);
  if (opts.out) process.stdout.write(`wrote ${opts.out}\n`);
  else process.stdout.write("(pass --out FILE.json or FILE.safetensors to write the hidden states)\n");
  return 0;
}
