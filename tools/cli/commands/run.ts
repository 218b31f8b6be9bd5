/**
 * `spikelm run FILE --entry NAME ...`: run a neuron, layer or model on tensors from files.
 * Prints a summary (and firing rates with --record); `--out` writes the output (and the
 * recorded spike levels) as JSON, atomically, only after the whole run succeeded.
 */
import type { Tensor } from "../../../interpreter/engine/tensor.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { readTensorMap, tensorToJson, writeJson } from "../../../interpreter/io/tensor-json.js";
import { findNonFinite, loadWeightsFile } from "../../../interpreter/io/weights.js";
import type { ArgValue } from "../../../interpreter/compile.js";
import { runSpec } from "../../../interpreter/run.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { renderTable } from "../table.js";
import { countSigns } from "../../../interpreter/report/counts.js";
import type { NeuronRecord } from "../../../interpreter/reference/interpreter.js";

export interface RunOptions {
  entry: string;
  arg?: string[];
  weights?: string;
  input?: string;
  out?: string;
  mode?: string;
  record?: boolean;
  seed?: string;
  timesteps?: string;
  /** commander's negatable `--no-opt`: false runs the reference interpreter. */
  opt?: boolean;
}

export function parseArgs(pairs: readonly string[] = []): Record<string, ArgValue> {
  const out: Record<string, ArgValue> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new UserError(`--arg expects name=value, found \`${p}\``);
    const name = p.slice(0, eq).trim();
    const raw = p.slice(eq + 1).trim();
    if (raw === "true" || raw === "false") out[name] = raw === "true";
    else {
      const v = Number(raw);
      if (raw === "" || !Number.isFinite(v)) throw new UserError(`--arg ${name}: expected a number or true/false, found \`${raw}\``);
      out[name] = v;
    }
  }
  return out;
}

export function parseIntOption(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new UserError(`${name} expects a whole number >= ${min}, found \`${raw}\``);
  return v;
}

export function loadWeights(file: string | undefined): Map<string, Tensor> | undefined {
  if (!file) return undefined;
  const { tensors } = loadWeightsFile(file);
  const bad = findNonFinite(tensors);
  if (bad.length > 0)
    throw new UserError(`${file}: weights contain non-finite values: ${bad.slice(0, 5).map((b) => `"${b.name}"[${b.index}] = ${b.value}`).join(", ")}${bad.length > 5 ? ", ..." : ""}`, { file });
  return tensors;
}

export function rateRows(record: ReadonlyMap<string, NeuronRecord>): (string | number)[][] {
  return [...record].map(([path, r]) => {
    const d = r.levels.data;
    const { pos, neg } = countSigns(d);
    return [path, (pos + neg) / d.length, pos / d.length, neg / d.length];
  });
}

export async function runCommand(file: string, opts: RunOptions): Promise<number> {
  if (opts.opt !== false) await initSpikeKernels();
  const mode = opts.mode ?? "multi";
  if (mode !== "multi" && mode !== "step") throw new UserError(`--mode is multi or step, found \`${mode}\``);
  const inputs = opts.input ? readTensorMap(opts.input) : new Map<string, Tensor>();
  const weights = loadWeights(opts.weights);
  const r = runSpec({
    file,
    entry: opts.entry,
    args: parseArgs(opts.arg),
    inputs,
    weights,
    weightsSource: opts.weights,
    seed: parseIntOption("--seed", opts.seed, 0) ?? 0,
    timesteps: parseIntOption("--timesteps", opts.timesteps, 1),
    mode,
    record: opts.record,
    optimize: opts.opt !== false,
  });
  if (opts.out) {
    const out: Record<string, unknown> = { output: tensorToJson(r.output) };
    if (opts.record) out.record = Object.fromEntries([...r.record].map(([k, v]) => [k, { spikes: tensorToJson(v.levels) }]));
    writeJson(opts.out, out);
  }
  const o = r.output;
  const preview = Array.from(o.data.slice(0, 6), (v) => Number(v.toPrecision(6))).join(", ");
  process.stdout.write(`${opts.entry}: output ${o.dtype}[${o.shape.join(", ")}] = [${preview}${o.data.length > 6 ? ", ..." : ""}] (T = ${r.compiled.graph.timesteps}, ${mode}-step)\n`);
  if (opts.record && r.record.size > 0) process.stdout.write(`${renderTable(["neuron", "rate", "rate +1", "rate -1"], rateRows(r.record))}\n`);
  if (opts.out) process.stdout.write(`wrote ${opts.out}\n`);
  return 0;
}
