/**
 * The operation counts of the spike report on layers whose spikes are known by construction
 * (hand-computed ACs, MACs and energy), and the report's consistency on the shipped models.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Tensor, f32 } from "../interpreter/engine/tensor.js";
import { PJ_PER_AC, PJ_PER_MAC } from "../interpreter/report/counts.js";
import { runWithReport } from "../interpreter/report/run.js";
import { encodeTexts, loadModel, runModel } from "../models/tasks.js";
import { i32 } from "../interpreter/engine/tensor.js";
import { specArb } from "./generators/spec-gen.js";
import { FIXTURES, REPO } from "./helpers.js";

const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-9 * Math.max(1, Math.abs(b)));

describe("counts on a SpikeLinear with known spikes", () => {
  // alpha = 1 at every step. Per token the four inputs, constant over T = 4 steps, give:
  //  1.0 → u = 1 every step → +1 +1 +1 +1 (after +1 the membrane is wiped);
  // -1.0 → u = -1, -1.5, -1.75, -1.875 → -1 -1 -1 -1;
  //  0.0 → 0 0 0 0;
  //  0.3 → u = 0.3, 0.375, 0.39375, 0.3984 → 0 0 0 0 (never reaches 0.5).
  // So 2 tokens × 4 steps: 8 spikes +1 and 8 spikes -1 among 32 levels.
  const x = f32([4, 1, 2, 4], Array.from({ length: 8 }, () => [1, -1, 0, 0.3]).flat());
  const r = runWithReport({
    file: path.join(REPO, "stdlib/layers.spk"),
    entry: "SpikeLinear",
    args: { inp: 4, out: 3 },
    inputs: new Map([["x", x]]),
    weights: new Map([["fire.alpha", f32([4], [1, 1, 1, 1])]]),
  });
  const rep = r.report;

  it("spikes: the hand-computed levels, rates split into +1 and -1, spikes per token", () => {
    expect(Array.from(r.record.get("fire")!.levels.data)).toEqual(Array.from({ length: 8 }, () => [1, -1, 0, 0]).flat());
    const n = rep.neurons[0]!;
    expect(n).toMatchObject({ path: "fire", neuron: "SpikeLMReference", pos: 8, neg: 8, rate_pos: 0.25, rate_neg: 0.25, rate: 0.5, spikes_per_token: 8 });
    expect(rep.tokens).toBe(2);
  });

  it("ACs = nonzero spikes × fan-out (16 × 3 outputs = 48); MACs = 24 amplitude scalings + 24 bias adds", () => {
    const mm = rep.matmuls[0]!;
    expect(mm).toMatchObject({ spike: "left", neuron: "fire", batch: 4, m: 2, k: 4, n: 3, acs: 48, macs: 0, ann_macs: 24 });
    expect(rep.total.acs).toBe(48);
    expect(rep.total.macs).toBe(48);
    expect(rep.total.ops).toEqual({ spike_matmul: 48, scale: 24, elementwise: 24 });
    close(rep.total.energy_pj, 48 * 0.9 + 48 * 4.6); // 264 pJ
    // The dense ANN: one pass, 2 tokens × 4 × 3 MACs of matmul + 6 bias adds, no scaling.
    expect(rep.total.ann_macs).toBe(24 + 6);
    close(rep.total.ann_energy_pj, 30 * 4.6);
    expect(rep.total.spike_driven).toBe(true);
    expect(rep.non_spike_matmuls).toEqual([]);
  });

  it("is the same run: the reported output equals the optimized executor's, bit for bit", async () => {
    const { runSpec } = await import("../interpreter/run.js");
    const { ParamStore } = await import("../interpreter/runtime/params.js");
    const o = runSpec({ file: path.join(REPO, "stdlib/layers.spk"), entry: "SpikeLinear", args: { inp: 4, out: 3 }, inputs: new Map([["x", x]]), params: ParamStore.create(r.compiled.graph.params, new Map([["fire.alpha", f32([4], [1, 1, 1, 1])], ["W", r.params.get("W").tensor]])) });
    expect(Buffer.from(o.output.data.buffer).equals(Buffer.from(r.output.data.buffer))).toBe(true);
  });
});

describe("counts with the spike operand on the right, and a float matmul", () => {
  const spec = path.join(FIXTURES, "models/report_known.spk");

  it("a @ levels: each nonzero spike accumulated once per row of a (fan-out m)", () => {
    // v per step (alpha 1): [[1, 0, -1], [0.2, 0.7, -0.6]] → levels [[1, 0, -1], [0, 1, -1]]: 4 nonzero.
    const v = f32([2, 1, 2, 3], [1, 0, -1, 0.2, 0.7, -0.6, 1, 0, -1, 0.2, 0.7, -0.6]);
    const a = f32([2, 1, 3, 2], [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
    const r = runWithReport({ file: spec, entry: "RightSpike", args: { n: 2, m: 3 }, inputs: new Map<string, Tensor>([["a", a], ["v", v]]), weights: new Map([["vfire.alpha", f32([2], [1, 1])]]) });
    const mm = r.report.matmuls[0]!;
    expect(mm).toMatchObject({ spike: "right", neuron: "vfire", m: 3, k: 2, n: 3, acs: 8 * 3 });
    expect(r.report.neurons[0]).toMatchObject({ pos: 4, neg: 4 });
    expect(r.report.total.macs).toBe(2 * 3 * 3); // the amplitude scaling of every output
    expect(r.report.total.ann_macs).toBe(3 * 2 * 3); // one dense pass
  });

  it("a matmul without a spike operand is MACs (M·K·N per batch) and is listed by the spike-driven proof", () => {
    const x = f32([2, 1, 2, 2], [1, -1, 0, 1, 1, 1, -1, 0]);
    const r = runWithReport({ file: spec, entry: "Mixed", args: { n: 2 }, inputs: new Map([["x", x]]), weights: new Map([["fire.alpha", f32([2], [1, 1])]]) });
    const [spiking, float] = r.report.matmuls;
    expect(spiking).toMatchObject({ spike: "left", acs: 6 * 2 });
    expect(float).toMatchObject({ spike: "none", batch: 2, m: 2, k: 2, n: 2, acs: 0, macs: 16, ann_macs: 8 });
    expect(r.report.total.spike_driven).toBe(false);
    expect(r.report.non_spike_matmuls).toHaveLength(1);
    const p = r.report.non_spike_matmuls[0]!;
    expect(p.origin).toMatch(/^report_known\.spk:19:\d+$/);
    close(p.share_of_matmul_ops, 16 / (12 + 16));
    close(p.share_of_ops, 16 / (r.report.total.acs + r.report.total.macs));
  });
});

describe("report on the shipped small models", () => {
  it("the encoder is fully spike-driven; totals are the sums of the layers; energy = 0.9 pJ·AC + 4.6 pJ·MAC", () => {
    const m = loadModel("encode");
    const rep = runModel(m, encodeTexts(m, ["the cat sat on the mat.", "a dog ran"]), { report: true }).report!;
    expect(rep.total.spike_driven).toBe(true);
    expect(rep.total.spike_matmuls).toBe(2 * 6 + 2 * 2); // per layer q k v proj up down + Q·Kᵀ and A·V
    close(rep.layers.reduce((s, l) => s + l.acs, 0), rep.total.acs);
    close(rep.layers.reduce((s, l) => s + l.macs, 0), rep.total.macs);
    close(rep.total.energy_pj, rep.total.acs * PJ_PER_AC + rep.total.macs * PJ_PER_MAC);
    for (const l of rep.layers) close(l.energy_pj, l.acs * PJ_PER_AC + l.macs * PJ_PER_MAC);
    // Per-neuron ACs add up to the spiking matmuls' ACs.
    close(rep.neurons.reduce((s, n) => s + n.acs, 0), rep.total.acs);
    const names = rep.layers.map((l) => l.name);
    for (const n of ["embeddings", "embeddings.norm", "blocks.0.attn.q", "blocks.0.attn", "blocks.0.proj", "blocks.0.norm1", "blocks.0.up", "blocks.0.down", "blocks.1.norm2"]) expect(names).toContain(n);
    // Q, K and V calibrate identically (their neurons see the same block input), so fire identically.
    const rate = (p: string) => rep.neurons.find((n) => n.path === p)!.rate;
    expect(rate("blocks.0.attn.q.fire")).toBe(rate("blocks.0.attn.k.fire"));
    // GELU outputs are non-negative: the neuron in front of `down` fires only +1.
    expect(rep.neurons.find((n) => n.path === "blocks.1.down.fire")!.neg).toBe(0);
  });

  it("the classifier is not: the pooler and the classifier are float matmuls, listed with their share", () => {
    const m = loadModel("classify");
    const rep = runModel(m, encodeTexts(m, ["i loved this movie"]), { report: true }).report!;
    expect(rep.total.spike_driven).toBe(false);
    expect(rep.non_spike_matmuls.map((x) => x.layer)).toEqual(["pooler", "classifier"]);
    expect(rep.non_spike_matmuls[0]!.origin).toMatch(/^prelude\.spk:\d+:\d+$/);
    close(rep.total.non_spike_matmul_share, rep.non_spike_matmuls.reduce((s, x) => s + x.share_of_matmul_ops, 0));
  });
});

describe("the report on the optimized executor (the default) is the reference interpreter's", () => {
  it("shipped decoder-small on a sentence: the same report, firing rates and counts included", () => {
    const m = loadModel("generate");
    const ids = m.tokenizer.encode("In the beginning God created the heaven and the earth.");
    const req = { file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs: new Map([["ids", i32([1, ids.length], ids)]]), weights: m.weights, model: m.info.name };
    const ref = runWithReport({ ...req, optimize: false }).report;
    const opt = runWithReport(req).report;
    expect(opt.total.acs).toBeGreaterThan(0);
    expect(opt).toEqual(ref);
  });

  it("random specs (every template): the same report", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-report-"));
    let n = 0;
    fc.assert(
      fc.property(specArb, (spec) => {
        const file = path.join(tmp, `spec-${n++}.spk`);
        fs.writeFileSync(file, spec.text);
        const req = { file, entry: spec.entry, inputs: spec.inputs, weights: spec.weights, seed: 7 };
        expect(runWithReport(req).report).toEqual(runWithReport({ ...req, optimize: false }).report);
      }),
      { numRuns: 40, seed: 5 },
    );
  });
});
