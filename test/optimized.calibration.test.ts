/**
 * Compiled amplitude initialisers (interpreter/optimized/calibration-codegen.ts): each
 * stdlib neuron's initialiser, compiled, gives the value the reference's step evaluator
 * calibrates, bit for bit, on inputs and states of every value profile (zeros, -0,
 * subnormals, ties, NaN, ±Infinity); what it cannot write is declined; and the executor's
 * first call (the one-shot forward) calibrates every amplitude of classifier-small that way.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { f32, i32, type Tensor } from "../interpreter/engine/tensor.js";
import type { IRNode, NeuronAttrs, StepGraph } from "../interpreter/ir/graph.js";
import { compileCalibration } from "../interpreter/optimized/calibration-codegen.js";
import { OptimizedExecutor, executorStats } from "../interpreter/optimized/executor.js";
import { compileNeuron } from "../interpreter/optimized/neuron-codegen.js";
import { optimize } from "../interpreter/passes/pass.js";
import { stepEvaluator } from "../interpreter/reference/step.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { fillValues, valueProfileArb } from "../interpreter/verify/arbitraries.js";
import { loadModel } from "../models/tasks.js";

const T = 4;
const D = 6;
const B = 2;
const N = B * D; // elements per step

const SPEC = `import "std/neurons"

layer Fires(d) {
  a = SpikeLMReference()
  b = ElasticBiSpike(k = 2.0)
  c = BiSpikeQuant(k = 0.5)
  e = SpikeLMReference1Bit()
  forward(x: [T, B, d]) -> [T, B, d] {
    return a(x) + b(x) + c(x) + e(x)
  }
}
`;

function neuronBodies() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-calib-"));
  const file = path.join(dir, "fires.spk");
  fs.writeFileSync(file, SPEC);
  // optimized, as the executor runs it (the passes annotate each step node's outShape)
  const { graph } = optimize(compileEntry({ file, entry: "Fires", args: { d: D }, inputs: new Map([["x", f32([T, B, D])]]) }).graph);
  const bodies = graph.nodes.filter((x) => x.op === "neuron").map((x) => (x.attrs as unknown as NeuronAttrs).body);
  return { graph, bodies };
}

const { graph, bodies } = neuronBodies();
const amplitudeNodes = (body: StepGraph) => body.nodes.filter((x) => x.op === "amplitude");

describe("compiled amplitude initialisers", () => {
  it("the spec has the four stdlib neurons, each with one amplitude, all compiled", () => {
    expect(bodies).toHaveLength(4);
    for (const body of bodies) {
      const amps = amplitudeNodes(body);
      expect(amps.length).toBeGreaterThan(0);
      for (const a of amps) expect(compileCalibration(body, a.id, N)).toBeDefined();
    }
  });

  it("give the reference step evaluator's value bit for bit, every value profile, every step", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bodies.length - 1 }),
        valueProfileArb({ nonfinite: true }),
        valueProfileArb({ nonfinite: true }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: T - 1 }),
        (which, inputProfile, stateProfile, seed, u) => {
          const body = bodies[which]!;
          const inputs = body.inputs.map((_, k) => fillValues(T * N, inputProfile, seed + k));
          const states = body.states.map((_, k) => fillValues(N, stateProfile, seed + 100 + k));
          const byId = new Map<number, IRNode>(body.nodes.map((x) => [x.id, x]));
          for (const amp of amplitudeNodes(body)) {
            const params = ParamStore.create(graph.params, new Map(), { seed: 1 });
            const xs = inputs.map((x) => f32([B, D], x.subarray(u * N, (u + 1) * N)));
            const state = new Map<string, Tensor>(body.states.map((st, j) => [st.name, f32([B, D], states[j]!)]));
            const want = stepEvaluator(byId, xs, state, u, params)(amp.id).data[0]!;
            const c = compileCalibration(body, amp.id, N)!;
            const got = Math.fround(c.run({ inputs, states, params: c.params.map((q) => params.get(q).tensor.data) }, N, u));
            expect(Object.is(got, want), `${(amp.attrs as { path: string }).path} step ${u}: ${got} vs ${want}\n${c.source}`).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("decline an initialiser that is not one whole-tensor reduction of elementwise ops", () => {
    const body = bodies[0]!;
    const amp = amplitudeNodes(body)[0]!;
    // the reduction over an axis instead of all elements
    const red = body.nodes.find((x) => x.op === "mean")!;
    const axisBody: StepGraph = { ...body, nodes: body.nodes.map((x) => (x === red ? { ...x, attrs: { ...x.attrs, axis: 0 } } : x)) };
    expect(compileCalibration(axisBody, amp.id, N)).toBeUndefined();
    // an op scalar-code cannot write inside it
    const absNode = body.nodes.find((x) => x.op === "abs")!;
    const oddBody: StepGraph = { ...body, nodes: body.nodes.map((x) => (x === absNode ? { ...x, op: "cumsum" } : x)) };
    expect(compileCalibration(oddBody, amp.id, N)).toBeUndefined();
    // not an amplitude node
    expect(compileCalibration(body, red.id, N)).toBeUndefined();
  });
});

describe("the one-shot forward's first call (classifier-small, in process)", () => {
  it("calibrates every amplitude with a compiled initialiser, none on the reference", () => {
    const m = loadModel("classify", { model: "classifier-small", noTokenizer: true });
    const ids = [2, 40, 510, 611, 3];
    const inputs = new Map([["ids", i32([1, 5], ids)], ["types", i32([1, 5])], ["mask", i32([1, 5], ids.map(() => 1))]]);
    const { graph: g } = optimize(compileEntry({ file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs, program: m.program }).graph);
    const store = ParamStore.create(g.params, new Map([...(m.weights ?? [])].filter(([k]) => !k.includes("alpha") && !k.includes("clip"))), { seed: 0 });
    const uncalibrated = [...store.entries.values()].filter((e) => e.calibrated?.some((c) => !c)).length;
    expect(uncalibrated).toBeGreaterThan(0);
    const ex = new OptimizedExecutor(g, store);
    const compiled = executorStats.compiledCalibrations;
    const reference = executorStats.referenceCalibrations;
    ex.run(inputs);
    expect(executorStats.referenceCalibrations).toBe(reference);
    expect(executorStats.compiledCalibrations - compiled).toBeGreaterThanOrEqual(uncalibrated);
    for (const e of store.entries.values()) if (e.calibrated) expect(e.calibrated.every(Boolean)).toBe(true);
  });

  it("neurons of one kind share one compiled initialiser and one step kernel (so they get hot after the first few)", () => {
    const m = loadModel("classify", { model: "classifier-small", noTokenizer: true });
    const inputs = new Map([["ids", i32([1, 5])], ["types", i32([1, 5])], ["mask", i32([1, 5])]]);
    const { graph: g } = optimize(compileEntry({ file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs, program: m.program }).graph);
    const neurons = g.nodes.filter((x) => x.op === "neuron").map((x) => x.attrs as unknown as NeuronAttrs);
    const kinds = new Set(neurons.map((a) => a.neuron));
    const runs = new Set<unknown>();
    let amplitudes = 0;
    for (const a of neurons) {
      const n = (a.body.nodes.find((x) => x.op === "step_input")!.attrs.outShape as number[]).reduce((p, q) => p * q, 1);
      for (const amp of amplitudeNodes(a.body)) {
        runs.add(compileCalibration(a.body, amp.id, n)!.run);
        amplitudes++;
      }
    }
    expect(amplitudes).toBeGreaterThan(2 * kinds.size);
    expect(runs.size).toBeLessThanOrEqual(kinds.size);
    // and so do their step kernels (neuron-codegen.ts, as the executor asks for them)
    const kernels = new Set<unknown>();
    for (const a of neurons) {
      const n = (a.body.nodes.find((x) => x.op === "step_input")!.attrs.outShape as number[]).reduce((p, q) => p * q, 1);
      kernels.add(compileNeuron(a.body, n, { levels: true, levelsInt8: true, value: false, scale: true })!.run);
    }
    expect(kernels.size).toBeLessThanOrEqual(kinds.size);
  });
});
