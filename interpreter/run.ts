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
import { f32, i32 } from "./engine/tensor.js";

export interface RunSpecRequest {
  readonly file: string;
  readonly entry: string;
  readonly args?: Readonly<Record<string, ArgValue>>;
  readonly inputs: ReadonlyMap<string, Tensor>;
  readonly weights?: ReadonlyMap<string, Tensor>;
  readonly weightsSource?: string;
  readonly seed?: number;
  readonly mode?: Mode;
  readonly record?: boolean;
  /** With `record`: also record each neuron's state per step (reference interpreter only). */
  readonly recordStates?: boolean;
  readonly timesteps?: number;
  readonly program?: Program;
  /** Reuse a parameter store (e.g. calibrated amplitudes from an earlier call). */
  readonly params?: ParamStore;
  /** Run the optimized graph on the optimized executor (default) or the reference interpreter. */
  readonly optimize?: boolean;
}

export interface RunSpecResult extends RunResult {
  readonly compiled: Compiled;
  readonly params: ParamStore;
}

export function runSpec(req: RunSpecRequest): RunSpecResult {
  const compiled = compileEntry(req);
  const params = req.params ?? ParamStore.create(compiled.graph.params, req.weights, { seed: req.seed ?? 0, source: req.weightsSource });
  if (req.optimize === false) {
    const result = new ReferenceInterpreter(compiled.graph, params).run(req.inputs, { mode: req.mode, record: req.record, recordStates: req.recordStates });
    return { ...result, compiled, params };
  }
  if (req.recordStates) throw new Error("internal: neuron states are recorded by the reference interpreter only (optimize: false)");
  const { graph } = optimize(compiled.graph);
  const r = new OptimizedExecutor(graph, params).run(req.inputs, { mode: req.mode, record: req.record });
  // The executor's output lives in its arena; hand the caller its own copy.
  const o = r.output;
  const output = o.dtype === "i32" ? i32(o.shape, Int32Array.from(o.data)) : f32(o.shape, Float32Array.from(o.data));
  return { output, record: r.record, compiled, params };
}
