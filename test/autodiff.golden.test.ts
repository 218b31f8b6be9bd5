/**
 * Gradients against the authors' code: the `*_train.json` golden files hold what
 * `loss = output.sum(); loss.backward()` gives in the released spiking.py (SpikeLinear with
 * its ElasticBiSpiking quantiser): grad_input, grad_weight, grad_bias and, with trainable
 * amplitudes, the LSQ grad_alpha. The stdlib's SpikeLinear with SpikeLMReference (and the
 * 1-bit SpikeLMReference1Bit for `_bits1`) must agree within 1e-5 × max|g| per tensor, on
 * both execution paths and in both modes; the amplitudes are calibrated by the first call,
 * as the reference does.
 *
 * Measured (node --import tsx): max |ours − reference| / max |reference| per tensor is at
 * most 4.3e-7 (grad_input), 2.5e-7 (grad_weight), 0 (grad_bias), 2.4e-7 (grad_alpha), the
 * same on every path and mode.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { gradients } from "../interpreter/autodiff/index.js";
import { compileEntry } from "../interpreter/compile.js";
import { f32 } from "../interpreter/engine/tensor.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { FIXTURES, GOLDEN, REPO, nested, readJson, tensorFromNested } from "./helpers.js";

const files = fs.readdirSync(GOLDEN).filter((f) => f.includes("_train") && f.endsWith(".json")).sort();
const cases = [false, true].flatMap((optimize) => (["multi", "step"] as const).map((mode) => ({ path: optimize ? "optimized" : "reference", optimize, mode })));

function relErr(want: readonly number[], got: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let diff = 0;
  let scale = 0;
  want.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - got[i]!));
    scale = Math.max(scale, Math.abs(v));
  });
  return diff / scale;
}

function setup(name: string) {
  const g = readJson(path.join(GOLDEN, name)) as Record<string, any>;
  const bits = g.config.input_bits as number;
  const { Din, Dout } = g.shapes as Record<string, number>;
  const prefix = bits === 1 ? "lin." : "";
  const file = bits === 1 ? path.join(FIXTURES, "specs/grad_linear.spk") : path.join(REPO, "stdlib/layers.spk");
  const entry = bits === 1 ? "SpikeLinear1Bit" : "SpikeLinear";
  const x = tensorFromNested(g.input);
  const inputs = new Map([["x", x]]);
  const compiled = compileEntry({ file, entry, args: { inp: Din!, out: Dout! }, inputs });
  const params = () =>
    ParamStore.create(
      compiled.graph.params,
      new Map([
        [`${prefix}W`, tensorFromNested(g.weight)],
        [`${prefix}b`, tensorFromNested(g.bias)],
      ]),
    );
  const ones = f32(x.shape.slice(0, -1).concat([Dout!]), new Float32Array((x.data.length / Din!) * Dout!).fill(1));
  return { g, prefix, compiled, inputs, params, ones };
}

describe.each(files)("gradients vs golden %s", (name) => {
  it.each(cases)("$path path, $mode mode: grad_input, grad_weight, grad_bias, grad_alpha within 1e-5 × max|g|", ({ optimize, mode }) => {
    const { g, prefix, compiled, inputs, params, ones } = setup(name);
    const ps = params();
    const r = gradients(compiled.graph, ps, inputs, ones, { optimize, mode, trainAmplitudes: true });
    // calibration on the first call, as the reference's alpha_init
    const alpha = ps.get(`${prefix}fire.alpha`).tensor.data;
    expect(relErr(nested(g.alpha_init), alpha)).toBeLessThan(1e-6);
    expect(r.loss).toBeUndefined();
    expect(relErr(nested(g.grad_input), r.inputGrads.get("x")!)).toBeLessThan(1e-5);
    expect(relErr(nested(g.grad_weight), r.grads.get(`${prefix}W`)!)).toBeLessThan(1e-5);
    expect(relErr(nested(g.grad_bias), r.grads.get(`${prefix}b`)!)).toBeLessThan(1e-5);
    expect(relErr(nested(g.grad_alpha_if_alpha_requires_grad), r.grads.get(`${prefix}fire.alpha`)!)).toBeLessThan(1e-5);
  });

  it("amplitudes are frozen by default (no gradient reported); training them changes no other gradient, bit for bit", () => {
    const { prefix, compiled, inputs, params, ones } = setup(name);
    const frozen = gradients(compiled.graph, params(), inputs, ones, { optimize: false });
    const trained = gradients(compiled.graph, params(), inputs, ones, { optimize: false, trainAmplitudes: true });
    expect(frozen.grads.has(`${prefix}fire.alpha`)).toBe(false);
    expect(trained.grads.has(`${prefix}fire.alpha`)).toBe(true);
    for (const k of [`${prefix}W`, `${prefix}b`]) expect(Array.from(trained.grads.get(k)!)).toEqual(Array.from(frozen.grads.get(k)!));
    expect(Array.from(trained.inputGrads.get("x")!)).toEqual(Array.from(frozen.inputGrads.get("x")!));
  });
});

describe("an engine reused across training steps", () => {
  it("reads parameters changed in place (the optimized executor recomputes weight-only values): same gradients as a fresh engine", async () => {
    const { GradientEngine } = await import("../interpreter/autodiff/index.js");
    const { compiled, inputs, params, ones } = setup(files[0]!);
    const ps = params();
    const engine = new GradientEngine(compiled.graph, ps, { optimize: true, trainAmplitudes: true });
    engine.run(inputs, ones);
    // an optimizer step, in place (weights and the calibrated amplitudes)
    const W = ps.get("W").tensor.data;
    for (let i = 0; i < W.length; i++) W[i] = Math.fround(W[i]! * 0.5 - 0.01);
    const alpha = ps.get("fire.alpha").tensor.data;
    for (let i = 0; i < alpha.length; i++) alpha[i] = Math.fround(alpha[i]! * 1.25);
    const again = engine.run(inputs, ones);
    const fresh = new GradientEngine(compiled.graph, ps.clone(), { optimize: false, trainAmplitudes: true }).run(inputs, ones);
    expect(Array.from(again.output.data)).toEqual(Array.from(fresh.output.data));
    for (const [k, g] of fresh.grads) expect(Array.from(again.grads.get(k)!), k).toEqual(Array.from(g));
  });
});
