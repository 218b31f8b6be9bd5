import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { KEYWORDS, lexTokens, parse } from "../grammar/index.js";
import type { Decl, Expr, ModuleDecl, NeuronDecl, SpkFile, Stmt } from "../grammar/index.js";

import { EXAMPLES } from "./helpers.js";
const neuronsText = readFileSync(`${EXAMPLES}/neurons.spk`, "utf8");
const tinyText = readFileSync(`${EXAMPLES}/tiny_spikelm.spk`, "utf8");

/** Compact s-expression of an expression, for precedence and shape checks. */
function sx(e: Expr): string {
  switch (e.kind) {
    case "Number":
      return e.text;
    case "Bool":
      return String(e.value);
    case "String":
      return JSON.stringify(e.value);
    case "Name":
      return e.name;
    case "Unary":
      return `(neg ${sx(e.operand)})`;
    case "Binary":
      return `(${e.op} ${sx(e.left)} ${sx(e.right)})`;
    case "Call":
      return `(${sx(e.callee)}${e.args.map((a) => " " + (a.name ? `${a.name.name}=` : "") + sx(a.value)).join("")})`;
    case "Index":
      return `(idx ${sx(e.target)}${e.items
        .map((i) => " " + (i.kind === "Slice" ? `${i.start ? sx(i.start) : ""}:${i.end ? sx(i.end) : ""}` : sx(i)))
        .join("")})`;
    case "Member":
      return `(. ${sx(e.target)} ${e.name.name})`;
    case "Repeat":
      return `(repeat ${sx(e.count)} ${sx(e.body)})`;
    case "ErrorExpr":
      return "<error>";
  }
}

function decl(file: SpkFile, name: string): Decl {
  const d = file.decls.find((x) => x.name.name === name);
  if (!d) throw new Error(`no declaration ${name}`);
  return d;
}

function moduleDecl(file: SpkFile, name: string): ModuleDecl {
  const d = decl(file, name);
  if (d.kind !== "Layer" && d.kind !== "Model") throw new Error(`${name} is a ${d.kind}`);
  return d;
}

function forwardStmts(m: ModuleDecl): readonly Stmt[] {
  const f = m.members.find((x) => x.kind === "Forward");
  if (!f || f.kind !== "Forward") throw new Error("no forward");
  return f.body.stmts;
}

/** Parses `const x = <source>` and returns the expression. */
function exprOf(source: string): Expr {
  const r = parse(`const x = ${source}`, "t.spk");
  expect(r.diagnostics).toEqual([]);
  const d = r.file.decls[0];
  if (!d || d.kind !== "Const") throw new Error("no const");
  return d.value;
}

const e = (source: string): string => sx(exprOf(source));

