/**
 * Random well-typed specs for property tests: a neuron with random dynamics (binary,
 * ternary, elastic-amplitude or sign spikes; subtractive or multiplicative reset) and a
 * layer of random shape built from spiking linears, optional nonlinearity or LayerNorm and
 * optional spiking attention, sometimes wrapped in a model that adds and averages time.
 * Every generated spec is well-typed by construction; inputs are random finite floats.
 */
import fc from "fast-check";
import { type Tensor, f32 } from "../../interpreter/engine/tensor.js";

export interface GeneratedSpec {
  readonly text: string;
  readonly entry: string;
  readonly inputs: Map<string, Tensor>;
  readonly description: string;
}

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);

const neuronArb = fc.record({
  tau: pick(["0.25", "0.5", "0.75", "1.0"]),
  vth: pick(["0.5", "1.0", "1.5"]),
  k: pick(["0.5", "1.0", "2.0"]),
  drive: pick(["x", "tanh(x)", "x * 1.5", "abs(x) - 0.5", "relu(x) + x * 0.25"]),
  kind: pick(["binary", "ternary", "elastic", "elastic-mult", "sign"] as const),
  second: fc.boolean(),
});

type NeuronChoice = typeof neuronArb extends fc.Arbitrary<infer U> ? U : never;
type LayerChoice = typeof layerArb extends fc.Arbitrary<infer U> ? U : never;

function neuronText(n: NeuronChoice): string {
  const lines: string[] = [];
  const amp = n.kind === "elastic" || n.kind === "elastic-mult";
  lines.push(`neuron Gen(tau = ${n.tau}, vth = ${n.vth}, k = ${n.k}) {`);
  if (amp) lines.push("  amplitude alpha[T] = k * 2 * mean(abs(u)) + 0.01");
  lines.push("  state u = 0");
  if (n.second) lines.push("  state v = 0");
  if (n.kind === "elastic-mult") lines.push("  state carry = 0");
  lines.push("  step(x) {");
  lines.push(n.kind === "elastic-mult" ? `    u = carry * u + ${n.drive}` : `    u = tau * u + ${n.drive}`);
  if (n.second) lines.push("    v = 0.5 * v + relu(u)", "    u = u - 0.125 * v");
  switch (n.kind) {
    case "binary":
      lines.push("    let s = heaviside(u - vth)", "    u = u - s * vth", "    emit s");
      break;
    case "ternary":
      lines.push("    let s = clamp(round(u / vth), -1, 1)", "    u = u - s * vth", "    emit s");
      break;
    case "elastic":
      lines.push("    let s = clamp(round(u / alpha[t]), -1, 1)", "    u = u - s * alpha[t]", "    emit alpha[t] * s");
      break;
    case "elastic-mult":
      lines.push("    let s = clamp(round(u / alpha[t]), -1, 1)", "    carry = 0.25 * alpha[t] * (1 - s)", "    emit alpha[t] * s");
      break;
    case "sign":
      lines.push("    let s = sign(u)", "    u = u * tau", `    emit ${n.vth} * s`);
      break;
  }
  lines.push("  }", "}");
  return lines.join("\n");
}

const layerArb = fc.record({
  inp: fc.integer({ min: 1, max: 10 }),
  hidHeads: fc.integer({ min: 1, max: 3 }),
  hidPer: fc.integer({ min: 1, max: 5 }),
  out: fc.integer({ min: 1, max: 10 }),
  middle: pick(["none", "gelu", "relu", "tanh", "layernorm"] as const),
  attention: fc.boolean(),
  causal: fc.boolean(),
  wrap: fc.boolean(),
  T: fc.integer({ min: 1, max: 4 }),
  B: fc.integer({ min: 1, max: 2 }),
  L: fc.integer({ min: 1, max: 5 }),
});

function layerText(l: LayerChoice): string {
  const hid = l.hidHeads * l.hidPer;
  const lines = [`layer GenLayer(inp = ${l.inp}, hid = ${hid}, out = ${l.out}, heads = ${l.hidHeads}) {`, "  f1 = Gen()", "  f2 = Gen()", "  weight W1: [hid, inp]", "  weight b1: [hid] = zeros", "  weight W2: [out, hid]", "  weight b2: [out] = zeros"];
  if (l.middle === "layernorm") lines.push("  norm = LayerNorm(hid)");
  if (l.attention) lines.push("  kf = Gen()", "  vf = Gen()");
  lines.push("  forward(x: [T, B, L, inp]) -> [T, B, L, out] {", "    let h = f1(x) @ transpose(W1) + b1");
  if (l.middle === "layernorm") lines.push("    h = norm(h)");
  else if (l.middle !== "none") lines.push(`    h = ${l.middle}(h)`);
  if (l.attention) {
    lines.push(
      "    let Q = split_heads(h, heads)",
      "    let K = split_heads(kf(h), heads)",
      "    let V = split_heads(vf(h), heads)",
      `    let A = softmax(Q @ transpose(K) / sqrt(hid / heads) + causal_mask(L, ${l.causal}))`,
      "    h = h + merge_heads(A @ V)",
    );
  }
  lines.push("    return f2(h) @ transpose(W2) + b2", "  }", "}");
  if (l.wrap) {
    lines.push(
      `model GenModel() {`,
      `  timesteps T = ${l.T}`,
      "  body = GenLayer()",
      "  forward(x: [B, L, inp]) -> [B, L, out] {",
      "    return mean_time(body(over_time(x, T)))",
      "  }",
      "}",
    );
    // `inp` and `out` inside the model's signature refer to numbers: inline them.
    return lines.join("\n").replace("forward(x: [B, L, inp]) -> [B, L, out]", `forward(x: [B, L, ${l.inp}]) -> [B, L, ${l.out}]`);
  }
  return lines.join("\n");
}

export const specArb: fc.Arbitrary<GeneratedSpec> = fc
  .record({ neuron: neuronArb, layer: layerArb, seed: fc.integer({ min: 0, max: 1 << 30 }), scale: pick([0.5, 1, 3]) })
  .map(({ neuron, layer, seed, scale }) => {
    const text = `${neuronText(neuron)}\n\n${layerText(layer)}\n`;
    const shape = layer.wrap ? [layer.B, layer.L, layer.inp] : [layer.T, layer.B, layer.L, layer.inp];
    const n = shape.reduce((a, b) => a * b, 1);
    let s = seed >>> 0;
    const data = Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return ((s / 2 ** 32) * 2 - 1) * scale;
    });
    return {
      text,
      entry: layer.wrap ? "GenModel" : "GenLayer",
      inputs: new Map<string, Tensor>([["x", f32(shape, data)]]),
      description: `${neuron.kind} neuron, ${layer.middle}${layer.attention ? " + attention" : ""}${layer.wrap ? " in a model" : ""}, x ${JSON.stringify(shape)}`,
    };
  });
