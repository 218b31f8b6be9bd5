/**
 * `spikelm grad FILE --entry NAME --weights W --input I --probe P --out G.safetensors`:
 * the gradient of `sum(output * probe)` with respect to every trainable parameter (and every
 * float input), so a user can check spikelm's gradients against their own framework: with
 * `probe` all ones it is `output.sum().backward()`.
 *
 * Names: gradients are written under the names the weights file used. A file in the spec's
 * parameter paths gives spec paths; a checkpoint in the reference code's naming (loaded
 * through a declared mapping, models/load-weights.ts) gives the reference's names, an
 * amplitude's gradient unstacked into its T scalars (`act_clip_val.{t}`) as the reference
 * stores them. Input gradients use the input's name (`input.NAME` if that is also a
 * parameter's name).
 *
 * Everything is checked before anything is written: a bad probe (shape, dtype, non-finite)
 * is an error naming both shapes, exit 1, and no output file.
 */
import { GradientEngine } from "../../../interpreter/autodiff/index.js";
import { compileEntry } from "../../../interpreter/compile.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { type Tensor, f32, shapeString } from "../../../interpreter/engine/tensor.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { parseTensor, parseTensorFile, readJsonFile, readTensorMap } from "../../../interpreter/io/tensor-json.js";
import { findNonFinite, loadWeightsFile, saveWeightsFile, weightsFormatOf } from "../../../interpreter/io/weights.js";
import type { Mode } from "../../../interpreter/reference/interpreter.js";
import { ParamStore } from "../../../interpreter/runtime/params.js";
import { referenceNamesFor, withTiedAliases } from "../../../models/weights-mapping.js";
import { loadWeightsNoted, parseArgs, parseIntOption } from "./run.js";

export interface GradOptions {
  entry: string;
  arg?: string[];
  weights?: string;
  input?: string;
  probe: string;
  out: string;
  mode?: string;
  seed?: string;
  timesteps?: string;
  trainAmplitudes?: boolean;
  keepAmplitudes?: boolean;
  /** commander's negatable `--no-opt`: false runs the reference interpreter's forward. */
  opt?: boolean;
}

/** The probe: a bare tensor, or a file with exactly one tensor (or one named `output`, as `run --out` writes). */
function readProbe(file: string): Tensor {
  let tensors: Map<string, Tensor>;
  if (weightsFormatOf(file) === "json") {
    const json = readJsonFile(file, "probe file");
    if (json && typeof json === "object" && "shape" in json && "data" in json) return parseTensor(json, "probe", file);
    tensors = parseTensorFile(json, file).tensors;
  } else tensors = loadWeightsFile(file).tensors;
  if (tensors.size === 1) return [...tensors.values()][0]!;
  const out = tensors.get("output");
  if (out) return out;
  throw new UserError(`${file}: the probe file holds ${tensors.size} tensors (${[...tensors.keys()].slice(0, 5).join(", ")}); expected one tensor shaped like the output`, { file });
}

export async function gradCommand(file: string, opts: GradOptions): Promise<number> {
  const mode = opts.mode ?? "multi";
  if (mode !== "multi" && mode !== "step") throw new UserError(`--mode is multi or step, found \`${mode}\``);
  if (!/\.(json|safetensors)$/i.test(opts.out)) throw new UserError(`--out ${opts.out}: expected a .json or .safetensors file`);
  const optimize = opts.opt !== false;
  if (optimize) await initSpikeKernels();
  const inputs = opts.input ? readTensorMap(opts.input) : new Map<string, Tensor>();
  const args = parseArgs(opts.arg);
  const timesteps = parseIntOption("--timesteps", opts.timesteps, 1);
  const seed = parseIntOption("--seed", opts.seed, 0) ?? 0;
  const compiled = compileEntry({ file, entry: opts.entry, args, inputs, timesteps });
  const loaded = loadWeightsNoted(compiled, opts.weights, opts);
  const params = ParamStore.create(compiled.graph.params, loaded?.weights, { seed, source: opts.weights });
  const probe = readProbe(opts.probe);
  if (probe.dtype !== "f32") throw new UserError(`${opts.probe}: the probe must be a float32 tensor, found ${probe.dtype}`, { file: opts.probe });
  const bad = findNonFinite(new Map([["probe", probe]]));
  if (bad.length > 0) throw new UserError(`${opts.probe}: the probe has non-finite values (element ${bad[0]!.index} = ${bad[0]!.value})`, { file: opts.probe });

  const engine = new GradientEngine(compiled.graph, params, { optimize, mode: mode as Mode, trainAmplitudes: opts.trainAmplitudes });
  const r = engine.run(inputs, (output) => {
    if (probe.shape.join() !== output.shape.join())
      throw new UserError(`the probe ${opts.probe} has shape ${shapeString(probe.shape)} but the output of \`${opts.entry}\` is ${shapeString(output.shape)}`, { file: opts.probe });
    let loss = 0;
    for (let i = 0; i < output.data.length; i++) loss += output.data[i]! * probe.data[i]!;
    return { loss, gradOutput: probe };
  });

  // names as the weights file used them
  const out = new Map<string, Tensor>();
  const specs = new Map(compiled.graph.params.map((p) => [p.path, p]));
  const mapping = loaded?.mapping;
  for (const [path, g] of r.grads) {
    const spec = specs.get(path)!;
    const names = mapping ? referenceNamesFor(mapping, spec) : undefined;
    if (!names) out.set(path, f32(spec.shape, g));
    else if (spec.kind === "amplitude") names.forEach((n, t) => out.set(n, f32([], [g[t]!])));
    else out.set(names[0]!, f32(spec.shape, g));
  }
  // a tied tensor's gradient under each of its names, as PyTorch reports it for both
  if (mapping) withTiedAliases(out, mapping);
  for (const [name, g] of r.inputGrads) out.set(out.has(name) ? `input.${name}` : name, f32(inputs.get(name)!.shape, g));
  saveWeightsFile(opts.out, out, { "spikelm.grad": `d sum(output * probe) / d parameter; entry ${opts.entry}; names: ${loaded?.mappingApplied ?? "spec paths"}` });
  const weightsN = [...r.grads.keys()].length;
  process.stdout.write(
    `${opts.entry}: sum(output * probe) = ${Number(r.loss!.toPrecision(8))}; gradients of ${weightsN} parameters${r.inputGrads.size ? ` and ${r.inputGrads.size} input${r.inputGrads.size === 1 ? "" : "s"}` : ""} (${optimize ? "optimized" : "reference"} forward, ${mode}-step${opts.trainAmplitudes ? ", amplitudes trained (LSQ)" : ", amplitudes frozen"})\nwrote ${opts.out}\n`,
  );
  return 0;
}
