/**
 * `spikelm run FILE --entry NAME ...`: run a neuron, layer or model on tensors from files.
 * Prints a summary (and firing rates with --record); `--out` writes the output, the recorded
 * spike levels and layer outputs (`--record PATH`, see record.ts) as JSON or safetensors,
 * atomically, only after the whole run succeeded. Weights go through models/load-weights.ts
 * (spec paths or a declared mapping such as the reference checkpoint naming).
 */
import type { Tensor } from "../../../interpreter/engine/tensor.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { readTensorMap } from "../../../interpreter/io/tensor-json.js";
import { type ArgValue, type Compiled, compileEntry } from "../../../interpreter/compile.js";
import type { Mode } from "../../../interpreter/reference/interpreter.js";
import { type LoadedWeights, loadWeightsFor } from "../../../models/load-weights.js";
import { type RecordOption, type RecordRequest, parseRecord, tapLines, writeRunFile } from "./record.js";
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
  /** Bare `--record` (true): every neuron's spikes; paths: taps (see record.ts). */
  record?: RecordOption;
  seed?: string;
  timesteps?: string;
  /** commander's negatable `--no-opt`: false runs the reference interpreter. */
  opt?: boolean;
  /** Keep amplitudes exactly 1.0 in a reference-named weights file. */
  keepAmplitudes?: boolean;
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
  if (raw.trim() === "" || !Number.isSafeInteger(v) || v < min) throw new UserError(`${name} expects a whole number >= ${min}, found \`${raw}\``);
  return v;
}

/**
 * Loads `--weights` for a compiled entry through the one loading path (models/load-weights.ts)
 * and says on stderr which mapping it applied (silent for a file in the spec's own paths).
 */
export function loadWeightsNoted(compiled: Compiled, file: string | undefined, opts: { keepAmplitudes?: boolean } = {}): LoadedWeights | undefined {
  if (!file) return undefined;
  const loaded = loadWeightsFor(compiled, file, { keepAmplitudes: opts.keepAmplitudes });
  noteWeights(loaded);
  return loaded;
}

/** The one stderr line about a weights file, when a mapping was applied. */
export function noteWeights(loaded: LoadedWeights | undefined): void {
  if (loaded?.mapping) process.stderr.write(`${loaded.summary}\n`);
}

function rateRows(record: ReadonlyMap<string, NeuronRecord>): (string | number)[][] {
  return [...record].map(([path, r]) => {
    const d = r.levels.data;
    const { pos, neg } = countSigns(d);
    return [path, (pos + neg) / d.length, pos / d.length, neg / d.length];
  });
}

export interface PreparedRun {
  readonly compiled: Compiled;
  readonly inputs: Map<string, Tensor>;
  readonly args: Record<string, ArgValue>;
  readonly loaded?: LoadedWeights;
  readonly seed: number;
  readonly timesteps?: number;
  readonly record: RecordRequest;
}

/** Everything `run` (and `run --report`) checks before running: options, inputs, spec, taps, weights. */
export function prepareRun(file: string, opts: RunOptions): PreparedRun {
  const mode = opts.mode ?? "multi";
  if (mode !== "multi" && mode !== "step") throw new UserError(`--mode is multi or step, found \`${mode}\``);
  const record = parseRecord(opts.record);
  const inputs = opts.input ? readTensorMap(opts.input) : new Map<string, Tensor>();
  const args = parseArgs(opts.arg);
  const timesteps = parseIntOption("--timesteps", opts.timesteps, 1);
  const seed = parseIntOption("--seed", opts.seed, 0) ?? 0;
  const compiled = compileEntry({ file, entry: opts.entry, args, inputs, timesteps, taps: record.taps });
  const loaded = loadWeightsNoted(compiled, opts.weights, opts);
  return { compiled, inputs, args, loaded, seed, timesteps, record };
}

export async function runCommand(file: string, opts: RunOptions, prepared?: PreparedRun): Promise<number> {
  if (opts.opt !== false) await initSpikeKernels();
  const mode = opts.mode ?? "multi";
  const p = prepared ?? prepareRun(file, opts);
  const r = runSpec({
    file,
    entry: opts.entry,
    args: p.args,
    inputs: p.inputs,
    compiled: p.compiled,
    weights: p.loaded?.weights,
    weightsSource: opts.weights,
    seed: p.seed,
    timesteps: p.timesteps,
    mode: mode as Mode,
    record: p.record.all,
    taps: p.record.taps,
    optimize: opts.opt !== false,
  });
  if (opts.out) writeRunFile(opts.out, new Map([["output", r.output]]), r.record, r.taps);
  const o = r.output;
  const preview = Array.from(o.data.slice(0, 6), (v) => Number(v.toPrecision(6))).join(", ");
  process.stdout.write(`${opts.entry}: output ${o.dtype}[${o.shape.join(", ")}] = [${preview}${o.data.length > 6 ? ", ..." : ""}] (T = ${r.compiled.graph.timesteps}, ${mode}-step)\n`);
  if (r.record.size > 0) process.stdout.write(`${renderTable(["neuron", "rate", "rate +1", "rate -1"], rateRows(r.record))}\n`);
  if (r.taps.size > 0) process.stdout.write(`recorded layer outputs:\n${tapLines(r.taps)}\n`);
  if (opts.out) process.stdout.write(`wrote ${opts.out}\n`);
  return 0;
}
