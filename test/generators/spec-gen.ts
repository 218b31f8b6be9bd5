/**
 * Random well-typed specs for property tests, from several templates:
 * - layer: spiking linears around an optional nonlinearity or LayerNorm and optional
 *   spiking attention (softmax, causal mask), with a generated neuron;
 * - model: the same layer inside a model that repeats its input over time and averages;
 * - stages: two time stages (mean_time, then over_time again);
 * - layout: reshape, split/merge heads, transpose, slicing and indexing of scaled spikes
 *   before the spike-accumulate, and the generated neuron's spikes multiplied with a fixed
 *   ternary neuron's on either side (multi-level times ternary, see below);
 * - embed: embeddings + positions (gather), a `repeat depth { ... }` stack of generated
 *   blocks, a float head;
 * - stdlib: the stdlib's SpikeBlock / SpikeLinear with every stdlib neuron as `act`.
 * The generated neuron covers binary, ternary, elastic-amplitude (with and without the
 * reference's 1e-5 amplitude clamp, and with none at all, as the design's example), the
 * multiplicative reset and sign spikes, and levels beyond ±1, which the spike kernels do not
 * take: {-2..2} ("elastic frequency" style), {-2..2} times an amplitude, and {0, 100, 200}
 * (more than int8 holds). Input values (and the embedding tables, and edge
 * values for some weights) come from interpreter/verify/arbitraries.ts: -0, subnormals,
 * ties, overflow, all-zero and constant inputs, and NaN/±Infinity in float inputs when
 * `nonfinite` is set (tables are weights, which must be finite: there a non-finite profile
 * becomes "huge", whose sums overflow to Infinity inside the network).
 * Every generated spec is well-typed by construction.
 */
import fc from "fast-check";
import { type Tensor, f32, i32 } from "../../interpreter/engine/tensor.js";
import { type ValueProfile, fillValues, valueProfileArb } from "../../interpreter/verify/arbitraries.js";

export interface GeneratedSpec {
  readonly text: string;
  readonly entry: string;
  readonly inputs: Map<string, Tensor>;
  /** Weights given explicitly (by path); everything else is seeded. */
  readonly weights: Map<string, Tensor>;
  readonly description: string;
}

export interface SpecGenOptions {
  /** Allow NaN and ±Infinity in inputs and weights. */
  readonly nonfinite?: boolean;
}

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const seedArb = fc.integer({ min: 1, max: 0x7fffffff });

// ------------------------------------------------------------------ the generated neuron

const NEURON_KINDS = ["binary", "ternary", "elastic", "elastic-eps", "elastic-raw", "elastic-mult", "mult-eps", "sign", "multi", "multi-elastic", "wide"] as const;

const neuronArb = fc.record({
  tau: pick(["0.25", "0.5", "0.75", "1.0"]),
  vth: pick(["0.5", "1.0", "1.5", "0.0"]),
  k: pick(["0.5", "1.0", "2.0"]),
  drive: pick(["x", "tanh(x)", "x * 1.5", "abs(x) - 0.5", "relu(x) + x * 0.25", "round(x)", "sign(x) * 0.75", "heaviside(x) - 0.5", "x / vth"]),
  kind: pick(NEURON_KINDS),
  second: fc.boolean(),
});
type NeuronChoice = typeof neuronArb extends fc.Arbitrary<infer U> ? U : never;