describe("example programs", () => {
  const neurons = parse(neuronsText, "file:///neurons.spk");
  const tiny = parse(tinyText, "file:///tiny_spikelm.spk");

  it("parse with zero diagnostics", () => {
    expect(neurons.diagnostics).toEqual([]);
    expect(tiny.diagnostics).toEqual([]);
  });

  it("declare the expected names and kinds", () => {
    expect(neurons.file.decls.map((d) => `${d.kind} ${d.name.name}`)).toEqual([
      "Neuron LIF",
      "Neuron BiLIF",
      "Neuron ElasticBiSpike",
      "Neuron SpikeLMReference",
      "Neuron BiSpikeQuant",
    ]);
    expect(tiny.file.decls.map((d) => `${d.kind} ${d.name.name}`)).toEqual([
      "Layer SpikeLinear",
      "Layer SpikeSelfAttention",
      "Layer SpikeBlock",
      "Model TinySpikeLM",
      "Model SpikeLMClassifier",
    ]);
    expect(tiny.file.imports.map((i) => i.path)).toEqual(["./neurons.spk"]);
    const imp = tiny.file.imports[0]!;
    expect(tinyText.slice(imp.pathSpan.start, imp.pathSpan.end)).toBe('"./neurons.spk"');
    expect(tinyText.slice(imp.span.start, imp.span.end)).toBe('import "./neurons.spk"');
    expect(tiny.file.uri).toBe("file:///tiny_spikelm.spk");
    expect(tiny.file.span).toEqual({ start: 0, end: tinyText.length });
  });

  it("attach doc comments to LIF and SpikeLinear, not to SpikeBlock", () => {
    expect(decl(neurons.file, "LIF").doc).toBe("Leaky integrate-and-fire: binary {0,1} spikes, subtractive (soft) reset.");
    expect(decl(tiny.file, "SpikeLinear").doc).toBe(
      "A linear layer whose input is spiked first: the matmul is a spike-accumulate.\n" +
        "W is stored [out, inp], as PyTorch's nn.Linear stores it.",
    );
    expect(decl(tiny.file, "SpikeBlock").doc).toBeUndefined();
    // all comments are kept, in order, doc ones flagged
    expect(neurons.file.comments).toHaveLength(7);
    expect(neurons.file.comments.every((c) => c.doc && c.text.startsWith("///"))).toBe(true);
    const starts = tiny.file.comments.map((c) => c.span.start);
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
  });

  it("LIF has its parameters, state and step", () => {
    const lif = decl(neurons.file, "LIF") as NeuronDecl;
    expect(lif.params.map((p) => `${p.name.name}=${p.default ? sx(p.default) : ""}`)).toEqual(["tau=0.5", "vth=1.0"]);
    expect(lif.members.map((m) => m.kind)).toEqual(["State", "Step"]);
    const step = lif.members[1]!;
    if (step.kind !== "Step") throw new Error();
    expect(step.params.map((p) => p.name.name)).toEqual(["x"]);
    expect(step.body.stmts.map((s) => s.kind)).toEqual(["Assign", "Let", "Assign", "Emit"]);
    const first = step.body.stmts[0]!;
    if (first.kind !== "Assign") throw new Error();
    expect(sx(first.value)).toBe("(+ (* tau u) x)");
    // declaration span: keyword to closing brace, doc comment excluded
    const text = neuronsText.slice(lif.span.start, lif.span.end);
    expect(text.startsWith("neuron LIF(")).toBe(true);
    expect(text.endsWith("}")).toBe(true);
  });

  it("reads amplitudes with their axis", () => {
    const eb = decl(neurons.file, "ElasticBiSpike") as NeuronDecl;
    const amp = eb.members[0]!;
    if (amp.kind !== "Amplitude") throw new Error();
    expect(amp.name.name).toBe("alpha");
    expect(amp.axis.name).toBe("T");
    expect(sx(amp.init)).toBe("(* (* k 2) (mean (abs u)))");
  });

  it("keeps operator precedence: fire(x) @ transpose(W) + b", () => {
    const ret = forwardStmts(moduleDecl(tiny.file, "SpikeLinear"))[0]!;
    if (ret.kind !== "Return") throw new Error();
    expect(sx(ret.value)).toBe("(+ (@ (fire x) (transpose W)) b)");
    expect(tinyText.slice(ret.value.span.start, ret.value.span.end)).toBe("fire(x) @ transpose(W) + b");
  });

  it("keeps operator precedence: Q @ transpose(K) / sqrt(d / heads)", () => {
    const letA = forwardStmts(moduleDecl(tiny.file, "SpikeSelfAttention"))[3]!;
    if (letA.kind !== "Let") throw new Error();
    expect(letA.name.name).toBe("A");
    expect(sx(letA.value)).toBe("(softmax (+ (/ (@ Q (transpose K)) (sqrt (/ d heads))) (causal_mask L causal)))");
  });

  it("reads repeat with a named argument", () => {
    const tinyLm = moduleDecl(tiny.file, "TinySpikeLM");
    const blocks = tinyLm.members.find((m) => m.kind === "Field" && m.name.name === "blocks");
    if (!blocks || blocks.kind !== "Field") throw new Error();
    expect(blocks.value.kind).toBe("Repeat");
    expect(sx(blocks.value)).toBe("(repeat depth (SpikeBlock d heads ffn causal=true))");
    expect(tinyText.slice(blocks.value.span.start, blocks.value.span.end)).toBe(
      "repeat depth { SpikeBlock(d, heads, ffn, causal = true) }",
    );
    if (blocks.value.kind !== "Repeat" || blocks.value.body.kind !== "Call") throw new Error();
    const named = blocks.value.body.args[3]!;
    expect(named.name?.name).toBe("causal");
    expect(tinyText.slice(named.span.start, named.span.end)).toBe("causal = true");
    const ts = tinyLm.members[0]!;
    expect(ts.kind).toBe("Timesteps");
  });

  it("reads the slice z[:, 0] and typed forward signatures", () => {
    const cls = moduleDecl(tiny.file, "SpikeLMClassifier");
    const ret = forwardStmts(cls)[2]!;
    if (ret.kind !== "Return") throw new Error();
    expect(sx(ret.value)).toBe("(classify (idx z : 0))");
    const fwd = cls.members.find((m) => m.kind === "Forward");
    if (!fwd || fwd.kind !== "Forward") throw new Error();
    expect(fwd.params[0]!.type?.dtype).toBe("int");
    expect(fwd.params[0]!.type?.dims.map((d) => (d.kind === "Ellipsis" ? "..." : sx(d)))).toEqual(["B", "L"]);
    expect(fwd.result?.dtype).toBeUndefined();
    expect(fwd.result?.dims).toHaveLength(2);
  });

  it("reads weights with and without an initialiser", () => {
    const lin = moduleDecl(tiny.file, "SpikeLinear");
    const weights = lin.members.filter((m) => m.kind === "Weight");
    expect(weights.map((w) => (w.kind === "Weight" ? `${w.name.name}:${w.type.dims.length}:${w.init ? sx(w.init) : "-"}` : ""))).toEqual([
      "W:2:-",
      "b:1:zeros",
    ]);
    expect(lin.params.map((p) => p.name.name)).toEqual(["inp", "out", "act"]);
    expect(sx(lin.params[2]!.default!)).toBe("(SpikeLMReference)");
  });
});

