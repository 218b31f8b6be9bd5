/**
 * A forward run with an operation and spike report: compiles the spec, runs it with spike
 * recording, and builds the report (see counts.ts for what is counted).
 *
 * On the optimized executor (the default) the spec's graph runs optimized and the counter
 * walks the spec's own graph from its shapes, taking the nonzero count of each spike
 * operand from the executor's trace (passes keep node ids; a transpose the spike-accumulate
 * pass absorbed has its input's count). On the reference interpreter (`optimize: false`)
 * the counter observes every op's values. Both give the same report (test/report.counts.test.ts).
 */
import { compileEntry } from "../compile.js";
import { numel, type Tensor } from "../engine/tensor.js";
import type { Program } from "../checker/program.js";
import type { IRNode } from "../ir/graph.js";
import { ReferenceInterpreter, type RunResult } from "../reference/interpreter.js";
import { OptimizedExecutor } from "../optimized/executor.js";
import { optimize } from "../passes/pass.js";
import type { RunSpecRequest, RunSpecResult } from "../run.js";
import { ParamStore } from "../runtime/params.js";
import { OpCounter, type SpikeReport } from "./counts.js";

export interface ReportRunRequest extends Omit<RunSpecRequest, "mode" | "record"> {
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
  let r: RunResult;
  if (req.optimize === false) {
    const total = graph.nodes.length;
    let done = 0;
    const observe: typeof counter.observe = (node, inputs, output) => {
      counter.observe(node, inputs, output);
      req.onProgress?.(++done, total);
    };
    r = new ReferenceInterpreter(graph, params).run(req.inputs, { mode: "multi", record: true, observe });
  } else {
    const optimized = optimize(graph).graph;
    const total = optimized.nodes.length;
    let done = 0;
    const wanted = spikeOperands(graph);
    const nonzeros = new Map<number, number>();
    const exec = new OptimizedExecutor(optimized, params);
    try {
      r = exec.run(req.inputs, {
      record: true,
      trace: (node, value) => {
        if (wanted.has(node.id)) nonzeros.set(node.id, countNonzero(value));
          req.onProgress?.(++done, total);
        },
      });
    } finally {
      exec.release();
    }
    const byId = new Map(graph.nodes.map((n) => [n.id, n]));
    const nonzerosOf = (id: number): number => {
      const seen = nonzeros.get(id);
      if (seen !== undefined) return seen;
      const n = byId.get(id)!;
      // Absorbed into a spike kernel's form: the same elements, permuted.
      if (n.op === "transpose") return nonzerosOf(n.inputs[0]!);
      throw new Error(`internal: no value of the spike operand %${id} (${n.op}) in the optimized run`);
    };
    counter.countFromShapes(nonzerosOf);
  }
  const firstInput = graph.nodes.find((n) => n.op === "input");
  const tokens = req.tokens ?? tokensOf(req.inputs, graph.timesteps, firstInput?.type.timed ?? false);
  const report = counter.finish(r.record, { model: req.model ?? req.entry, tokens });
  return { ...r, taps: r.taps ?? new Map(), compiled, params, report };
}

/** The left or right operands of the spike matmuls, and the layout ops and levels they come from. */
function spikeOperands(graph: RunSpecResult["compiled"]["graph"]): Set<number> {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const out = new Set<number>();
  for (const n of graph.nodes) {
    if (n.op !== "matmul" || (n.attrs.spike ?? "none") === "none") continue;
    const sides = n.attrs.spike === "right" ? [1] : [0];
    for (const s of sides) {
      let cur = byId.get(n.inputs[s]!);
      while (cur && !out.has(cur.id)) {
        out.add(cur.id);
        cur = ["transpose", "reshape", "split_heads", "merge_heads", "index"].includes(cur.op) ? byId.get(cur.inputs[0]!) : undefined;
      }
    }
  }
  return out;
}

function countNonzero(t: Tensor): number {
  let c = 0;
  for (let i = 0; i < t.data.length; i++) if (t.data[i] !== 0) c++;
  return c;
}

/** `file:line:col` of an op's source, for tables. */
function locate(program: Program, node: IRNode): string {
  const o = node.origin;
  const file = o && program.files.get(o.uri);
  if (!o || !file) return "?";
  const lc = file.lines.position(o.span.start);
  return `${file.uri.replace(/^.*[\\/]/, "")}:${lc.line + 1}:${lc.character + 1}`;
}
