/**
 * The reference interpreter: multi-step and step-by-step agree bit for bit on the example
 * models; state restarts on every call; amplitudes calibrate once and are then kept.
 *
 * Every run here goes through `runRef` (`optimize: false`): `runSpec` defaults to the
 * optimized executor, which is tested against this interpreter elsewhere.
 */
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { i32, f32 } from "../interpreter/engine/tensor.js";
import { type RunSpecRequest, runSpec } from "../interpreter/run.js";
import { EXAMPLES, REPO, sameBits } from "./helpers.js";

/** The reference interpreter, never the optimized executor. */
const runRef = (req: RunSpecRequest) => runSpec({ ...req, optimize: false });

const tiny = path.join(EXAMPLES, "tiny_spikelm.spk");
const ids = (B: number, L: number, V: number) => i32([B, L], Array.from({ length: B * L }, (_, i) => (i * 7919 + 13) % V));

describe("reference interpreter", () => {
  it("TinySpikeLM: multi-step and step-by-step give identical output bytes and spikes", () => {
    const inputs = new Map([["ids", ids(2, 12, 256)]]);
    const a = runRef({ file: tiny, entry: "TinySpikeLM", inputs, seed: 7, mode: "multi", record: true });
    const b = runRef({ file: tiny, entry: "TinySpikeLM", inputs, seed: 7, mode: "step", record: true });
    expect(a.output.shape).toEqual([2, 12, 256]);
    expect(sameBits(a.output, b.output)).toBe(true);
    expect([...a.record.keys()]).toEqual([...b.record.keys()]);
    for (const [k, r] of a.record) expect(sameBits(r.levels, b.record.get(k)!.levels), k).toBe(true);
    // amplitudes calibrated identically in both modes
    for (const [k, e] of a.params.entries) expect(sameBits(e.tensor, b.params.get(k).tensor), k).toBe(true);
    // some spikes of each sign, not all
    const lv = a.record.get("blocks.0.attn.q.fire")!.levels.data;
    const rate = lv.filter((v) => v !== 0).length / lv.length;
    expect(rate).toBeGreaterThan(0.1);
    expect(rate).toBeLessThan(0.7);
  });

  it("SpikeLMClassifier at a small size: both modes identical", () => {
    const args = { vocab: 100, d: 32, heads: 4, depth: 2, ffn: 64, ctx: 16, classes: 3 };
    const inputs = new Map([["ids", ids(3, 9, 100)]]);
    const a = runRef({ file: tiny, entry: "SpikeLMClassifier", args, inputs, seed: 3, mode: "multi" });
    const b = runRef({ file: tiny, entry: "SpikeLMClassifier", args, inputs, seed: 3, mode: "step" });
    expect(a.output.shape).toEqual([3, 3]);
    expect(sameBits(a.output, b.output)).toBe(true);
  });

  it("state restarts on each call; calibrated amplitudes are kept across calls", () => {
    const file = path.join(EXAMPLES, "tiny_spikelm.spk");
    const x = f32([4, 1, 3, 8], Array.from({ length: 96 }, (_, i) => Math.sin(i * 1.3) * 2));
    const first = runRef({ file, entry: "SpikeLinear", args: { inp: 8, out: 4 }, inputs: new Map([["x", x]]), record: true });
    const alpha = Float32Array.from(first.params.get("fire.alpha").tensor.data);
    const again = runRef({ file, entry: "SpikeLinear", args: { inp: 8, out: 4 }, inputs: new Map([["x", x]]), params: first.params, record: true });
    expect(sameBits(first.output, again.output)).toBe(true);
    expect(Array.from(first.params.get("fire.alpha").tensor.data)).toEqual(Array.from(alpha));
    // a different input does not recalibrate
    const y = f32([4, 1, 3, 8], Array.from({ length: 96 }, (_, i) => Math.cos(i) * 5));
    runRef({ file, entry: "SpikeLinear", args: { inp: 8, out: 4 }, inputs: new Map([["x", y]]), params: first.params });
    expect(Array.from(first.params.get("fire.alpha").tensor.data)).toEqual(Array.from(alpha));
  });

  it("the stdlib neurons each run in both modes with identical spikes", () => {
    for (const neuron of ["LIF", "BiLIF", "ElasticBiSpike", "SpikeLMReference", "BiSpikeQuant"]) {
      const x = f32([4, 2, 6], Array.from({ length: 48 }, (_, i) => Math.sin(i * 0.7) * 1.5));
      const run = (mode: "multi" | "step") => runRef({ file: path.join(REPO, "stdlib/neurons.spk"), entry: neuron, inputs: new Map([["x", x]]), mode, record: true, recordStates: true });
      const a = run("multi");
      const b = run("step");
      expect(sameBits(a.output, b.output), neuron).toBe(true);
      // recorded states ([T, ...] per state, e.g. the membrane u) agree between the modes too
      const sa = [...a.record.values()][0]!.states!;
      const sb = [...b.record.values()][0]!.states!;
      expect([...sa.keys()], neuron).toEqual([...sb.keys()]);
      for (const [k, v] of sa) {
        expect(v.shape[0], `${neuron}.${k}`).toBe(4);
        expect(sameBits(v, sb.get(k)!), `${neuron}.${k}`).toBe(true);
      }
      const levels = [...a.record.values()][0]!.levels.data;
      for (const v of levels) expect([-1, 0, 1]).toContain(v);
    }
  });
});