describe("expressions", () => {
  it("binary operators are left-associative; * / @ share a level", () => {
    expect(e("a - b - c")).toBe("(- (- a b) c)");
    expect(e("a / b * c @ d")).toBe("(@ (* (/ a b) c) d)");
    expect(e("a + b * c")).toBe("(+ a (* b c))");
    expect(e("(a + b) * c")).toBe("(* (+ a b) c)");
  });

  it("unary minus binds tighter than * and looser than calls", () => {
    expect(e("-a * b")).toBe("(* (neg a) b)");
    expect(e("--a")).toBe("(neg (neg a))");
    expect(e("-f(x)[0]")).toBe("(neg (idx (f x) 0))");
    expect(e("a - -1")).toBe("(- a (neg 1))");
  });

  it("chains calls and indexing, with slices and trailing commas", () => {
    expect(e("f(x)(y)[1][2, 3]")).toBe("(idx (idx ((f x) y) 1) 2 3)");
    expect(e("x[1:3, :2, 1:, :]")).toBe("(idx x 1:3 :2 1: :)");
    expect(e("f(a, b = 2,)")).toBe("(f a b=2)");
    expect(e("f()")).toBe("(f)");
  });

  it("reads literals", () => {
    const lit = (s: string): Expr => exprOf(s);
    expect(lit("0.25")).toMatchObject({ kind: "Number", value: 0.25, text: "0.25" });
    expect(lit("1e-12")).toMatchObject({ kind: "Number", value: 1e-12, text: "1e-12" });
    expect(lit("2.5E+3")).toMatchObject({ kind: "Number", value: 2500, text: "2.5E+3" });
    expect(lit(".5")).toMatchObject({ kind: "Number", value: 0.5, text: ".5" });
    expect(lit("true")).toMatchObject({ kind: "Bool", value: true });
    expect(lit("false")).toMatchObject({ kind: "Bool", value: false });
    expect(lit(String.raw`"a \"b\" \\ c"`)).toMatchObject({ kind: "String", value: String.raw`a "b" \ c` });
  });

  it("spans: binary from left start to right end, parentheses not included", () => {
    const src = "(a + b) * f(c)";
    const x = exprOf(src);
    const full = `const x = ${src}`;
    expect(full.slice(x.span.start, x.span.end)).toBe("a + b) * f(c)");
    if (x.kind !== "Binary") throw new Error();
    expect(full.slice(x.left.span.start, x.left.span.end)).toBe("a + b");
    expect(full.slice(x.right.span.start, x.right.span.end)).toBe("f(c)");
  });
});