function neuronText(n: NeuronChoice): string {
  const lines: string[] = [];
  const amp = n.kind.startsWith("elastic") || n.kind === "mult-eps" || n.kind === "multi-elastic";
  const mult = n.kind === "elastic-mult" || n.kind === "mult-eps";
  lines.push(`neuron Gen(tau = ${n.tau}, vth = ${n.vth}, k = ${n.k}) {`);
  // "+ 0.01" keeps the amplitude positive; the eps and raw kinds calibrate 0 on a zero input.
  const offset = n.kind === "elastic" || n.kind === "elastic-mult" || n.kind === "multi-elastic" ? " + 0.01" : "";
  if (amp) lines.push(`  amplitude alpha[T] = k * 2 * mean(abs(u))${offset}`);
  lines.push("  state u = 0");
  if (n.second) lines.push("  state v = 0");
  if (mult) lines.push("  state carry = 0");
  lines.push("  step(x) {");
  lines.push(mult ? `    u = carry * u + ${n.drive}` : `    u = tau * u + ${n.drive}`);
  if (n.second) lines.push("    v = 0.5 * v + relu(u)", "    u = u - 0.125 * v");
  const fireWith = (a: string) => [`    let s = clamp(round(u / ${a}), -1, 1)`];
  switch (n.kind) {
    case "binary":
      lines.push("    let s = heaviside(u - vth)", "    u = u - s * vth", "    emit s");
      break;
    case "ternary":
      lines.push("    let s = clamp(round(u / vth), -1, 1)", "    u = u - s * vth", "    emit s");
      break;
    case "elastic":
    case "elastic-raw":
      lines.push(...fireWith("alpha[t]"), "    u = u - s * alpha[t]", "    emit alpha[t] * s");
      break;
    case "elastic-eps":
      lines.push("    let a = at_least(alpha[t], 1e-5)", ...fireWith("a"), "    u = u - s * a", "    emit a * s");
      break;
    case "elastic-mult":
      lines.push(...fireWith("alpha[t]"), "    carry = 0.25 * alpha[t] * (1 - s)", "    emit alpha[t] * s");
      break;
    case "mult-eps":
      lines.push("    let a = at_least(alpha[t], 1e-5)", ...fireWith("a"), "    carry = 0.25 * alpha[t] * (1 - s)", "    emit a * s");
      break;
    case "sign":
      // vth = 0 would make `0 * s` a plain spike; the sign neuron always scales by a constant
      lines.push("    let s = sign(u)", "    u = u * tau", `    emit ${n.vth === "0.0" ? "0.5" : n.vth} * s`);
      break;
    case "multi":
      lines.push("    let s = clamp(round(u / vth), -2, 2)", "    u = u - s * vth", "    emit s");
      break;
    case "multi-elastic":
      lines.push("    let s = clamp(round(u / alpha[t]), -2, 2)", "    u = u - s * alpha[t]", "    emit alpha[t] * s");
      break;
    case "wide":
      lines.push("    let s = clamp(round(u / vth), 0, 2)", "    u = u - s * vth", "    emit s * 100");
      break;
  }
  lines.push("  }", "}");
  return lines.join("\n");
}

// ------------------------------------------------------------------ shared pieces

/** Sizes: usually small, sometimes beyond 400 input elements. */
const sizesArb = fc.oneof(
  { weight: 2, arbitrary: fc.record({ heads: fc.integer({ min: 1, max: 3 }), per: fc.integer({ min: 1, max: 5 }), T: fc.integer({ min: 1, max: 4 }), B: fc.integer({ min: 1, max: 2 }), L: fc.integer({ min: 1, max: 5 }) }) },
  // wider rows than a 24-column kernel tile, more rows than fit one work item
  { weight: 1, arbitrary: fc.record({ heads: fc.integer({ min: 1, max: 4 }), per: fc.integer({ min: 7, max: 12 }), T: fc.integer({ min: 1, max: 3 }), B: fc.integer({ min: 1, max: 2 }), L: fc.integer({ min: 8, max: 16 }) }) },
);
type Sizes = typeof sizesArb extends fc.Arbitrary<infer U> ? U : never;

const valuesArb = (opts: SpecGenOptions) => fc.record({ profile: valueProfileArb(opts), seed: seedArb });

function floatInput(shape: number[], v: { profile: ValueProfile; seed: number }): Tensor {
  return f32(shape, fillValues(shape.reduce((a, b) => a * b, 1), v.profile, v.seed));
}

