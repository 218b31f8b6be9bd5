/**
 * The optimizer's contract, as properties over randomly generated specs: the optimized
 * executor computes exactly what the reference interpreter computes (outputs and every
 * neuron's spikes and amplitudes, bit for bit, including -0 and NaN), in both execution
 * modes, on the first call (amplitude calibration) and on later calls (compiled neuron
 * kernels), on every spike-accumulate backend the executor can use (JS event-driven and
 * dense-ternary, WebAssembly SIMD both variants, with one thread and with a worker, and the
 * automatic choice), with neuron steps in generated JavaScript and on the WebAssembly SIMD
 * vector machine (one thread and two); step-by-step equals multi-step; every pass keeps the IR valid and keeps
 * each node's type. Specs come from several templates (test/generators/spec-gen.ts), inputs
 * from interpreter/verify/arbitraries.ts: finite edge values in one run, NaN and ±Infinity
 * in another. A third run takes neurons with levels beyond ±1 multiplied with a ternary
 * neuron's spikes on either side (the kernels take ternary levels only: such operands must
 * stay float).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { initSpikeKernels, shutdownKernelPool, spikeKernelCalls } from "../interpreter/engine/kernels/spike-matmul.js";
import { setNumericsThreadMin } from "../interpreter/engine/kernels/wasm-numerics.js";
import { setVecTuning } from "../interpreter/engine/kernels/wasm-vector.js";
import type { Tensor } from "../interpreter/engine/tensor.js";
import type { Graph } from "../interpreter/ir/graph.js";
import { validateGraph } from "../interpreter/ir/validate.js";
import { type ExecutorOptions, OptimizedExecutor } from "../interpreter/optimized/executor.js";
import { setFusedWasmMin } from "../interpreter/optimized/fused-wasm.js";
import { wasmNeuronStats } from "../interpreter/optimized/neuron-wasm.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ReferenceInterpreter, type RunResult } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { typeToString } from "../interpreter/types/tensor-type.js";
import { runDifference } from "../interpreter/verify/compare.js";
import { availablePaths } from "../interpreter/verify/paths.js";
import { type GeneratedSpec, mixedLevelsSpecArb, specArb, specArbWith } from "./generators/spec-gen.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-gen-"));
let counter = 0;

/** Output, every neuron's spikes and amplitudes, and taps, bit for bit (interpreter/verify/compare.ts, as `spikelm verify` compares). */
function expectSame(a: RunResult, b: RunResult, what: string): void {
  expect(runDifference(a, b), what).toBeUndefined();
}

function compileGenerated(g: GeneratedSpec): Graph {
  const file = path.join(dir, `gen${counter++}.spk`);
  fs.writeFileSync(file, g.text);
  return compileEntry({ file, entry: g.entry, inputs: g.inputs }).graph;
}

/**
 * Every spike-accumulate backend, variant and thread count the executor can run (the paths
 * `spikelm verify` compares): WebAssembly with a worker (beforeAll checks both), and the
 * native ones where the addon loads (test/engine.native.test.ts reports it skipped, with the
 * reason, where it does not).
 */
const KERNELS = availablePaths({ wasm: true, threads: 2 });

const params = (g: Graph, spec: GeneratedSpec, seed: number) => ParamStore.create(g.params, spec.weights, { seed });

/** Reference in both modes, two calls each (the first calibrates amplitudes). */
function runReference(graph: Graph, spec: GeneratedSpec, seed: number): Record<"multi" | "step", RunResult[]> {
  const out = {} as Record<"multi" | "step", RunResult[]>;
  for (const mode of ["multi", "step"] as const) {
    const ref = new ReferenceInterpreter(graph, params(graph, spec, seed));
    out[mode] = [ref.run(spec.inputs, { mode, record: true }), ref.run(spec.inputs, { mode, record: true })];
  }
  return out;
}

/** The optimized executor with one kernel choice, both modes, two calls each. */
function runOptimized(optimized: Graph, spec: GeneratedSpec, seed: number, kernels: ExecutorOptions): Record<"multi" | "step", RunResult[]> {
  const out = {} as Record<"multi" | "step", RunResult[]>;
  for (const mode of ["multi", "step"] as const) {
    const opt = new OptimizedExecutor(optimized, params(optimized, spec, seed), kernels);
    const first = copy(opt.run(spec.inputs, { mode, record: true }));
    out[mode] = [first, copy(opt.run(spec.inputs, { mode, record: true }))];
  }
  return out;
}

