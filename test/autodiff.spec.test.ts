/**
 * Gradients of whole specs.
 *
 * 1. Finite differences: random specs whose neuron is smooth (a leaky integrator emitting
 *    tanh of its membrane: the spikes "held fixed" as a differentiable stand-in, so BPTT
 *    through neuron state is still exercised) around embeddings, linear layers, LayerNorm,
 *    GELU/tanh, softmax attention (optionally causal), `over_time`, `mean_time` and a
 *    second time stage. For a random direction v on each weight tensor and on the float
 *    input, the directional derivative Σ g·v must match the central difference of the
 *    float32 forward (Richardson-extrapolated central differences, h = 1e-2 and 5e-3)
 *    within 1% (+ 2e-3: the float32 forward's rounding noise).
 * 2. Paths and modes: on the equivalence generator's specs (every kind of generated neuron,
 *    the stdlib's neurons and blocks, embeddings, layout ops on spikes, two time stages,
 *    edge-value inputs), the optimized and reference paths in multi and step mode give the
 *    same gradients, bit for bit.
 */
import fc from "fast-check";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { gradients } from "../interpreter/autodiff/index.js";
import { recordForward } from "../interpreter/autodiff/tape.js";
import { compileEntry } from "../interpreter/compile.js";
import { type Tensor, f32, i32, numel } from "../interpreter/engine/tensor.js";
import { ReferenceInterpreter } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { UserError } from "../interpreter/io/errors.js";
import { specArb, specArbWith, type GeneratedSpec } from "./generators/spec-gen.js";
import { xorshift32 } from "../interpreter/verify/arbitraries.js";
import { REPO } from "./helpers.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-grad-"));
let counter = 0;
const writeSpec = (text: string) => {
  const file = path.join(dir, `g${counter++}.spk`);
  fs.writeFileSync(file, text);
  return file;
};

// ------------------------------------------------------------------ smooth specs vs finite differences

interface Smooth {
  d: number;
  h: number;
  heads: number;
  T: number;
  B: number;
  L: number;
  tau: string;
  nonlin: string;
  attention: boolean;
  causal: boolean;
  secondStage: boolean;
  seed: number;
}

const smoothArb: fc.Arbitrary<Smooth> = fc.record({
  // d >= 4: LayerNorm over 2 features is ±1, a step function a finite difference cannot follow
  d: fc.integer({ min: 2, max: 3 }).map((x) => 2 * x),
  h: fc.integer({ min: 1, max: 5 }),
  heads: fc.constantFrom(1, 2),
  T: fc.integer({ min: 1, max: 3 }),
  B: fc.integer({ min: 1, max: 2 }),
  L: fc.integer({ min: 1, max: 3 }),
  tau: fc.constantFrom("0.25", "0.5", "0.9"),
  nonlin: fc.constantFrom("gelu(a)", "tanh(a)", "a * a * 0.5", "exp(a * 0.5)", "sqrt(a * a + 1)"),
  attention: fc.boolean(),
  causal: fc.boolean(),
  secondStage: fc.boolean(),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
});

function smoothSpec(s: Smooth): string {
  const attn = s.attention
    ? `    let Q = split_heads(y, ${s.heads})
    let A = softmax(Q @ transpose(Q) / 2 + causal_mask(L, ${s.causal}))
    let y2 = merge_heads(A @ Q) + y`
    : "    let y2 = y";
  const second = s.secondStage
    ? `    let z2 = over_time(m, T)
    return mean_time(fire2(z2) * 0.5 + z2) + m`
    : "    return m";
  return `
neuron Smooth(tau = 0.5) {
  state u = 0
  step(x) {
    u = tau * u + x
    emit tanh(u)
  }
}

model Net(vocab = 5, d = ${s.d}, h = ${s.h}) {
  timesteps T = ${s.T}
  embed = Embedding(vocab, d)
  lin1 = Linear(d, h)
  fire = Smooth(${s.tau})
  fire2 = Smooth(0.5)
  lin2 = Linear(h, d)
  norm = LayerNorm(d)
  forward(ids: int[B, L], x: [B, L, d]) -> [B, L, d] {
    let z = over_time(embed(ids) + x, T)
    let a = fire(lin1(z))
    let y = lin2(${s.nonlin})
${attn}
    let m = mean_time(norm(y2 + z))
${second}
  }
}
`;
}

