/**
 * Running a spec in one call: compile the entry for the given inputs, build its parameter
 * store from the weights (seeded initialisation for anything not given), and interpret.
 * The CLI, `npm start` and the tests all go through here.
 */
import { type ArgValue, type Compiled, compileEntry } from "./compile.js";
import type { Program } from "./checker/program.js";
import type { Tensor } from "./engine/tensor.js";
import { type Mode, ReferenceInterpreter, type RunResult } from "./reference/interpreter.js";
import { ParamStore } from "./runtime/params.js";
import { optimize } from "./passes/pass.js";
import { OptimizedExecutor } from "./optimized/executor.js";
import { copyTensor } from "./engine/tensor.js";
import { basePath } from "./taps.js";

/** An entry of a spec with its inputs and weights (seeded initialisation for the rest). */
export interface SpecRequest {
  readonly file: string;
  readonly entry: string;
  readonly args?: Readonly<Record<string, ArgValue>>;
  readonly inputs: ReadonlyMap<string, Tensor>;
  readonly weights?: ReadonlyMap<string, Tensor>;
  readonly weightsSource?: string;
  readonly seed?: number;
  readonly timesteps?: number;
  readonly program?: Program;
}

export interface RunSpecRequest extends SpecRequest {
  readonly mode?: Mode;
  readonly record?: boolean;
  /** With `record`: also record each neuron's state per step (reference interpreter only). */
  readonly recordStates?: boolean;
  /** Reuse a parameter store (e.g. calibrated amplitudes from an earlier call). */
  readonly params?: ParamStore;
  /** Run the optimized graph on the optimized executor (default) or the reference interpreter. */
  readonly optimize?: boolean;
  /**
   * `--record PATH` patterns (interpreter/taps.ts): matching layer outputs come back in `taps`,
   * matching neurons' spikes in `record` (all neurons' spikes with `record: true`).
   */
  readonly taps?: readonly string[];
  /** The entry already compiled (e.g. to load weights against it), with the same `taps`. */
  readonly compiled?: Compiled;
  /** Filled in with the wall time of each stage this call runs (`spikelm classify --timings`). */
  readonly timings?: RunTimings;
}

/** Wall milliseconds per stage of a run; a stage the call did not run stays undefined. */
export interface RunTimings {
  /** Checking and elaborating the spec (compileEntry). */
  compile?: number;
  /** The optimization passes. */
  optimize?: number;
  /** The parameter store: weights given, the rest seeded. */
  params?: number;
  /** Planning the executor and running it (first-call work included: calibration, packing). */
  forward?: number;
}

/** Runs `f`, adding its wall time to `timings[stage]` when timings are kept. */
export function timed<K extends string, R>(timings: { [k in K]?: number } | undefined, stage: K, f: () => R): R {
  if (!timings) return f();
  const t0 = performance.now();
  try {
    return f();
  } finally {
    timings[stage] = (timings[stage] ?? 0) + (performance.now() - t0);
  }
}

export interface RunSpecResult extends RunResult {
  readonly compiled: Compiled;
  readonly params: ParamStore;
  /** Recorded layer outputs by instance path (`path#2` for a layer's second call). */
  readonly taps: Map<string, Tensor>;
}

export function runSpec(req: RunSpecRequest): RunSpecResult {
  const { timings } = req;
  const compiled = req.compiled ?? timed(timings, "compile", () => compileEntry(req));
  const params = req.params ?? timed(timings, "params", () => ParamStore.create(compiled.graph.params, req.weights, { seed: req.seed ?? 0, source: req.weightsSource }));
  // Neurons selected by --record patterns are recorded like all of them, then filtered.
  const record = req.record === true || compiled.tappedNeurons.size > 0;
  const keep = (r: RunResult) => (req.record === true ? r.record : new Map([...r.record].filter(([k]) => compiled.tappedNeurons.has(basePath(k)))));
  if (req.optimize === false) {
    const result = timed(timings, "forward", () => new ReferenceInterpreter(compiled.graph, params).run(req.inputs, { mode: req.mode, record, recordStates: req.recordStates }));
    return { ...result, record: keep(result), taps: result.taps ?? new Map(), compiled, params };
  }
  if (req.recordStates) throw new Error("internal: neuron states are recorded by the reference interpreter only (optimize: false)");
  const { graph } = timed(timings, "optimize", () => optimize(compiled.graph));
  const r = timed(timings, "forward", () => new OptimizedExecutor(graph, params).run(req.inputs, { mode: req.mode, record }));
  // The executor's output lives in its arena; hand the caller its own copy.
  const output = copyTensor(r.output);
  return { output, record: keep(r), taps: r.taps ?? new Map(), compiled, params };
}