/** Weights must be finite: a non-finite profile becomes values that overflow when summed. */
function tableInput(shape: number[], v: { profile: ValueProfile; seed: number }): Tensor {
  return floatInput(shape, v.profile === "nonfinite" ? { ...v, profile: "huge" } : v);
}

function idsInput(shape: number[], vocab: number, seed: number): Tensor {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  return i32(shape, Int32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s % vocab)));
}

/**
 * Sometimes one weight gets edge values too: -0, subnormals, float32 max, magnitudes whose
 * products overflow. Weights are finite (a weights file with NaN or Infinity is refused),
 * so non-finite operands of a matmul come from activations.
 */
const weightEdgeArb = (_opts: SpecGenOptions) => fc.option(fc.record({ profile: pick<ValueProfile>(["mixed", "huge", "subnormal"]), seed: seedArb }), { freq: 3 });

function weightsFor(paths: [string, number[]][], edge: { profile: ValueProfile; seed: number } | null, which: number): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  if (edge && paths.length) {
    const [p, shape] = paths[which % paths.length]!;
    m.set(p, floatInput(shape, edge));
  }
  return m;
}

const shape = (xs: number[]) => JSON.stringify(xs);

// ------------------------------------------------------------------ template: layer / model

const layerArb = (opts: SpecGenOptions) =>
  fc.record({
    neuron: neuronArb,
    sizes: sizesArb,
    inp: fc.integer({ min: 1, max: 10 }),
    out: fc.integer({ min: 1, max: 10 }),
    middle: pick(["none", "gelu", "relu", "tanh", "layernorm", "exp", "log", "sqrt", "by-mean", "sub-max"] as const),
    attention: fc.boolean(),
    causal: fc.boolean(),
    wrap: fc.boolean(),
    values: valuesArb(opts),
    weightEdge: weightEdgeArb(opts),
    which: fc.nat(),
  });

function layerText(l: { inp: number; out: number; sizes: Sizes; middle: string; attention: boolean; causal: boolean }, name = "GenLayer"): string {
  const { heads } = l.sizes;
  const hid = heads * l.sizes.per;
  const lines = [`layer ${name}(inp = ${l.inp}, hid = ${hid}, out = ${l.out}, heads = ${heads}) {`, "  f1 = Gen()", "  f2 = Gen()", "  weight W1: [hid, inp]", "  weight b1: [hid] = zeros", "  weight W2: [out, hid]", "  weight b2: [out] = zeros"];
  if (l.middle === "layernorm") lines.push("  norm = LayerNorm(hid)");
  if (l.attention) lines.push("  kf = Gen()", "  vf = Gen()");
  lines.push("  forward(x: [T, B, L, inp]) -> [T, B, L, out] {", "    let h = f1(x) @ transpose(W1) + b1");
  // exp, log, sqrt and the divisions reach Infinity, NaN and -0 on ordinary inputs
  const middle: Record<string, string> = { layernorm: "norm(h)", log: "log(abs(h))", sqrt: "sqrt(h)", "by-mean": "h / mean(abs(h))", "sub-max": "h - max(h)" };
  if (l.middle !== "none") lines.push(`    h = ${middle[l.middle] ?? `${l.middle}(h)`}`);
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
  return lines.join("\n");
}