function lossAt(graph: ReturnType<typeof compileEntry>["graph"], weights: Map<string, Tensor>, inputs: Map<string, Tensor>, probe: Float32Array): number {
  const params = ParamStore.create(graph.params, weights);
  const out = new ReferenceInterpreter(graph, params).run(inputs).output;
  let s = 0;
  for (let i = 0; i < probe.length; i++) s += out.data[i]! * probe[i]!;
  return s;
}

describe("gradients of smooth specs against finite differences", () => {
  it("directional derivatives over every weight and float input match central differences", () => {
    fc.assert(
      fc.property(smoothArb, (s) => {
        const r = xorshift32(s.seed);
        const file = writeSpec(smoothSpec(s));
        const ids = i32([s.B, s.L], Int32Array.from({ length: s.B * s.L }, () => Math.floor(r() * 5)));
        const x = f32([s.B, s.L, s.d], Float32Array.from({ length: s.B * s.L * s.d }, () => Math.fround(r() * 2 - 1)));
        const inputs = new Map<string, Tensor>([
          ["ids", ids],
          ["x", x],
        ]);
        const { graph } = compileEntry({ file, entry: "Net", inputs });
        const params = ParamStore.create(graph.params, new Map(), { seed: s.seed });
        const weights = new Map<string, Tensor>([...params.entries].map(([k, e]) => [k, e.tensor]));
        const probe = Float32Array.from({ length: s.B * s.L * s.d }, () => Math.fround(r() * 2 - 1));
        const g = gradients(graph, params, inputs, f32([s.B, s.L, s.d], probe), { optimize: false });
        // one random direction per weight tensor, and one for the float input
        const h = 1e-2;
        const check = (what: string, g0: Float32Array, shift: (sign: number, v: Float32Array) => number) => {
          const v = Float32Array.from(g0, () => r() * 2 - 1);
          let dd = 0;
          g0.forEach((gi, i) => (dd += gi * v[i]!));
          // Richardson: (4 D(h/2) - D(h)) / 3 cancels the h² error of central differences
          // (exp and sharp softmaxes curve enough for it to reach 2% at h = 1e-2)
          const central = (hh: number) => (shift(hh / h, v) - shift(-hh / h, v)) / (2 * hh);
          const fd = (4 * central(h / 2) - central(h)) / 3;
          expect(Math.abs(fd - dd), `${what}: analytic ${dd}, finite difference ${fd}\n${smoothSpec(s)}`).toBeLessThan(1e-2 * Math.abs(dd) + 2e-3);
        };
        const plus = (w: Tensor, sign: number, v: Float32Array) => f32(w.shape, Float32Array.from(w.data, (a, i) => a + sign * h * v[i]!));
        for (const [k, w] of weights)
          check(k, g.grads.get(k)!, (sign, v) => lossAt(graph, new Map([...weights].map(([k2, w2]) => [k2, k2 === k ? plus(w, sign, v) : w2])), inputs, probe));
        check("input x", g.inputGrads.get("x")!, (sign, v) => lossAt(graph, weights, new Map<string, Tensor>([["ids", ids], ["x", plus(x, sign, v)]]), probe));
      }),
      { numRuns: 25 },
    );
  });
});

// ------------------------------------------------------------------ paths and modes, bit for bit

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** A loss with no value whose gradient at the output is seeded uniform values in [-1, 1). */
function seededGradOutput(seed: number): (out: Tensor) => { loss: number; gradOutput: Tensor } {
  return (out) => {
    const rr = xorshift32(seed);
    return { loss: 0, gradOutput: f32(out.shape, Float32Array.from({ length: numel(out.shape) }, () => Math.fround(rr() * 2 - 1))) };
  };
}

