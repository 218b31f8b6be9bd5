/**
 * `--record [PATH]` (run, encode) and the files a run writes with `--out`.
 *
 * Bare `--record`: every neuron's spike levels (`record.<neuron path>.spikes`). `--record PATH`
 * (repeatable; `*` inside a path segment, `**` across segments, see interpreter/taps.ts): the
 * output of each matching layer (`record.<layer path>.output`, [T, ...] inside the time loop)
 * and the spikes of each matching neuron. Both together: all spikes plus the taps.
 *
 * `--out` is JSON (`{"output": tensor, "record": {path: {"spikes" | "output": tensor}}}`) or,
 * for a `.safetensors` file, the same tensors flat: `output`, `record.<path>.spikes`,
 * `record.<path>.output`.
 */
import type { Tensor } from "../../../interpreter/engine/tensor.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { saveWeightsFile } from "../../../interpreter/io/weights.js";
import { tensorToJson, writeJson } from "../../../interpreter/io/tensor-json.js";
import type { NeuronRecord } from "../../../interpreter/reference/interpreter.js";

/** What commander gives for `--record [path]` with `collectRecord`. */
export type RecordOption = boolean | string[] | undefined;

/** The marker `collectRecord` keeps for a bare `--record` given next to paths. */
const ALL = "\u0000all";

/** commander's parser for `--record [path]`: bare is `true`; paths accumulate (a bare one before them is kept). */
export function collectRecord(v: string, prev: RecordOption): string[] {
  return [...(Array.isArray(prev) ? prev : prev === true ? [ALL] : []), v];
}

export interface RecordRequest {
  /** Every neuron's spikes (bare `--record`). */
  readonly all: boolean;
  /** Tap patterns. */
  readonly taps: string[];
}

export function parseRecord(opt: RecordOption): RecordRequest {
  if (opt === undefined || opt === false) return { all: false, taps: [] };
  if (opt === true) return { all: true, taps: [] };
  return { all: opt.includes(ALL), taps: opt.filter((p) => p !== ALL) };
}

/** Output formats by extension; anything else is refused before the run. */
export function checkOutFile(file: string | undefined): void {
  if (file !== undefined && !/\.(json|safetensors)$/i.test(file)) throw new UserError(`--out ${file}: expected a .json or .safetensors file`);
}

/**
 * Writes the run's tensors (`outputs`: top-level names such as `output`), recorded spikes and
 * taps to `file`, atomically (JSON or safetensors by extension).
 */
export function writeRunFile(file: string, outputs: ReadonlyMap<string, Tensor>, record: ReadonlyMap<string, NeuronRecord>, taps: ReadonlyMap<string, Tensor>): void {
  if (file.toLowerCase().endsWith(".safetensors")) {
    const flat = new Map<string, Tensor>(outputs);
    for (const [k, r] of record) flat.set(`record.${k}.spikes`, r.levels);
    for (const [k, t] of taps) flat.set(`record.${k}.output`, t);
    saveWeightsFile(file, flat);
    return;
  }
  const rec: Record<string, Record<string, unknown>> = {};
  for (const [k, r] of record) rec[k] = { spikes: tensorToJson(r.levels) };
  for (const [k, t] of taps) rec[k] = { ...rec[k], output: tensorToJson(t) };
  const out: Record<string, unknown> = Object.fromEntries([...outputs].map(([k, t]) => [k, tensorToJson(t)]));
  if (record.size > 0 || taps.size > 0) out.record = rec;
  writeJson(file, out);
}

/** One line per tap for the terminal: path and shape. */
export function tapLines(taps: ReadonlyMap<string, Tensor>): string {
  return [...taps].map(([k, t]) => `  record.${k}.output ${t.dtype}[${t.shape.join(", ")}]`).join("\n");
}