const layerSpec = (opts: SpecGenOptions) =>
  layerArb(opts).map((l): GeneratedSpec => {
    const { T, B, L, heads, per } = l.sizes;
    const hid = heads * per;
    let text = `${neuronText(l.neuron)}\n\n${layerText(l)}\n`;
    if (l.wrap) {
      text += [
        `model GenModel() {`,
        `  timesteps T = ${T}`,
        "  body = GenLayer()",
        `  forward(x: [B, L, ${l.inp}]) -> [B, L, ${l.out}] {`,
        "    return mean_time(body(over_time(x, T)))",
        "  }",
        "}",
      ].join("\n");
    }
    const xShape = l.wrap ? [B, L, l.inp] : [T, B, L, l.inp];
    const pre = l.wrap ? "body." : "";
    return {
      text,
      entry: l.wrap ? "GenModel" : "GenLayer",
      inputs: new Map([["x", floatInput(xShape, l.values)]]),
      weights: weightsFor([[`${pre}W1`, [hid, l.inp]], [`${pre}W2`, [l.out, hid]]], l.weightEdge, l.which),
      description: `layer: ${l.neuron.kind} neuron, ${l.middle}${l.attention ? " + attention" : ""}${l.wrap ? " in a model" : ""}, x ${shape(xShape)} ${l.values.profile}`,
    };
  });

// ------------------------------------------------------------------ template: stages

const stagesSpec = (opts: SpecGenOptions) =>
  fc.record({ neuron: neuronArb, sizes: sizesArb, stages: fc.integer({ min: 2, max: 3 }), values: valuesArb(opts), weightEdge: weightEdgeArb(opts), which: fc.nat() }).map((s): GeneratedSpec => {
    const { T, B, L, heads, per } = s.sizes;
    const d = heads * per;
    const lines = [
      neuronText(s.neuron),
      "",
      "layer Stage(d) {",
      "  f = Gen()",
      "  weight W: [d, d]",
      "  forward(x: [T, B, L, d]) -> [T, B, L, d] {",
      "    return f(x) @ transpose(W)",
      "  }",
      "}",
      "",
      "model GenModel() {",
      `  timesteps T = ${T}`,
      ...Array.from({ length: s.stages }, (_, i) => `  s${i} = Stage(${d})`),
      `  forward(x: [B, L, ${d}]) -> [B, L, ${d}] {`,
      "    let z0 = x",
      ...Array.from({ length: s.stages }, (_, i) => `    let z${i + 1} = mean_time(s${i}(over_time(${i === 0 ? "z0" : `gelu(z${i}) + z${i}`}, T)))`),
      `    return z${s.stages}`,
      "  }",
      "}",
    ];
    const xShape = [B, L, d];
    return {
      text: lines.join("\n") + "\n",
      entry: "GenModel",
      inputs: new Map([["x", floatInput(xShape, s.values)]]),
      weights: weightsFor(Array.from({ length: s.stages }, (_, i): [string, number[]] => [`s${i}.W`, [d, d]]), s.weightEdge, s.which),
      description: `stages: ${s.stages} time stages, ${s.neuron.kind} neuron, x ${shape(xShape)} ${s.values.profile}`,
    };
  });

// ------------------------------------------------------------------ template: layout

const LAYOUT_VARIANTS = ["reshape", "heads", "index", "transpose", "mixed", "mixed-right"] as const;
type LayoutVariant = (typeof LAYOUT_VARIANTS)[number];