function checkPathsAgree(gen: GeneratedSpec, seed: number): void {
  const file = writeSpec(gen.text);
  const { graph } = compileEntry({ file, entry: gen.entry, inputs: gen.inputs });
  let base: ReturnType<typeof gradients> | undefined;
  for (const optimize of [false, true])
    for (const mode of ["multi", "step"] as const) {
      let params: ParamStore;
      try {
        params = ParamStore.create(graph.params, gen.weights, { seed });
      } catch (e) {
        // weights the store refuses (the generator's business, not the gradients'): nothing to compare
        if (e instanceof UserError) return;
        throw e;
      }
      const res = gradients(
        graph,
        params,
        gen.inputs,
        seededGradOutput(seed),
        { optimize, mode, trainAmplitudes: true },
      );
      if (!base) {
        base = res;
        continue;
      }
      const what = `${optimize ? "optimized" : "reference"} ${mode} vs reference multi (${gen.description})`;
      expect([...res.grads.keys()], what).toEqual([...base.grads.keys()]);
      for (const [k, gv] of res.grads) expect(sameBits(gv, base.grads.get(k)!), `${what}: ${k}`).toBe(true);
      for (const [k, gv] of res.inputGrads) expect(sameBits(gv, base.inputGrads.get(k)!), `${what}: input ${k}`).toBe(true);
    }
}

describe("gradients do not depend on the execution path or mode", () => {
  it("optimized == reference and step == multi, bit for bit, on generated specs", () => {
    fc.assert(fc.property(specArb, fc.integer({ min: 0, max: 1000 }), (g, seed) => checkPathsAgree(g, seed)), { numRuns: 30 });
  });

  it("... also with NaN and ±Infinity in inputs and weights", () => {
    fc.assert(fc.property(specArbWith({ nonfinite: true }), fc.integer({ min: 0, max: 1000 }), (g, seed) => checkPathsAgree(g, seed)), { numRuns: 10 });
  });
});

// ------------------------------------------------------------------ the compiled neuron walk

/**
 * With amplitudes frozen (the default, training's), neuron calls backpropagate on the compiled
 * per-element walk (interpreter/autodiff/neuron-compiled.ts); training the amplitudes takes
 * the tensor walk, and must change no other gradient. So the two give the same weight and
 * input gradients, bit for bit, on generated specs (non-finite values included).
 */
function checkCompiledWalk(gen: GeneratedSpec, seed: number): void {
  const file = writeSpec(gen.text);
  const { graph } = compileEntry({ file, entry: gen.entry, inputs: gen.inputs });
  const run = (trainAmplitudes: boolean) => {
    const params = ParamStore.create(graph.params, gen.weights, { seed });
    return gradients(
      graph,
      params,
      gen.inputs,
      seededGradOutput(seed),
      { trainAmplitudes },
    );
  };
  let tensorWalk: ReturnType<typeof gradients>;
  try {
    tensorWalk = run(true);
  } catch (e) {
    if (e instanceof UserError) return;
    throw e;
  }
  const compiled = run(false);
  for (const [k, gv] of compiled.grads) expect(sameBits(gv, tensorWalk.grads.get(k)!), `${gen.description}: ${k}`).toBe(true);
  for (const [k, gv] of compiled.inputGrads) expect(sameBits(gv, tensorWalk.inputGrads.get(k)!), `${gen.description}: input ${k}`).toBe(true);
}

describe("compiled neuron backward", () => {
  it("gives the tensor walk's gradients bit for bit on generated specs", () => {
    fc.assert(fc.property(specArb, fc.integer({ min: 0, max: 1000 }), (g, seed) => checkCompiledWalk(g, seed)), { numRuns: 30 });
  });

  it("... also with NaN and ±Infinity in inputs and weights", () => {
    fc.assert(fc.property(specArbWith({ nonfinite: true }), fc.integer({ min: 0, max: 1000 }), (g, seed) => checkCompiledWalk(g, seed)), { numRuns: 15 });
  });

  it("is what the decoder's neurons run on (every call compiled)", () => {
    const file = path.join(REPO, "models/spikelm/spikelm_decoder.spk");
    const inputs = new Map<string, Tensor>([["ids", i32([1, 4], [1, 2, 3, 4])]]);
    const { graph } = compileEntry({ file, entry: "SpikeLMDecoder", args: { d: 8, heads: 2, depth: 1, ffn: 16, ctx: 4 }, inputs });
    const params = ParamStore.create(graph.params, new Map(), { seed: 1 });
    new ReferenceInterpreter(graph, params).run(inputs); // calibrates the amplitudes
    const tape = recordForward(graph, params, inputs, undefined, true);
    expect(tape.neurons.size).toBeGreaterThan(3);
    for (const f of tape.neurons.values()) expect(f.compiled).toBeDefined();
  });
});

