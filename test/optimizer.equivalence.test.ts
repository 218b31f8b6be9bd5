/**
 * The optimizer's contract, as properties over randomly generated specs: the optimized
 * executor computes exactly what the reference interpreter computes (outputs and every
 * neuron's spikes, bit for bit, including -0 and NaN), in both execution modes, on the first
 * call (amplitude calibration) and on later calls (compiled neuron kernels); step-by-step
 * equals multi-step; every pass keeps the IR valid and keeps each node's type.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import type { Tensor } from "../interpreter/engine/tensor.js";
import type { Graph } from "../interpreter/ir/graph.js";
import { validateGraph } from "../interpreter/ir/validate.js";
import { OptimizedExecutor } from "../interpreter/optimized/executor.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ReferenceInterpreter, type RunResult } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { typeToString } from "../interpreter/types/tensor-type.js";
import { type GeneratedSpec, specArb } from "./generators/spec-gen.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-gen-"));
let counter = 0;

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function expectSame(a: RunResult, b: RunResult, what: string): void {
  expect(a.output.shape, what).toEqual(b.output.shape);
  expect(sameValues(a.output.data, b.output.data), `${what}: output`).toBe(true);
  expect([...a.record.keys()], what).toEqual([...b.record.keys()]);
  for (const [k, r] of a.record) expect(sameValues(r.levels.data, b.record.get(k)!.levels.data), `${what}: spikes of ${k}`).toBe(true);
}

function compileGenerated(g: GeneratedSpec): Graph {
  const file = path.join(dir, `gen${counter++}.spk`);
  fs.writeFileSync(file, g.text);
  return compileEntry({ file, entry: g.entry, inputs: g.inputs }).graph;
}

function runAll(graph: Graph, optimized: Graph, inputs: ReadonlyMap<string, Tensor>, seed: number) {
  const out: Record<string, RunResult[]> = {};
  for (const mode of ["multi", "step"] as const) {
    const ref = new ReferenceInterpreter(graph, ParamStore.create(graph.params, new Map(), { seed }));
    const opt = new OptimizedExecutor(optimized, ParamStore.create(optimized.params, new Map(), { seed }));
    // Two calls each: the first calibrates amplitudes, the second runs the compiled kernels.
    out[`ref-${mode}`] = [ref.run(inputs, { mode, record: true }), ref.run(inputs, { mode, record: true })];
    out[`opt-${mode}`] = [opt.run(inputs, { mode, record: true }), copy(opt.run(inputs, { mode, record: true }))];
    out[`opt-${mode}`]![0] = copy(out[`opt-${mode}`]![0]!);
  }
  return out;
}

/** The executor's output is a view of its arena: copy before the next call. */
function copy(r: RunResult): RunResult {
  return { ...r, output: { ...r.output, data: r.output.data.slice() } as Tensor };
}

describe("optimized executor equals the reference interpreter", () => {
  it("on generated specs, in both modes, first and later calls", () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 0, max: 1000 }), (g, seed) => {
        const graph = compileGenerated(g);
        const { graph: optimized } = optimize(graph);
        const r = runAll(graph, optimized, g.inputs, seed);
        for (const call of [0, 1]) {
          const base = r["ref-multi"]![call]!;
          expectSame(base, r["ref-step"]![call]!, `${g.description}: reference step vs multi, call ${call}`);
          expectSame(base, r["opt-multi"]![call]!, `${g.description}: optimized multi, call ${call}`);
          expectSame(base, r["opt-step"]![call]!, `${g.description}: optimized step, call ${call}`);
        }
      }),
      { numRuns: 60, seed: 20261128 },
    );
  });

  it("every pass keeps the IR valid, each node's type, and the reference results", () => {
    fc.assert(
      fc.property(specArb, (g) => {
        const graph = compileGenerated(g);
        expect(validateGraph(graph)).toEqual([]);
        const { log } = optimize(graph);
        const base = new ReferenceInterpreter(graph, ParamStore.create(graph.params, new Map(), { seed: 1 })).run(g.inputs, { record: true });
        let prev = graph;
        for (const step of log) {
          expect(validateGraph(step.graph), `after ${step.pass}`).toEqual([]);
          const before = new Map(prev.nodes.map((n) => [n.id, typeToString(n.type)]));
          for (const n of step.graph.nodes) if (before.has(n.id)) expect(typeToString(n.type), `after ${step.pass}: %${n.id}`).toBe(before.get(n.id));
          const r = new ReferenceInterpreter(step.graph, ParamStore.create(step.graph.params, new Map(), { seed: 1 })).run(g.inputs, { record: true });
          expectSame(base, r, `${g.description}: reference run after ${step.pass}`);
          prev = step.graph;
        }
      }),
      { numRuns: 30, seed: 7 },
    );
  });
});
