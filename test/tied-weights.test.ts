/**
 * Shared (tied) weights: a forward reads a weight of one of its fields (`word.table`,
 * `embeddings.word.table`), as BERT's masked-LM decoder reads the word embeddings.
 *
 * 1. The IR holds one parameter under one path, read by two nodes.
 * 2. Its gradient is the sum of both uses: on generated tied specs (embedding, a decoder
 *    reading the table, optionally through a nested layer, a smooth neuron and LayerNorm),
 *    directional derivatives over every weight match central differences of the float32
 *    forward; and bit for bit it is fround(g_embedding + g_decoder) of the same spec untied
 *    (a separate decoder matrix holding the same values), the double-accumulate-then-round
 *    rule of docs/language.md#gradients.
 * 3. Tied == untied with equal values, forward bit for bit; optimized == reference and
 *    step == multi for outputs and gradients bit for bit with spiking neurons, edge values
 *    (-0, subnormals, NaN, ±Infinity) included.
 * 4. Misuse: a located diagnostic per mistake (unknown member, not a weight, writing, ...).
 */
import fc from "fast-check";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "../grammar/index.js";
import type { ForwardDecl, ModuleDecl, Stmt } from "../grammar/ast.js";
import { gradients } from "../interpreter/autodiff/index.js";
import { checkFiles } from "../interpreter/checker/check.js";
import { compileEntry } from "../interpreter/compile.js";
import { type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import { ReferenceInterpreter } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { xorshift32 } from "../interpreter/verify/arbitraries.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-tied-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const writeSpec = (text: string) => {
  const file = path.join(dir, `t${counter++}.spk`);
  fs.writeFileSync(file, text);
  return file;
};

// ------------------------------------------------------------------ generated tied specs

interface TiedCase {
  vocab: number;
  d: number;
  B: number;
  L: number;
  T: number;
  nested: boolean;
  norm: boolean;
  neuron: "none" | "smooth" | "spiking";
  pad: number;
  seed: number;
}

const caseArb = (neurons: readonly TiedCase["neuron"][]): fc.Arbitrary<TiedCase> =>
  fc.record({
    vocab: fc.integer({ min: 2, max: 7 }),
    // d >= 4: LayerNorm over 2 features is ±1, a step function a finite difference cannot follow
    d: fc.integer({ min: 2, max: 3 }).map((x) => 2 * x),
    B: fc.integer({ min: 1, max: 2 }),
    L: fc.integer({ min: 1, max: 3 }),
    T: fc.integer({ min: 1, max: 3 }),
    nested: fc.boolean(),
    norm: fc.boolean(),
    neuron: fc.constantFrom(...neurons),
    pad: fc.integer({ min: -1, max: 1 }),
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
  });

/**
 * The model `Tied` reads the embedding table in its decoder; `Untied` is the same model with a
 * decoder matrix of its own (`dec`), for the sum-of-uses oracle.
 */
function specText(c: TiedCase): string {
  const table = c.nested ? "emb.word.table" : "word.table";
  const embed = c.nested ? "emb(ids)" : "word(ids)";
  const fields = c.nested ? "  emb = Embeds(vocab, d, pad)" : "  word = Embedding(vocab, d, pad)";
  const hidden = c.neuron === "none" ? `${embed} + x` : `mean_time(fire(over_time(${embed} + x, T)) + over_time(x, T))`;
  const h = c.norm ? `norm(${hidden})` : hidden;
  const fire = c.neuron === "smooth" ? "  fire = Smooth()" : c.neuron === "spiking" ? "  fire = SpikeLMReference()" : "";
  const model = (name: string, decoder: string, extra: string) => `
model ${name}(vocab = ${c.vocab}, d = ${c.d}, pad = ${c.pad}) {
  timesteps T = ${c.T}
${fields}
${fire}
  norm = LayerNorm(d)
  head = Head(d, vocab)
${extra}
  forward(ids: int[B, L], x: [B, L, d]) -> [B, L, vocab] {
    return head(${h}, ${decoder})
  }
}`;
  return `import "std/neurons"

neuron Smooth(tau = 0.5) {
  state u = 0
  step(x) {
    u = tau * u + x
    emit tanh(u)
  }
}

layer Embeds(vocab, d, pad) {
  word = Embedding(vocab, d, pad)
  forward(ids: int[B, L]) -> [B, L, d] {
    return word(ids)
  }
}

/// BERT's decoder: the vocabulary projection is a [vocab, d] table given by the caller.
layer Head(d, vocab) {
  weight bias: [vocab] = uniform(0.5)
  forward(h: [B, L, d], table: [vocab, d]) -> [B, L, vocab] {
    return gelu(h) @ transpose(table) + bias
  }
}
${model("Tied", table, "")}
${model("Untied", "dec", "  weight dec: [vocab, d]")}
`;
}