describe("declarations and members", () => {
  it("accepts optional semicolons everywhere and trailing commas in parameter lists", () => {
    const src = `const a = 1;
neuron N(a, b = 2,) { state u = 0; amplitude al[T] = 1; step(x, y: [T],) { let s = x; u = s; emit s; }; };
layer L { weight W: f32[..., d] = zeros; timesteps T = 4; f = g; forward(x) -> [T] { return x; }; }
model M() { }`;
    const r = parse(src, "t.spk");
    expect(r.diagnostics).toEqual([]);
    expect(r.file.decls.map((d) => d.kind)).toEqual(["Const", "Neuron", "Layer", "Model"]);
    const n = r.file.decls[1] as NeuronDecl;
    expect(n.members.map((m) => m.kind)).toEqual(["State", "Amplitude", "Step"]);
    const l = r.file.decls[2] as ModuleDecl;
    expect(l.members.map((m) => m.kind)).toEqual(["Weight", "Timesteps", "Field", "Forward"]);
    // spans of statements stop before their `;`
    expect(src.slice(n.members[0]!.span.start, n.members[0]!.span.end)).toBe("state u = 0");
    expect(src.slice(r.file.decls[0]!.span.start, r.file.decls[0]!.span.end)).toBe("const a = 1");
  });

  it("neurons, layers and models may omit their parameter list", () => {
    const r = parse("neuron A { } layer B { } model C { }", "t.spk");
    expect(r.diagnostics).toEqual([]);
    expect(r.file.decls.map((d) => (d.kind === "Const" ? [] : d.params))).toEqual([[], [], []]);
  });

  it("attaches consecutive /// lines to declarations and members only when adjacent", () => {
    const src = `/// orphan, a blank line follows

/// Doc for a
/// second line
const a = 1
// plain comment
/// doc for L
layer L {
  ///field doc
  f = g
  /// weight doc
  weight W: [n]
  forward(x) { return x } /// trailing, documents nothing
  /// member doc separated by code
  x = 1 /// not a doc for y
  y = 2
}
/// dangling at the end`;
    const r = parse(src, "t.spk");
    expect(r.diagnostics).toEqual([]);
    const a = r.file.decls[0]!;
    expect(a.doc).toBe("Doc for a\nsecond line");
    const l = r.file.decls[1] as ModuleDecl;
    expect(l.doc).toBe("doc for L");
    const docs = l.members.map((m) => ("doc" in m ? m.doc : undefined));
    expect(docs).toEqual(["field doc", "weight doc", undefined, "member doc separated by code", undefined]);
    expect(r.file.comments.map((c) => c.doc)).toEqual([true, true, true, false, true, true, true, true, true, true, true]);
    expect(r.file.comments[0]!.text).toBe("/// orphan, a blank line follows");
  });
});

describe("tokens", () => {
  it("exports the keyword list", () => {
    expect(KEYWORDS).toEqual([
      "import", "const", "neuron", "layer", "model", "state", "amplitude", "step", "weight",
      "timesteps", "forward", "let", "emit", "return", "repeat", "true", "false", "f32", "int",
    ]);
  });

  it("classifies tokens and comments in source order", () => {
    const src = 'import "p" /// d\nconst x = f32 true 1.5 -> ... + @ ; ( ) foo_1 # // c';
    const toks = lexTokens(src).map((t) => `${t.kind}:${src.slice(t.span.start, t.span.end)}`);
    expect(toks).toEqual([
      "keyword:import",
      'string:"p"',
      "doc:/// d",
      "keyword:const",
      "ident:x",
      "operator:=",
      "type:f32",
      "bool:true",
      "number:1.5",
      "operator:->",
      "punct:...",
      "operator:+",
      "operator:@",
      "punct:;",
      "punct:(",
      "punct:)",
      "ident:foo_1",
      "comment:// c",
    ]);
  });

  it("keywords are not prefixes of names", () => {
    const toks = lexTokens("states integer f32x letter").map((t) => t.kind);
    expect(toks).toEqual(["ident", "ident", "ident", "ident"]);
  });

  it("never throws and skips bad characters", () => {
    expect(lexTokens("")).toEqual([]);
    expect(lexTokens("#$%").length).toBe(0);
    expect(lexTokens('"abc').map((t) => t.kind)).toEqual(["string"]);
  });
});
