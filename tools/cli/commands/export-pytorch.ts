/**
 * `spikelm export ... --to pytorch -o model.py`: the module (tools/export/pytorch.ts) and,
 * next to it, `train_ddp.py` (tools/export/train-ddp.ts) that trains it under torchrun.
 */
import * as path from "node:path";
import { resolveEntry } from "../../../interpreter/compile.js";
import type { Tensor } from "../../../interpreter/engine/tensor.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { readTensorMap } from "../../../interpreter/io/tensor-json.js";
import { exportPytorch } from "../../export/pytorch.js";
import { synthesizeInputs } from "../../export/shapes.js";
import { trainDdpScript } from "../../export/train-ddp.js";
import { MAPPINGS } from "../../../models/spikelm/mapping.js";
import type { ExportOptions } from "./export.js";
import { writeFilesAtomically } from "./export.js";
import { parseArgs, parseIntOption } from "./run.js";

/** Which reference mapping fits an entry (the spikelm models follow the authors' code). */
const REFERENCE_MAPPING: Readonly<Record<string, string>> = {
  SpikeLMEncoder: "spikelm-encoder",
  SpikeLMForMaskedLM: "spikelm-mlm",
  SpikeLMForMaskedLMUntied: "spikelm-mlm-untied",
  SpikeLMForSequenceClassification: "spikelm-classifier",
  SpikeLMDecoder: "spikelm-decoder",
};

export function exportPytorchCommand(file: string, opts: ExportOptions, out: string, names: string): number {
  // train_ddp.py imports the module by its file name
  const moduleName = path.basename(out).replace(/\.py$/, "");
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(moduleName) || !out.endsWith(".py"))
    throw new UserError(`-o ${out}: the file name must be a Python module name (letters, digits, _) ending in .py`);
  const args = parseArgs(opts.arg);
  const timesteps = parseIntOption("--timesteps", opts.timesteps, 1);
  let inputs: Map<string, Pick<Tensor, "shape" | "dtype">>;
  if (opts.input) inputs = readTensorMap(opts.input);
  else {
    const { decl } = resolveEntry(file, opts.entry);
    inputs = synthesizeInputs(decl, args, timesteps);
  }
  // the authors' naming table, when the entry follows the reference code: used for
  // state_dict() keys with --names reference, and by load_weights() to read either naming
  const m = MAPPINGS.get(REFERENCE_MAPPING[opts.entry] ?? "");
  if (names === "reference" && !m)
    throw new UserError(`--names reference: \`${opts.entry}\` does not follow the reference code (the authors' naming exists for ${Object.keys(REFERENCE_MAPPING).join(", ")})`);
  const referenceNames = m ? { rows: m.rows.map(([r, s]) => [r, s] as [string, string]), ignored: [...m.ignored, ...(m.tied ?? []).map(([alias, primary]) => [alias, `tied: the same tensor as ${primary}`] as const)].map(([r, why]) => [r, why] as [string, string]), name: m.name } : undefined;
  const naming = names === "reference" ? "reference" : "spec";
  const ex = exportPytorch({ file, entry: opts.entry, args, inputs, timesteps, referenceNames, naming });
  // the training script fits the task entries: a language model (ids) or a classifier (ids, types, mask)
  const takes = ex.inputs.map((i) => i.name).join(",");
  const trains = takes === "ids" || takes === "ids,types,mask";
  const trainer = path.join(path.dirname(out), "train_ddp.py");
  writeFilesAtomically([
    { path: out, data: ex.code },
    ...(trains ? [{ path: trainer, data: trainDdpScript({ module: moduleName, inputs: ex.inputs, referenceNames: naming === "reference" }) }] : []),
  ]);
  process.stdout.write(
    `${opts.entry} → ${out}: class ${ex.className}, ${ex.code.split("\n").length} lines, T = ${ex.timesteps}${naming === "reference" ? `, state_dict in the authors' naming (${referenceNames!.name})` : ""}\n` +
      (trains
        ? `  training script: ${trainer} (torchrun --nproc_per_node=N ${path.basename(trainer)} --help)\n`
        : `  no train_ddp.py: \`${opts.entry}\` takes ${takes}, not token ids (a language model takes ids; a classifier ids, types, mask)\n`),
  );
  return 0;
}
