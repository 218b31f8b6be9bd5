/**
 * The tape on the optimized path (what training runs): neuron calls' outputs and layout ops
 * on spikes come from the executor's buffers (int8 levels read back as floats) instead of
 * running the calls again,
 * and values the optimized graph fused away are computed only when a backward rule reads
 * them. With amplitudes frozen (training's default: the compiled per-element neuron walk),
 * the gradients are the reference path's, bit for bit:
 * - on the equivalence generator's specs, finite and with NaN/±Infinity;
 * - on the SpikeLM decoder, whose neurons emit int8 levels into spike-accumulate matmuls
 *   and whose fused chains (scale · spikes @ W + b, GELU, attention scores) hide values the
 *   backward reads, with NaN in part of an embedding row (NaN levels in int8 buffers).
 * And the tape really takes a neuron call's outputs from the known values: given outputs
 * that differ from the call's, it hands on those.
 */
import fc from "fast-check";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { GradientEngine, gradients } from "../interpreter/autodiff/index.js";
import { recordForward } from "../interpreter/autodiff/tape.js";
import { compileEntry } from "../interpreter/compile.js";
import { type Tensor, f32, i32, numel } from "../interpreter/engine/tensor.js";
import type { Graph } from "../interpreter/ir/graph.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ReferenceInterpreter } from "../interpreter/reference/interpreter.js";
import { UserError } from "../interpreter/io/errors.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { xorshift32 } from "../interpreter/verify/arbitraries.js";
import { type GeneratedSpec, specArb, specArbWith } from "./generators/spec-gen.js";
import { REPO } from "./helpers.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-tape-"));
let counter = 0;

function seededGrad(seed: number) {
  return (out: Tensor) => {
    const r = xorshift32(seed);
    return { loss: 0, gradOutput: f32(out.shape, Float32Array.from({ length: numel(out.shape) }, () => Math.fround((r() / 2 ** 32) * 2 - 1))) };
  };
}

/** Same values element by element (Object.is: -0 is not 0, every NaN is NaN, as in docs/language.md). */
function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Gradients on the optimized and the reference path (amplitudes frozen), compared bit for bit. */
function expectPathsAgree(graph: Graph, weights: ReadonlyMap<string, Tensor>, inputs: Map<string, Tensor>, seed: number, what: string): ReturnType<typeof gradients> {
  const run = (optimize: boolean) => gradients(graph, ParamStore.create(graph.params, weights, { seed }), inputs, seededGrad(seed), { optimize });
  const ref = run(false);
  const opt = run(true);
  expect(opt.output.shape, what).toEqual(ref.output.shape);
  expect(same(opt.output.data, ref.output.data), `${what}: output`).toBe(true);
  expect([...opt.grads.keys()], what).toEqual([...ref.grads.keys()]);
  for (const [k, g] of opt.grads) expect(same(g, ref.grads.get(k)!), `${what}: ${k}`).toBe(true);
  for (const [k, g] of opt.inputGrads) expect(same(g, ref.inputGrads.get(k)!), `${what}: input ${k}`).toBe(true);
  return opt;
}

function checkGenerated(gen: GeneratedSpec, seed: number): void {
  const file = path.join(dir, `g${counter++}.spk`);
  fs.writeFileSync(file, gen.text);
  const { graph } = compileEntry({ file, entry: gen.entry, inputs: gen.inputs });
  try {
    ParamStore.create(graph.params, gen.weights, { seed });
  } catch (e) {
    if (e instanceof UserError) return; // weights the store refuses: the generator's business
    throw e;
  }
  expectPathsAgree(graph, gen.weights, gen.inputs, seed, gen.description);
}