/** The executor's output is a view of its arena: copy before the next call. */
function copy(r: RunResult): RunResult {
  return { ...r, output: { ...r.output, data: r.output.data.slice() } as Tensor };
}

function checkEquivalence(g: GeneratedSpec, seed: number): void {
  const graph = compileGenerated(g);
  const { graph: optimized } = optimize(graph);
  const ref = runReference(graph, g, seed);
  for (const call of [0, 1]) expectSame(ref.multi[call]!, ref.step[call]!, `${g.description}: reference step vs multi, call ${call}`);
  for (const k of KERNELS) {
    const opt = runOptimized(optimized, g, seed, k);
    for (const call of [0, 1])
      for (const mode of ["multi", "step"] as const) expectSame(ref.multi[call]!, opt[mode][call]!, `${g.description}: optimized ${mode} (${k.name}), call ${call}`);
  }
}

/**
 * The runs are bounded by count (about 20 s of CPU for the file); the timeout is generous
 * because a shared machine can stretch that wall time several fold.
 */
const PROPERTY_TIMEOUT = 240_000;

beforeAll(async () => {
  const { wasm, threads } = await initSpikeKernels({ threads: 2 });
  // Without WebAssembly or a worker the backends above would not all be exercised.
  expect(wasm).toBe(true);
  expect(threads).toBe(2);
  setVecTuning({ chunk: 16, threadMin: 0 });
  // small programs and rows on the WebAssembly float kernels too, split over both threads
  setFusedWasmMin(0);
  setNumericsThreadMin({ gelu: 0, softmax: 0, layernorm: 0 });
});
afterAll(() => {
  setVecTuning({});
  setFusedWasmMin();
  setNumericsThreadMin({});
  // the vector machine did run neuron steps (not only the JS fallback)
  expect(wasmNeuronStats.runs).toBeGreaterThan(0);
  // the native paths ran the native spike kernels (where the addon loads and they are listed)
  if (KERNELS.some((k) => k.backend === "native")) expect(spikeKernelCalls.native).toBeGreaterThan(0);
  return shutdownKernelPool();
});

describe("optimized executor equals the reference interpreter", () => {
  it("on generated specs with finite edge values, every kernel backend, both modes, first and later calls", () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 0, max: 1000 }), (g, seed) => checkEquivalence(g, seed)),
      { numRuns: 80, seed: 20261128 },
    );
  }, PROPERTY_TIMEOUT);

  it("on generated specs with NaN and ±Infinity in the inputs", () => {
    fc.assert(
      fc.property(specArbWith({ nonfinite: true }), fc.integer({ min: 0, max: 1000 }), (g, seed) => checkEquivalence(g, seed)),
      { numRuns: 50, seed: 8 },
    );
  }, PROPERTY_TIMEOUT);

  it("on spikes with levels beyond ±1 multiplied with ternary spikes, finite and non-finite inputs", () => {
    fc.assert(
      fc.property(fc.oneof(mixedLevelsSpecArb(), mixedLevelsSpecArb({ nonfinite: true })), fc.integer({ min: 0, max: 1000 }), (g, seed) => checkEquivalence(g, seed)),
      { numRuns: 30, seed: 11 },
    );
  }, PROPERTY_TIMEOUT);

  it("every pass keeps the IR valid, each node's type, and the reference results", () => {
    fc.assert(
      fc.property(specArb, (g) => {
        const graph = compileGenerated(g);
        expect(validateGraph(graph)).toEqual([]);
        const { log } = optimize(graph);
        const base = new ReferenceInterpreter(graph, params(graph, g, 1)).run(g.inputs, { record: true });
        let prev = graph;
        for (const step of log) {
          expect(validateGraph(step.graph), `after ${step.pass}`).toEqual([]);
          const before = new Map(prev.nodes.map((n) => [n.id, typeToString(n.type)]));
          for (const n of step.graph.nodes) if (before.has(n.id)) expect(typeToString(n.type), `after ${step.pass}: %${n.id}`).toBe(before.get(n.id));
          const r = new ReferenceInterpreter(step.graph, params(step.graph, g, 1)).run(g.inputs, { record: true });
          expectSame(base, r, `${g.description}: reference run after ${step.pass}`);
          prev = step.graph;
        }
      }),
      { numRuns: 30, seed: 7 },
    );
  });
});