const layoutSpec = (opts: SpecGenOptions, variants: readonly LayoutVariant[] = LAYOUT_VARIANTS, neuron = neuronArb) =>
  fc
    .record({ neuron, sizes: sizesArb, out: fc.integer({ min: 1, max: 6 }), variant: pick(variants), values: valuesArb(opts), weightEdge: weightEdgeArb(opts), which: fc.nat() })
    .map((s): GeneratedSpec => {
      const { T, B, L, heads, per } = s.sizes;
      const d = heads * per;
      const o = s.out;
      const body: string[] = [];
      let ret: string;
      let weights: [string, number[]][];
      let decl: [string, string];
      switch (s.variant) {
        case "reshape":
          // [T,B,L,heads,per] scaled spike @ [per, out], then back to [T,B,L,heads*out]
          body.push("    let y = reshape(f1(x), B, L, heads, per) @ W1", "    return f2(reshape(y, B, L, heads * out)) @ W2");
          ret = "[T, B, L, out]";
          decl = ["per, out", "heads * out, out"];
          weights = [["W1", [per, o]], ["W2", [heads * o, o]]];
          break;
        case "heads":
          // split/merge heads of a spike, and a spike as the right operand (A @ S, Q @ S^T)
          body.push(
            "    let S = split_heads(f1(x), heads)",
            "    let Q = split_heads(x, heads)",
            "    let A = softmax(Q @ transpose(S))",
            "    let y = merge_heads(A @ split_heads(f2(x), heads))",
            "    return y @ W1",
          );
          ret = "[T, B, L, out]";
          decl = ["heads * per, out", "1, 1"];
          weights = [["W1", [d, o]], ["W2", [1, 1]]];
          break;
        case "index":
          // index the batch axis, slice the feature axis of a scaled spike
          body.push("    let s = f1(x)[0]", "    let y = s[:, 0:1] @ W1", "    return f2(y) @ W2");
          ret = "[T, L, out]";
          decl = ["1, out", "out, out"];
          weights = [["W1", [1, o]], ["W2", [o, o]]];
          break;
        case "transpose":
          // a spike transposed on per-step axes before a matmul from the left
          body.push("    let s = transpose(f1(x), 0, 2, 1)", "    let y = W1 @ s", "    return transpose(f2(y), 0, 2, 1) @ W2");
          ret = "[T, B, L, out]";
          decl = ["out, heads * per", "out, out"];
          weights = [["W1", [o, d]], ["W2", [o, o]]];
          break;
        case "mixed":
          // the generated neuron's spikes M left of a ternary neuron's S: only a ternary
          // operand may become the kernels' spike operand (they keep a level's sign; int8
          // holds no 200), so M stays a float operand
          body.push("    let M = f1(x)", "    let y = (M @ transpose(tern(x))) @ f2(x)", "    return y @ W1");
          ret = "[T, B, L, out]";
          decl = ["heads * per, out", "1, 1"];
          weights = [["W1", [d, o]], ["W2", [1, 1]]];
          break;
        case "mixed-right":
          // M as the float operand of a ternary spike's products (in a weight's slot at one
          // step and one batch), also through split heads
          body.push(
            "    let M = f1(x)",
            "    let S = tern(x)",
            "    let z = (S @ transpose(M)) @ S + S @ (transpose(S) @ M)",
            "    let K = split_heads(S, heads)",
            "    return (z + merge_heads((K @ transpose(split_heads(M, heads))) @ K)) @ W1",
          );
          ret = "[T, B, L, out]";
          decl = ["heads * per, out", "1, 1"];
          weights = [["W1", [d, o]], ["W2", [1, 1]]];
          break;
      }
      const tern = ["neuron GenTern(vth = 0.5) {", "  state u = 0", "  step(x) {", "    u = 0.75 * u + x", "    let s = clamp(round(u / vth), -1, 1)", "    u = u - s * vth", "    emit s", "  }", "}", ""];
      const lines = [
        neuronText(s.neuron),
        "",
        ...(s.variant.startsWith("mixed") ? tern : []),
        `layer GenLayer(heads = ${heads}, per = ${per}, out = ${o}) {`,
        "  f1 = Gen()",
        "  f2 = Gen()",
        ...(s.variant.startsWith("mixed") ? ["  tern = GenTern()"] : []),
        `  weight W1: [${decl[0]}]`,
        `  weight W2: [${decl[1]}]`,
        `  forward(x: [T, B, L, heads * per]) -> ${ret} {`,
        ...body,
        "  }",
        "}",
      ];
      const xShape = [T, B, L, d];
      return {
        text: lines.join("\n") + "\n",
        entry: "GenLayer",
        inputs: new Map([["x", floatInput(xShape, s.values)]]),
        weights: weightsFor(weights, s.weightEdge, s.which),
        description: `layout (${s.variant}): ${s.neuron.kind} neuron, x ${shape(xShape)} ${s.values.profile}`,
      };
    });

// ------------------------------------------------------------------ template: embed + repeat