interface Built {
  file: string;
  inputs: Map<string, Tensor>;
  tableKey: string;
}

function build(c: TiedCase, values: "smooth" | "edge" = "smooth"): Built {
  const r = xorshift32(c.seed);
  const EDGE = [0, -0, 1e-40, -1e-40, 0.5, -1.5, 3.4e38, Number.NaN, Infinity, -Infinity];
  const val = () => (values === "edge" && r() < 0.15 ? EDGE[Math.floor(r() * EDGE.length)]! : Math.fround(r() * 2 - 1));
  const ids = i32([c.B, c.L], Int32Array.from({ length: c.B * c.L }, () => Math.floor(r() * c.vocab)));
  const x = f32([c.B, c.L, c.d], Float32Array.from({ length: c.B * c.L * c.d }, val));
  return { file: writeSpec(specText(c)), inputs: new Map<string, Tensor>([["ids", ids], ["x", x]]), tableKey: c.nested ? "emb.word.table" : "word.table" };
}

/** Seeded weights of `Tied`, and the same values for `Untied` (its `dec` = the table). */
function weightsFor(b: Built, seed: number, tiedGraph: ReturnType<typeof compileEntry>["graph"]): { tied: Map<string, Tensor>; untied: Map<string, Tensor> } {
  const params = ParamStore.create(tiedGraph.params, new Map(), { seed });
  const tied = new Map<string, Tensor>([...params.entries].filter(([, e]) => e.spec.kind === "weight").map(([k, e]) => [k, e.tensor]));
  const untied = new Map(tied);
  untied.set("dec", tied.get(b.tableKey)!);
  return { tied, untied };
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

const probeFor = (c: TiedCase, seed: number) => {
  const r = xorshift32(seed ^ 0x5bd1e995);
  return f32([c.B, c.L, c.vocab], Float32Array.from({ length: c.B * c.L * c.vocab }, () => Math.fround(r() * 2 - 1)));
};

describe("one parameter, one path, used twice", () => {
  it("the IR has one `word.table` parameter read by two param nodes, and no decoder matrix", () => {
    const c: TiedCase = { vocab: 5, d: 4, B: 1, L: 2, T: 2, nested: false, norm: false, neuron: "none", pad: -1, seed: 1 };
    const b = build(c);
    const { graph } = compileEntry({ file: b.file, entry: "Tied", inputs: b.inputs });
    expect(graph.params.map((p) => p.path).sort()).toEqual(["head.bias", "norm.beta", "norm.gamma", "word.table"]);
    expect(graph.nodes.filter((n) => n.op === "param" && n.attrs.path === "word.table")).toHaveLength(2);
    const nested = build({ ...c, nested: true });
    const g2 = compileEntry({ file: nested.file, entry: "Tied", inputs: nested.inputs }).graph;
    expect(g2.params.filter((p) => p.path === "emb.word.table")).toHaveLength(1);
    expect(g2.nodes.filter((n) => n.op === "param" && n.attrs.path === "emb.word.table")).toHaveLength(2);
  });
});

describe("the gradient of a shared weight is the sum of its uses", () => {
  it("directional derivatives over every weight (the shared table included) match central differences", () => {
    fc.assert(
      // no padding id: its row's lookup gets no gradient by design (PyTorch's padding_idx),
      // which a finite difference of the forward cannot see
      fc.property(caseArb(["none", "smooth"]).map((c0) => ({ ...c0, pad: -1 })), (c) => {
        const b = build(c);
        const { graph } = compileEntry({ file: b.file, entry: "Tied", inputs: b.inputs });
        const { tied: weights } = weightsFor(b, c.seed, graph);
        const probe = probeFor(c, c.seed);
        const lossAt = (w: Map<string, Tensor>) => {
          const out = new ReferenceInterpreter(graph, ParamStore.create(graph.params, w)).run(b.inputs).output;
          let s = 0;
          for (let i = 0; i < probe.data.length; i++) s += out.data[i]! * probe.data[i]!;
          return s;
        };
        const g = gradients(graph, ParamStore.create(graph.params, weights), b.inputs, probe, { optimize: false });
        const r = xorshift32(c.seed ^ 0x2545f491);
        const h = 1e-2;
        for (const [k, w] of weights) {
          const v = Float32Array.from(w.data, () => r() * 2 - 1);
          let dd = 0;
          g.grads.get(k)!.forEach((gi, i) => (dd += gi * v[i]!));
          const shifted = (step: number) => lossAt(new Map([...weights].map(([k2, w2]) => [k2, k2 === k ? f32(w.shape, Float32Array.from(w.data, (a, i) => a + step * v[i]!)) : w2])));
          const central = (hh: number) => (shifted(hh) - shifted(-hh)) / (2 * hh);
          // Richardson: (4 D(h/2) - D(h)) / 3 cancels the h² error of central differences
          const fd = (4 * central(h / 2) - central(h)) / 3;
          expect(Math.abs(fd - dd), `${k}: analytic ${dd}, finite difference ${fd}\n${specText(c)}`).toBeLessThan(1e-2 * Math.abs(dd) + 2e-3);
        }
      }),
      { numRuns: 20 },
    );
  });

  it("bit for bit: the shared table's gradient is fround(embedding's + decoder's) of the untied spec with the same values", () => {
    fc.assert(
      fc.property(caseArb(["none", "smooth", "spiking"]), fc.boolean(), (c, optimize) => {
        const b = build(c);
        const tiedC = compileEntry({ file: b.file, entry: "Tied", inputs: b.inputs });
        const untiedC = compileEntry({ file: b.file, entry: "Untied", inputs: b.inputs });
        const { tied, untied } = weightsFor(b, c.seed, tiedC.graph);
        const probe = probeFor(c, c.seed);
        const gt = gradients(tiedC.graph, ParamStore.create(tiedC.graph.params, tied), b.inputs, probe, { optimize });
        const gu = gradients(untiedC.graph, ParamStore.create(untiedC.graph.params, untied), b.inputs, probe, { optimize });
        expect(sameBits(gt.output.data, gu.output.data), "tied and untied forwards differ").toBe(true);
        const emb = gu.grads.get(b.tableKey)!;
        const dec = gu.grads.get("dec")!;
        const want = Float32Array.from(emb, (e, i) => Math.fround(e + dec[i]!));
        expect(sameBits(gt.grads.get(b.tableKey)!, want), specText(c)).toBe(true);
        for (const [k, g] of gt.grads) if (k !== b.tableKey) expect(sameBits(g, gu.grads.get(k)!), k).toBe(true);
        // the padding row gets no gradient from the lookup, but still gets the decoder's
        if (c.pad >= 0 && c.pad < c.vocab) {
          const row = (a: Float32Array) => Array.from(a.subarray(c.pad * c.d, (c.pad + 1) * c.d));
          expect(row(emb).every((v) => v === 0)).toBe(true);
          expect(row(gt.grads.get(b.tableKey)!)).toEqual(row(dec));
        }
      }),
      { numRuns: 25 },
    );
  });
});

describe("execution paths agree on tied specs", () => {
  const check = (c: TiedCase, values: "smooth" | "edge") => {
    const b = build(c, values);
    const { graph } = compileEntry({ file: b.file, entry: "Tied", inputs: b.inputs });
    const { tied } = weightsFor(b, c.seed, graph);
    const probe = probeFor(c, c.seed);
    let base: ReturnType<typeof gradients> | undefined;
    for (const optimize of [false, true])
      for (const mode of ["multi", "step"] as const) {
        let params: ParamStore;
        try {
          params = ParamStore.create(graph.params, tied);
        } catch (e) {
          if (e instanceof UserError) return; // the store refuses non-finite weights: nothing to compare
          throw e;
        }
        const g = gradients(graph, params, b.inputs, probe, { optimize, mode, trainAmplitudes: true });
        if (!base) {
          base = g;
          continue;
        }
        const what = `${optimize ? "optimized" : "reference"} ${mode} vs reference multi\n${specText(c)}`;
        expect(sameBits(g.output.data, base.output.data), `${what}: output`).toBe(true);
        for (const [k, v] of g.grads) expect(sameBits(v, base.grads.get(k)!), `${what}: ${k}`).toBe(true);
        for (const [k, v] of g.inputGrads) expect(sameBits(v, base.inputGrads.get(k)!), `${what}: input ${k}`).toBe(true);
      }
  };

  it("optimized == reference and step == multi, outputs and gradients bit for bit (spiking neurons)", () => {
    fc.assert(fc.property(caseArb(["spiking", "smooth"]), (c) => check(c, "smooth")), { numRuns: 15 });
  });

  it("... also with -0, subnormals, NaN and ±Infinity in the input", () => {
    fc.assert(fc.property(caseArb(["spiking"]), (c) => check(c, "edge")), { numRuns: 15 });
  });
});

// ------------------------------------------------------------------ diagnostics

const MISUSE_PRELUDE = `import "std/neurons"
layer Inner(d) {
  lin = Linear(d, d)
  forward(x: [..., d]) -> [..., d] {
    return lin(x)
  }
}
`;

/** The first diagnostic of a spec (prelude + body), as `CODE line:col message`. */
function firstDiagnostic(body: string): { at: string; message: string } {
  const file = writeSpec(MISUSE_PRELUDE + body);
  const r = checkFiles([file]);
  const d = r.diagnostics.filter((x) => x.uri === file);
  expect(d.length, body).toBeGreaterThan(0);
  const pos = r.program.files.get(file)!.lines.position(d[0]!.span.start);
  return { at: `${d[0]!.code} ${pos.line + 1}:${pos.character + 1}`, message: d[0]!.message };
}

const layerWith = (fields: string, stmt: string) => `layer Probe(d) {
  inner = Inner(d)
  lin = Linear(d, d)
${fields}
  forward(x: [T, B, d]) -> [T, B, d] {
    ${stmt}
  }
}
`;

describe("misuse of shared weights: located diagnostics", () => {
  // line 13 is the forward's statement, column 5 its first character
  const cases: { what: string; fields?: string; stmt: string; at: string; message: RegExp }[] = [
    { what: "unknown weight (did you mean)", stmt: "return x @ transpose(lin.Wx)", at: "SPK414 13:30", message: /`lin` \(`Linear`\) has no weight or field `Wx`; did you mean `W`\? \(it has: W, b\)/ },
    { what: "unknown field in a longer path", stmt: "return x @ transpose(inner.lni.W)", at: "SPK414 13:32", message: /`inner` \(`Inner`\) has no weight or field `lni`; did you mean `lin`\?/ },
    { what: "unknown root name", stmt: "return x @ transpose(lim.W)", at: "SPK201 13:26", message: /unknown name `lim`; did you mean `lin`\?/ },
    { what: "a neuron's amplitude", fields: "  fire = LIF()", stmt: "return x * fire.tau", at: "SPK414 13:21", message: /`fire` is a neuron; its amplitudes are its own/ },
    { what: "a repeat stack", fields: "  blocks = repeat 2 { Linear(d, d) }", stmt: "return x @ transpose(blocks.W)", at: "SPK414 13:33", message: /`blocks` is a `repeat` stack, whose copies have no names/ },
    { what: "a tensor's member", stmt: "return x.W", at: "SPK414 13:14", message: /cannot read `x\.W`: `x` is a tensor, not a field holding a layer/ },
    { what: "a member of a weight", stmt: "return x @ transpose(lin.W.data)", at: "SPK414 13:32", message: /`lin\.W` is a weight, which has no members/ },
    { what: "calling a field's field", stmt: "return inner.lin(x)", at: "SPK414 13:12", message: /`inner\.lin` is the layer instance `inner\.lin`; a forward calls only its own fields/ },
    { what: "calling a weight", stmt: "return lin.W(x)", at: "SPK204 13:12", message: /a tensor cannot be called/ },
    { what: "writing a field's weight", stmt: "lin.W = x\n    return x", at: "SPK415 13:5", message: /`lin\.W` belongs to the field `lin` and is read-only here/ },
    { what: "shape mismatch where the shared weight is used", fields: "  wide = Linear(d, 2 * d)", stmt: "return x @ wide.W", at: "SPK302 13:12", message: /d/ },
  ];
  it.each(cases)("$what", ({ fields, stmt, at, message }) => {
    const d = firstDiagnostic(layerWith(fields ?? "", stmt));
    expect(`${d.at} ${d.message}`).toMatch(new RegExp(`^${at} `));
    expect(d.message).toMatch(message);
  });

  it("a weight read outside a forward (a constructor argument) is refused where it is written", () => {
    const d = firstDiagnostic("layer Q(d) {\n  lin = Linear(d, d)\n  other = Linear(lin.W, d)\n  forward(x: [d]) -> [d] {\n    return x\n  }\n}\n");
    expect(d.at).toBe("SPK414 10:18");
    expect(d.message).toMatch(/`lin\.W` is a weight, a tensor: read it inside `forward`/);
  });

  it("cycles cannot be written: a field's weights are read downwards only, and a layer containing itself is SPK413", () => {
    const d = firstDiagnostic("layer Loop(d) {\n  me = Loop(d)\n  forward(x: [d]) -> [d] {\n    return x @ me.me.lin.W\n  }\n}\n");
    expect(d.at.startsWith("SPK413")).toBe(true);
  });

  it("a member path parses as nested member expressions, and writing one parses (for the checker to refuse)", () => {
    const ast = parse("layer A(d) {\n  forward(x: [d]) -> [d] {\n    a.b.c = x\n    return x @ emb.word.table\n  }\n}\n", "a.spk").file;
    const layer = ast.decls[0] as ModuleDecl;
    const fwd = layer.members.find((m): m is ForwardDecl => m.kind === "Forward")!;
    const [assign, ret] = fwd.body.stmts as [Stmt, Stmt];
    expect(assign.kind === "Assign" && [assign.target.name, ...(assign.members ?? []).map((m) => m.name)]).toEqual(["a", "b", "c"]);
    const value = ret.kind === "Return" ? ret.value : undefined;
    expect(value?.kind === "Binary" && value.right.kind === "Member" && value.right.name.name).toBe("table");
    expect(value?.kind === "Binary" && value.right.kind === "Member" && value.right.target.kind === "Member" && value.right.target.name.name).toBe("word");
    // `.5` is still a number, `...` still an ellipsis
    expect(parse("const a = .5\nlayer B(d) {\n  forward(x: [..., d]) -> [..., d] {\n    return x\n  }\n}\n", "b.spk").diagnostics).toEqual([]);
  });
});
