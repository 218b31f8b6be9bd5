/**
 * What every export target shares: positions in messages, the unsupported-construct error,
 * and preparing a spec for export (compile the entry for the calibration input, build the
 * parameter store from the weights, calibrate amplitudes with one spikelm run).
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Program } from "../../interpreter/checker/program.js";
import { type Compiled, compileEntry } from "../../interpreter/compile.js";
import { copyTensor } from "../../interpreter/engine/tensor.js";
import { OptimizedExecutor } from "../../interpreter/optimized/executor.js";
import { optimize } from "../../interpreter/passes/pass.js";
import { UserError } from "../../interpreter/io/errors.js";
import type { Origin } from "../../interpreter/ir/graph.js";
import { ReferenceInterpreter, type RunResult } from "../../interpreter/reference/interpreter.js";
import { ParamStore } from "../../interpreter/runtime/params.js";
import type { SpecRequest } from "../../interpreter/run.js";

function displayUri(uri: string): string {
  const file = uri.startsWith("file:") ? fileURLToPath(uri) : uri;
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
}

/** `file:line:col` of a span (1-based), for messages. */
export function positionText(uri: string, start: number, program?: Program): string {
  const lines = program?.files.get(uri)?.lines;
  if (!lines) return displayUri(uri);
  const p = lines.position(start);
  return `${displayUri(uri)}:${p.line + 1}:${p.character + 1}`;
}

export function originText(origin: Origin, program?: Program): string {
  return positionText(origin.uri, origin.span.start, program);
}

/** A construct the export target cannot express: named, with its position. */
export class UnsupportedError extends UserError {
  constructor(what: string, origin: Origin | undefined, program: Program | undefined, target = "ONNX") {
    super(`${origin ? `${originText(origin, program)}: ` : ""}cannot export ${what} to ${target}`);
    this.name = "UnsupportedError";
  }
}

export interface PreparedSpec {
  readonly compiled: Compiled;
  readonly params: ParamStore;
  /** spikelm's result on the calibration input (amplitudes calibrated by this run). */
  readonly reference: RunResult;
  /** Amplitude paths calibrated by the run (not given in the weights). */
  readonly calibrated: readonly string[];
}

export interface PrepareRequest extends SpecRequest {
  /** The entry already compiled for these inputs. */
  readonly compiled?: Compiled;
  /**
   * Calibrate on the optimized executor (bit-identical to the reference interpreter, much
   * faster on big models; the spike kernels must be initialised) instead of the reference.
   */
  readonly optimized?: boolean;
}

/**
 * Compiles the entry for the calibration input's shapes, loads the weights (seeded
 * initialisation for the rest) and runs spikelm's reference interpreter once, which
 * calibrates every amplitude not given, as the reference code does on its first call.
 */
export function prepareSpec(req: PrepareRequest): PreparedSpec {
  const compiled = req.compiled ?? compileEntry(req);
  const params = ParamStore.create(compiled.graph.params, req.weights, { seed: req.seed ?? 0, source: req.weightsSource });
  const before = new Set([...params.entries].filter(([, e]) => e.calibrated && !e.calibrated.every(Boolean)).map(([k]) => k));
  let reference: RunResult;
  if (req.optimized) {
    const r = new OptimizedExecutor(optimize(compiled.graph).graph, params).run(req.inputs, { record: true });
    // the executor's output lives in its arena: keep a copy
    reference = { ...r, output: copyTensor(r.output) };
  } else reference = new ReferenceInterpreter(compiled.graph, params).run(req.inputs, { record: true });
  return { compiled, params, reference, calibrated: [...before] };
}