const embedSpec = (opts: SpecGenOptions, causalAttention = false) =>
  fc
    .record({ neuron: neuronArb, sizes: sizesArb, vocab: fc.integer({ min: 2, max: 12 }), depth: fc.integer({ min: 1, max: 3 }), attention: causalAttention ? fc.constant(true) : fc.boolean(), causal: causalAttention ? fc.constant(true) : fc.boolean(), table: valuesArb(opts), ids: seedArb, weightEdge: weightEdgeArb(opts), which: fc.nat() })
    .map((s): GeneratedSpec => {
      const { T, B, L, heads, per } = s.sizes;
      const d = heads * per;
      const lines = [
        neuronText(s.neuron),
        "",
        "layer GenBlock(d, heads, causal = false) {",
        "  f1 = Gen()",
        "  kf = Gen()",
        "  weight W1: [d, d]",
        "  weight b1: [d] = zeros",
        "  norm = LayerNorm(d)",
        "  forward(x: [T, B, L, d]) -> [T, B, L, d] {",
        "    let h = gelu(f1(x) @ transpose(W1) + b1)",
        ...(s.attention
          ? ["    let Q = split_heads(h, heads)", "    let K = split_heads(kf(h), heads)", "    h = h + merge_heads(softmax(Q @ transpose(K) + causal_mask(L, causal)) @ K)"]
          : []),
        "    return norm(x + h)",
        "  }",
        "}",
        "",
        `model GenModel(vocab = ${s.vocab}, d = ${d}, heads = ${heads}, depth = ${s.depth}, ctx = ${L}) {`,
        `  timesteps T = ${T}`,
        "  embed = Embedding(vocab, d)",
        "  pos = Embedding(ctx, d)",
        `  blocks = repeat depth { GenBlock(d, heads, causal = ${s.causal}) }`,
        "  head = Linear(d, vocab)",
        "  forward(ids: int[B, L]) -> [B, L, vocab] {",
        "    let h = embed(ids) + pos(positions(ids))",
        "    return head(mean_time(blocks(over_time(h, T))))",
        "  }",
        "}",
      ];
      // The embedding table carries the value profile: it is what reaches the neurons.
      const weights = new Map<string, Tensor>([["embed.table", tableInput([s.vocab, d], s.table)]]);
      for (const [k, v] of weightsFor(Array.from({ length: s.depth }, (_, i): [string, number[]] => [`blocks.${i}.W1`, [d, d]]), s.weightEdge, s.which)) weights.set(k, v);
      return {
        text: lines.join("\n") + "\n",
        entry: "GenModel",
        inputs: new Map([["ids", idsInput([B, L], s.vocab, s.ids)]]),
        weights,
        description: `embed: depth ${s.depth}${s.attention ? " + attention" : ""}, ${s.neuron.kind} neuron, ids [${B}, ${L}], table ${s.table.profile}`,
      };
    });

// ------------------------------------------------------------------ template: stdlib

const STDLIB_NEURONS = ["LIF()", "BiLIF()", "ElasticBiSpike()", "ElasticBiSpike(k = 2.0)", "SpikeLMReference()", "SpikeLMReference(k = 0.5)", "SpikeLMReference1Bit()", "BiSpikeQuant()"] as const;

