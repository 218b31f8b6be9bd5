/**
 * The golden vectors produced by the authors' released code (spikeLM-BERT/spiking.py on CPU)
 * pass through `SpikeLinear(inp, out, SpikeLMReference())` from the shipped example: the
 * spike levels must be identical at every step and the outputs within 1e-5.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runSpec } from "../interpreter/run.js";
import { f32 } from "../interpreter/engine/tensor.js";
import { FIXTURES, GOLDEN, EXAMPLES, nested, readJson, tensorFromNested } from "./helpers.js";

const files = fs.readdirSync(GOLDEN).filter((f) => f.endsWith(".json")).sort();

function setup(name: string, calibrate: boolean) {
  const g = readJson(path.join(GOLDEN, name)) as Record<string, any>;
  const bits = g.config.input_bits as number;
  const { Din, Dout } = g.shapes as Record<string, number>;
  const prefix = bits === 1 ? "lin." : "";
  const weights = new Map([
    [`${prefix}W`, tensorFromNested(g.weight)],
    [`${prefix}b`, tensorFromNested(g.bias)],
  ]);
  if (!calibrate) weights.set(`${prefix}fire.alpha`, f32([g.alpha_init.length], g.alpha_init));
  const file = bits === 1 ? path.join(FIXTURES, "specs/golden_linear.spk") : path.join(EXAMPLES, "tiny_spikelm.spk");
  const entry = bits === 1 ? "SpikeLinear1Bit" : "SpikeLinear";
  const input = tensorFromNested(g.input);
  return { g, prefix, run: (mode: "multi" | "step") => runSpec({ file, entry, args: { inp: Din!, out: Dout! }, inputs: new Map([["x", input]]), weights, mode, record: true }) };
}

describe.each(files)("golden %s", (name) => {
  it.each(["multi", "step"] as const)("alpha from the file: identical spikes, output within 1e-5 (%s)", (mode) => {
    const { g, prefix, run } = setup(name, false);
    const r = run(mode);
    // Amplitudes given in the weights are never recalibrated, at any step.
    expect(Array.from(r.params.get(`${prefix}fire.alpha`).tensor.data)).toEqual(Array.from(Float32Array.from(g.alpha_init as number[])));
    const levels = r.record.get(`${prefix}fire`)!.levels;
    const want = nested(g.spikes_s);
    expect(levels.shape).toEqual([4, 2, 5, 16]);
    let mismatches = 0;
    want.forEach((v, i) => {
      if (v !== levels.data[i]) mismatches++;
    });
    expect(mismatches).toBe(0);
    // per-step counts as the reference reports them
    const T = levels.shape[0]!;
    const per = levels.data.length / T;
    for (let t = 0; t < T; t++) {
      const step = Array.from(levels.data.subarray(t * per, (t + 1) * per));
      expect(step.filter((v) => v > 0).length).toBe(g.spike_counts_per_t.pos[t]);
      expect(step.filter((v) => v < 0).length).toBe(g.spike_counts_per_t.neg[t]);
    }
    const out = nested(g.output);
    let maxErr = 0;
    out.forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - r.output.data[i]!))));
    expect(r.output.shape).toEqual([4, 2, 5, 8]);
    expect(maxErr).toBeLessThan(1e-5);
  });

  it("alpha calibrated by the interpreter: matches the reference's alpha_init and spikes", () => {
    const { g, prefix, run } = setup(name, true);
    const r = run("multi");
    const alpha = r.params.get(`${prefix}fire.alpha`).tensor.data;
    const wantAlpha = g.alpha_init as number[];
    wantAlpha.forEach((a, t) => expect(Math.abs(alpha[t]! - a) / a).toBeLessThan(1e-6));
    const levels = r.record.get(`${prefix}fire`)!.levels.data;
    const mismatches = nested(g.spikes_s).filter((v, i) => v !== levels[i]).length;
    // Our mean is a sequential float32 sum; PyTorch sums in another order, so alpha may
    // differ in the last bit. A spike flips only if some |u / alpha| sits within that of 1/2.
    expect(mismatches).toBe(0);
  });
});
