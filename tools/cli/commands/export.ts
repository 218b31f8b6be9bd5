/**
 * `spikelm export FILE --entry NAME --to onnx|pytorch -o OUT`: the spec as an ONNX inference
 * model (tools/export/onnx.ts) or a standalone PyTorch module with a DDP training script
 * (tools/export/pytorch.ts). Unsupported constructs fail with their position; nothing is
 * written unless the whole export succeeded (files are renamed into place at the end).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Tensor } from "../../../interpreter/engine/tensor.js";
import { UserError, describeError } from "../../../interpreter/io/errors.js";
import { readTensorMap } from "../../../interpreter/io/tensor-json.js";
import { prepareSpec } from "../../export/common.js";
import { exportOnnx } from "../../export/onnx.js";
import { noteWeights, parseArgs, parseIntOption } from "./run.js";
import { compileEntry } from "../../../interpreter/compile.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { loadWeightsFor } from "../../../models/load-weights.js";

export interface ExportOptions {
  entry: string;
  to?: string;
  out?: string;
  arg?: string[];
  weights?: string;
  input?: string;
  seed?: string;
  timesteps?: string;
  spikes?: boolean;
  names?: string;
}

/** Writes all files or none: each goes to a temporary name first, then is renamed. */
export function writeFilesAtomically(files: readonly { path: string; data: Uint8Array | string }[]): void {
  const tmps: string[] = [];
  try {
    for (const f of files) {
      const tmp = path.join(path.dirname(path.resolve(f.path)), `.${path.basename(f.path)}.${process.pid}.tmp`);
      fs.writeFileSync(tmp, f.data);
      tmps.push(tmp);
    }
    files.forEach((f, i) => fs.renameSync(tmps[i]!, f.path));
  } catch (e) {
    for (const t of tmps) fs.rmSync(t, { force: true });
    throw new UserError(`cannot write ${files.map((f) => f.path).join(", ")}: ${describeError(e)}`);
  }
}

export async function exportCommand(file: string, opts: ExportOptions): Promise<number> {
  const to = opts.to;
  if (to !== "onnx" && to !== "pytorch") throw new UserError(`--to is onnx or pytorch, found \`${to ?? ""}\``);
  if (!opts.out) throw new UserError(`export needs an output file: -o model.${to === "onnx" ? "onnx" : "py"}`);
  const names = opts.names ?? "spec";
  if (names !== "spec" && names !== "reference") throw new UserError(`--names is spec or reference, found \`${names}\``);
  if (to === "onnx") return exportOnnxCommand(file, opts, opts.out);
  if (opts.weights)
    throw new UserError("--weights is for ONNX (weights become initializers); a PyTorch module loads weights when it runs: load_weights(model, load_safetensors(path)), or train_ddp.py --init FILE");
  const { exportPytorchCommand } = await import("./export-pytorch.js");
  return exportPytorchCommand(file, opts, opts.out, names);
}

async function exportOnnxCommand(file: string, opts: ExportOptions, out: string): Promise<number> {
  if (!opts.input)
    throw new UserError(
      "ONNX export needs --input FILE: a calibration input (JSON tensors by forward argument name). Its shapes fix the graph's input shapes, and amplitudes not given in --weights are calibrated on it, as spikelm's first call does",
    );
  const inputs: Map<string, Tensor> = readTensorMap(opts.input);
  const req = { file, entry: opts.entry, args: parseArgs(opts.arg), inputs, timesteps: parseIntOption("--timesteps", opts.timesteps, 1) };
  const compiled = compileEntry(req);
  // spikelm's weight paths or a declared naming (the authors'), as every command reads them
  const loaded = opts.weights ? loadWeightsFor(compiled, opts.weights) : undefined;
  noteWeights(loaded);
  await initSpikeKernels();
  const prepared = prepareSpec({ ...req, compiled, weights: loaded?.weights, weightsSource: opts.weights, seed: parseIntOption("--seed", opts.seed, 0) ?? 0, optimized: true });
  const { graph, program } = prepared.compiled;
  const ex = exportOnnx({
    graph,
    params: prepared.params,
    program,
    spikes: opts.spikes,
    name: opts.entry,
    doc: `${opts.entry} from ${path.basename(file)}, exported by spikelm (T = ${graph.timesteps}, unrolled)`,
    metadata: {
      spec: path.basename(file),
      entry: opts.entry,
      args: JSON.stringify(parseArgs(opts.arg)),
      timesteps: String(graph.timesteps),
      calibrated_amplitudes: prepared.calibrated.join(","),
    },
  });
  writeFilesAtomically([{ path: out, data: ex.bytes }]);
  const shapes = (xs: readonly { name: string; shape: number[] }[]) => xs.map((x) => `${x.name} [${x.shape.join(", ")}]`).join(", ");
  process.stdout.write(
    `${opts.entry} → ${out}: ONNX opset 17, ${ex.nodeCount} nodes, ${(ex.bytes.length / 1024).toFixed(0)} KiB, T = ${graph.timesteps} unrolled\n` +
      `  inputs: ${shapes(ex.inputs)}\n  outputs: ${shapes(ex.outputs.slice(0, 1))}${ex.outputs.length > 1 ? ` + ${ex.outputs.length - 1} spike outputs (spikes/<neuron path>)` : ""}\n` +
      (prepared.calibrated.length > 0 ? `  ${prepared.calibrated.length} amplitudes calibrated on ${opts.input} (frozen in the model)\n` : ""),
  );
  return 0;
}
