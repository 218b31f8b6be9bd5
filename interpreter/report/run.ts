/**
 * A forward run with an operation and spike report: compiles the spec, runs the reference
 * interpreter in multi-step mode with the `observe` hook and spike recording, and builds
 * the report (see counts.ts for what is counted). The reference interpreter and the
 * optimized executor compute the same spikes bit for bit, so the counts hold for both.
 */
import { compileEntry } from "../compile.js";
import { numel, type Tensor } from "../engine/tensor.js";
import type { Program } from "../checker/program.js";
import type { IRNode } from "../ir/graph.js";
import { ReferenceInterpreter } from "../reference/interpreter.js";
import type { RunSpecRequest, RunSpecResult } from "../run.js";
import { ParamStore } from "../runtime/params.js";
import { OpCounter, type SpikeReport } from "./counts.js";

export interface ReportRunRequest extends Omit<RunSpecRequest, "mode" | "optimize" | "record"> {
  /** Name shown in the report (default: the entry). */
  readonly model?: string;
  /** Tokens the input holds (default: from the first input, see `tokensOf`). */
  readonly tokens?: number;
  /** Called after each op of the observed run (ops done, ops in all), for progress bars. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ReportRunResult extends RunSpecResult {
  readonly report: SpikeReport;
}

/**
 * Tokens in an input: an integer tensor's element count (ids [B, L]); for a float input,
 * its element count over the feature axis (and the time axis when timed).
 */
function tokensOf(inputs: ReadonlyMap<string, Tensor>, timesteps: number, timed: boolean): number {
  const first = [...inputs.values()][0];
  if (!first) return 1;
  if (first.dtype === "i32") return numel(first.shape);
  const features = first.shape[first.shape.length - 1] ?? 1;
  return numel(first.shape) / features / (timed ? timesteps : 1);
}

export function runWithReport(req: ReportRunRequest): ReportRunResult {
  const compiled = req.compiled ?? compileEntry(req);
  const { graph, program } = compiled;
  const params = req.params ?? ParamStore.create(graph.params, req.weights, { seed: req.seed ?? 0, source: req.weightsSource });
  const counter = new OpCounter(graph, (node) => locate(program, node));
  const total = graph.nodes.length;
  let done = 0;
  const observe: typeof counter.observe = (node, inputs, output) => {
    counter.observe(node, inputs, output);
    req.onProgress?.(++done, total);
  };
  const r = new ReferenceInterpreter(graph, params).run(req.inputs, { mode: "multi", record: true, observe });
  const firstInput = graph.nodes.find((n) => n.op === "input");
  const tokens = req.tokens ?? tokensOf(req.inputs, graph.timesteps, firstInput?.type.timed ?? false);
  const report = counter.finish(r.record, { model: req.model ?? req.entry, tokens });
  return { ...r, taps: r.taps ?? new Map(), compiled, params, report };
}

/** `file:line:col` of an op's source, for tables. */
function locate(program: Program, node: IRNode): string {
  const o = node.origin;
  const file = o && program.files.get(o.uri);
  if (!o || !file) return "?";
  const lc = file.lines.position(o.span.start);
  return `${file.uri.replace(/^.*[\\/]/, "")}:${lc.line + 1}:${lc.character + 1}`;
}