const stdlibSpec = (opts: SpecGenOptions) =>
  fc
    .record({ act: pick(STDLIB_NEURONS), sizes: sizesArb, block: fc.boolean(), ids: fc.boolean(), alpha: fc.option(pick([1e-7, 1e-5, 1.401298464324817e-45, 0.75, 1e30]), { freq: 3 }), vocab: fc.integer({ min: 2, max: 10 }), causal: fc.boolean(), values: valuesArb(opts), idSeed: seedArb, weightEdge: weightEdgeArb(opts), which: fc.nat() })
    .map((s): GeneratedSpec => {
      const { T, B, L, heads, per } = s.sizes;
      const d = heads * per;
      const stack = s.block ? `SpikeBlock(d, heads, ${2 * d}, causal = ${s.causal}, act = ${s.act})` : `SpikeLinear(d, d, act = ${s.act})`;
      const lines = [
        'import "std/neurons"',
        'import "std/layers"',
        "",
        `model GenModel(vocab = ${s.vocab}, d = ${d}, heads = ${heads}) {`,
        `  timesteps T = ${T}`,
        "  embed = Embedding(vocab, d)",
        `  blocks = repeat 2 { ${stack} }`,
        s.ids ? "  forward(ids: int[B, L]) -> [B, L, d] {" : "  forward(x: [B, L, d]) -> [B, L, d] {",
        `    return mean_time(blocks(over_time(${s.ids ? "embed(ids)" : "x"}, T)))`,
        "  }",
        "}",
      ];
      const weights = s.ids ? new Map<string, Tensor>([["embed.table", tableInput([s.vocab, d], s.values)]]) : new Map<string, Tensor>();
      const wPath = s.block ? "up.W" : "W";
      for (const [k, v] of weightsFor([[`blocks.0.${wPath}`, s.block ? [2 * d, d] : [d, d]]], s.weightEdge, s.which)) weights.set(k, v);
      // A given amplitude is never recalibrated: tiny ones fire with the clamp's 1e-5.
      const amplitude = s.act.startsWith("LIF") || s.act.startsWith("BiLIF") ? undefined : `blocks.1.${s.block ? "up." : ""}fire.alpha`;
      if (s.alpha !== null && amplitude) weights.set(amplitude, f32([T], new Float32Array(T).fill(s.alpha)));
      return {
        text: lines.join("\n") + "\n",
        entry: "GenModel",
        inputs: new Map([s.ids ? ["ids", idsInput([B, L], s.vocab, s.idSeed)] : ["x", floatInput([B, L, d], s.values)]]),
        weights,
        description: `stdlib: ${s.block ? "SpikeBlock" : "SpikeLinear"} x2 with ${s.act}${s.alpha !== null ? ` (alpha given: ${s.alpha})` : ""}, ${s.ids ? `ids [${B}, ${L}]` : `x ${shape([B, L, d])}`} ${s.values.profile}`,
      };
    });

// ------------------------------------------------------------------ all templates

export function specArbWith(opts: SpecGenOptions = {}): fc.Arbitrary<GeneratedSpec> {
  return fc.oneof(
    { weight: 3, arbitrary: layerSpec(opts) },
    { weight: 1, arbitrary: stagesSpec(opts) },
    { weight: 2, arbitrary: layoutSpec(opts) },
    { weight: 2, arbitrary: embedSpec(opts) },
    { weight: 2, arbitrary: stdlibSpec(opts) },
  );
}

/**
 * Causal language models (the embed template with causal attention: keys and values are
 * spikes of a generated neuron) for generation tests; the model's `ctx` argument sets its
 * context, and its ids input is whatever the generator feeds.
 */
export function decoderSpecArb(opts: SpecGenOptions = {}): fc.Arbitrary<GeneratedSpec> {
  return embedSpec(opts, true);
}

/**
 * The generated neuron's spikes multiplied with a ternary neuron's on either side (the layout
 * template's mixed variants), the neuron mostly one whose levels go beyond ±1.
 */
export function mixedLevelsSpecArb(opts: SpecGenOptions = {}): fc.Arbitrary<GeneratedSpec> {
  const kinds = pick(["multi", "wide", "multi-elastic", "multi", "wide", "ternary", "elastic"] as const);
  return layoutSpec(opts, ["mixed", "mixed-right"], fc.tuple(neuronArb, kinds).map(([n, kind]) => ({ ...n, kind })));
}

/** Finite inputs (with -0, subnormals, overflow to Infinity inside the network). */
export const specArb: fc.Arbitrary<GeneratedSpec> = specArbWith();