describe("the optimized path's tape (executor values, deferred recomputation)", () => {
  it("gives the reference path's gradients bit for bit on generated specs", () => {
    fc.assert(fc.property(specArb, fc.integer({ min: 0, max: 1000 }), checkGenerated), { numRuns: 30 });
  });

  it("... also with NaN and ±Infinity in inputs and weights", () => {
    fc.assert(fc.property(specArbWith({ nonfinite: true }), fc.integer({ min: 0, max: 1000 }), checkGenerated), { numRuns: 15 });
  });

  it("gives the reference path's gradients on the decoder (int8 levels, fused chains), NaN levels included", () => {
    const B = 2, L = 6, V = 256;
    const file = path.join(REPO, "models/spikelm/spikelm_decoder.spk");
    const { graph } = compileEntry({ file, entry: "SpikeLMDecoder", args: { d: 16, heads: 2, depth: 2, ffn: 32, ctx: 8 }, inputs: new Map([["ids", i32([B, L])]]) });
    // what makes this case: neurons with int8 levels, and fused nodes whose intermediates the backward reads
    const opt = optimize(graph).graph;
    expect(opt.nodes.some((n) => n.op === "neuron" && n.attrs.levelsInt8)).toBe(true);
    expect(opt.nodes.some((n) => n.op === "fused" && JSON.stringify(n.attrs.program).includes("gelu"))).toBe(true);
    const rand = xorshift32(5);
    const ids = i32([B, L], Array.from({ length: B * L }, () => rand() % V));
    expectPathsAgree(graph, new Map(), new Map([["ids", ids]]), 7, "decoder");
    // the largest float32 in half of the first token's embedding row (weights must be finite):
    // its sums overflow, LayerNorm's Infinity - Infinity is NaN: NaN membranes, NaN levels
    const base = ParamStore.create(graph.params, new Map(), { seed: 7 });
    const table = [...base.entries].find(([p, e]) => e.spec.kind === "weight" && e.spec.shape.length === 2 && e.spec.shape[0] === V)![0];
    const w = Float32Array.from(base.get(table).tensor.data);
    const d = w.length / V;
    for (let j = 0; j < d / 2; j++) w[ids.data[0]! * d + j] = 3.4028234663852886e38;
    const huge = expectPathsAgree(graph, new Map([[table, f32([V, d], w)]]), new Map([["ids", ids]]), 7, "decoder with NaN");
    expect(huge.output.data.some(Number.isNaN)).toBe(true);
  });

  it("a training engine computes a forward value a second time only in its first run, then the executor keeps it", () => {
    const B = 2, L = 8, V = 256;
    const file = path.join(REPO, "models/spikelm/spikelm_decoder.spk");
    const { graph } = compileEntry({ file, entry: "SpikeLMDecoder", args: { d: 16, heads: 2, depth: 2, ffn: 32, ctx: 8 }, inputs: new Map([["ids", i32([B, L])]]) });
    const params = ParamStore.create(graph.params, new Map(), { seed: 3 });
    const engine = new GradientEngine(graph, params, { reuseBuffers: true });
    const fresh = new GradientEngine(graph, params);
    const rand = xorshift32(2);
    const op = (id: number) => graph.nodes.find((n) => n.id === id)!.op;
    const computed: string[][] = [];
    for (let step = 0; step < 3; step++) {
      const inputs = new Map([["ids", i32([B, L], Array.from({ length: B * L }, () => rand() % V))]]);
      const a = engine.run(inputs, seededGrad(step));
      computed.push([...engine.computedByTape].map(op));
      // the replanned executor changes no bit
      const b = fresh.run(inputs, seededGrad(step));
      for (const [k, g] of a.grads) expect(same(g, b.grads.get(k)!), `step ${step}: ${k}`).toBe(true);
    }
    // the first run computed values the fused graph had no buffer for (GELU's input, the
    // attention scores before scaling); later runs only the positions (integers: the tape
    // takes float values and int8 levels from the executor)
    expect(computed[0]).toContain("add");
    expect(computed[0]).toContain("mul");
    for (const later of computed.slice(1)) expect(later).toEqual(["positions"]);
  });

  it("takes a neuron call's outputs from the known values instead of running the call", () => {
    const file = path.join(REPO, "models/spikelm/spikelm_decoder.spk");
    const inputs = new Map<string, Tensor>([["ids", i32([1, 4], [1, 2, 3, 4])]]);
    const { graph } = compileEntry({ file, entry: "SpikeLMDecoder", args: { d: 8, heads: 2, depth: 1, ffn: 16, ctx: 4 }, inputs });
    const params = ParamStore.create(graph.params, new Map(), { seed: 1 });
    new ReferenceInterpreter(graph, params).run(inputs); // calibrates the amplitudes
    const T = graph.timesteps;
    // outputs no run would give: value 7, int8 levels 3, scale 0.5
    const given = (total: number) => ({ value: new Float32Array(total).fill(7), levels: new Int8Array(total).fill(3), scale: new Float32Array(T).fill(0.5) });
    const sizes = new Map<number, number>();
    const plain = recordForward(graph, params, inputs, undefined, true);
    for (const [id, f] of plain.neurons) sizes.set(id, f.value.data.length);
    const tape = recordForward(graph, params, inputs, { value: () => undefined, neuron: (node) => given(sizes.get(node.id)!) }, true);
    expect(tape.neurons.size).toBeGreaterThan(3);
    for (const f of tape.neurons.values()) {
      expect([...new Set(f.value.data)]).toEqual([7]);
      if (f.levels) expect([...new Set(f.levels.data)]).toEqual([3]);
      if (f.scale) expect([...new Set(f.scale.data)]).toEqual([0.5]);
    }
    // and without them, the call's own (different) outputs
    for (const f of plain.neurons.values()) expect([...new Set(f.value.data)]).not.toEqual([7]);
  });
});
