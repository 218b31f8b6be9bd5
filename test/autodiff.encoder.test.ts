/**
 * The whole SpikeLM encoder spec (models/spikelm/spikelm_encoder.spk: BERT embeddings with a
 * padding id, LayerNorm, repeat over T, masked spiking attention, GELU FFN, post-norm, mean
 * over T, the MLM and classification heads), with its neurons swapped for a smooth stateful
 * stand-in so that a finite difference can check it: directional derivatives over every
 * weight tensor match (Richardson-extrapolated) central differences of the float32 forward
 * within 1% (+ 2e-3, the forward's rounding noise). The word embedding's [PAD] row is left out of the direction (its
 * gradient is zero by definition, padding_idx, not by calculus).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { gradients } from "../interpreter/autodiff/index.js";
import { compileEntry } from "../interpreter/compile.js";
import { type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";
import { ReferenceInterpreter } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { REPO } from "./helpers.js";
import { xorshift32 } from "../interpreter/verify/arbitraries.js";

const SMOOTH = `
/// A differentiable stand-in for a spiking neuron: a leaky membrane, tanh output.
neuron SmoothAct(k = 1.0) {
  state u = 0
  step(x) {
    u = 0.5 * u + x
    emit tanh(u) * k
  }
}
`;

function smoothEncoderFile(): string {
  const text = fs.readFileSync(path.join(REPO, "models/spikelm/spikelm_encoder.spk"), "utf8").replaceAll("SpikeLMReference()", "SmoothAct()").replaceAll("BiSpikeQuant()", "SmoothAct()");
  expect(text).not.toContain("SpikeLMReference(");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-enc-"));
  const file = path.join(dir, "encoder.spk");
  fs.writeFileSync(file, text.replace('import "std/layers"', `import "std/layers"\n${SMOOTH}`));
  return file;
}

describe("the SpikeLM encoder spec with smooth neurons, against finite differences", () => {
  const file = smoothEncoderFile();
  const args = { vocab: 12, d: 8, heads: 2, depth: 2, ffn: 16, ctx: 8, steps: 2 };
  // row 0 is padded after 3 tokens; [PAD] = 0
  const ids = i32([2, 5], [2, 5, 7, 0, 0, 3, 9, 11, 4, 6]);
  const types = i32([2, 5], [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  const mask = i32([2, 5], [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  const inputs = new Map<string, Tensor>([
    ["ids", ids],
    ["types", types],
    ["mask", mask],
  ]);

  it.each(["SpikeLMEncoder", "SpikeLMForMaskedLM", "SpikeLMForSequenceClassification"])("%s: directional derivatives over every weight", (entry) => {
    const { graph } = compileEntry({ file, entry, args: entry.includes("Classification") ? { ...args, classes: 3 } : args, inputs });
    const params = ParamStore.create(graph.params, new Map(), { seed: 7 });
    // N(0, 1) embeddings and uniform weights are large for a smooth net; scale the tables down
    for (const [k, e] of params.entries) if (k.endsWith(".table")) e.tensor.data.forEach((v, i) => (e.tensor.data[i] = Math.fround(v * 0.3)));
    const weights = new Map<string, Tensor>([...params.entries].map(([k, e]) => [k, f32(e.tensor.shape, Float32Array.from(e.tensor.data))]));
    const out = new ReferenceInterpreter(graph, params.clone()).run(inputs).output;
    const r = xorshift32(3);
    const probe = Float32Array.from(out.data, () => Math.fround(r() * 2 - 1));
    const g = gradients(graph, params.clone(), inputs, f32(out.shape, probe), { optimize: true });
    const loss = (ws: Map<string, Tensor>) => {
      const o = new ReferenceInterpreter(graph, ParamStore.create(graph.params, ws)).run(inputs).output;
      let s = 0;
      for (let i = 0; i < probe.length; i++) s += o.data[i]! * probe[i]!;
      return s;
    };
    const word = [...weights.keys()].find((k) => k.endsWith("word.table"))!;
    const padRow = (k: string, i: number) => k === word && i < args.d;
    // one direction per weight tensor (less cancellation than one over all of them at once)
    const h = 1e-2;
    for (const [k, w] of weights) {
      const v = Float32Array.from(w.data, (_, i) => (padRow(k, i) ? 0 : r() * 2 - 1));
      let dd = 0;
      g.grads.get(k)!.forEach((gi, i) => (dd += gi * v[i]!));
      const shifted = (sign: number) => new Map<string, Tensor>([...weights].map(([k2, w2]) => [k2, k2 !== k ? w2 : f32(w2.shape, Float32Array.from(w2.data, (a, i) => a + sign * h * v[i]!))]));
      // Richardson-extrapolated central differences (h and h/2): the h² error cancels
      const central = (f: number) => (loss(shifted(f)) - loss(shifted(-f))) / (2 * f * h);
      const fd = (4 * central(0.5) - central(1)) / 3;
      expect(Math.abs(fd - dd), `${entry} ${k}: analytic ${dd}, finite difference ${fd}`).toBeLessThan(1e-2 * Math.abs(dd) + 2e-3);
    }
    // the [PAD] row of the word embeddings gets no gradient from the lookup; a used row does.
    // The masked-LM decoder reads the same table (tied, as BERT): there row 0 gets the
    // decoder's gradient, as PyTorch's padding_idx leaves the tied decoder's share in place.
    const gw = g.grads.get(word)!;
    const padRowZero = Array.from(gw.subarray(0, args.d)).every((x) => x === 0);
    expect(padRowZero).toBe(entry !== "SpikeLMForMaskedLM");
    expect(Array.from(gw.subarray(2 * args.d, 3 * args.d)).some((x) => x !== 0)).toBe(true);
  });
});
