import { describe, expect, it } from "vitest";
import { parse } from "../grammar/index.js";
import type { Diagnostic, ModuleDecl, NeuronDecl, SpkFile } from "../grammar/index.js";

/** The layer every test appends: it must always survive the error before it. */
const GOOD_LAYER = "\nlayer Good(d) {\n  f = Linear(d, d)\n  forward(x) { return f(x) }\n}\n";

function names(file: SpkFile): string[] {
  return file.decls.map((d) => `${d.kind} ${d.name.name}`);
}

function expectGoodLayer(file: SpkFile): void {
  const good = file.decls.find((d) => d.name.name === "Good") as ModuleDecl | undefined;
  expect(good?.kind).toBe("Layer");
  expect(good?.members.map((m) => m.kind)).toEqual(["Field", "Forward"]);
}

function only(diags: Diagnostic[], code: string): Diagnostic {
  expect(diags.map((d) => d.code)).toEqual([code]);
  return diags[0]!;
}

function at(src: string, needle: string, from = 0): { start: number; end: number } {
  const start = src.indexOf(needle, from);
  if (start < 0) throw new Error(`${needle} not in source`);
  return { start, end: start + needle.length };
}

describe("recovery", () => {
  it("missing `)` closing an argument list", () => {
    const src = `neuron A(vth = 1.0) {
  step(x) {
    let s = heaviside(x - vth
    emit s
  }
}` + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK002");
    expect(d.message).toBe("expected `)` to close the argument list, found `emit`");
    expect(d.span).toEqual(at(src, "emit"));
    expect(d.severity).toBe("error");
    expect(d.uri).toBe("t.spk");
    expect(names(r.file)).toEqual(["Neuron A", "Layer Good"]);
    const step = (r.file.decls[0] as NeuronDecl).members[0]!;
    if (step.kind !== "Step") throw new Error();
    // the broken statement is kept as far as it got, and the next one is intact
    expect(step.body.stmts.map((s) => s.kind)).toEqual(["Let", "Emit"]);
    const let_ = step.body.stmts[0]!;
    if (let_.kind !== "Let" || let_.value.kind !== "Call") throw new Error();
    expect(let_.value.args).toHaveLength(1);
    expectGoodLayer(r.file);
  });

  it("missing `}` closing a neuron", () => {
    const src = `neuron A {
  state u = 0
  step(x) { emit x }
` + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK002");
    expect(d.message).toBe("expected a neuron member (`state`, `amplitude` or `step`) or `}` to close the neuron, found `layer`");
    expect(d.span).toEqual(at(src, "layer"));
    expect(names(r.file)).toEqual(["Neuron A", "Layer Good"]);
    const a = r.file.decls[0] as NeuronDecl;
    expect(a.members.map((m) => m.kind)).toEqual(["State", "Step"]);
    expect(src.slice(a.span.start, a.span.end)).toBe("neuron A {\n  state u = 0\n  step(x) { emit x }");
    expectGoodLayer(r.file);
  });

  it("missing `}` at the end of the input points at the end", () => {
    const src = "layer L { forward(x) { return x }";
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK002");
    expect(d.message).toContain("found end of input");
    expect(d.span).toEqual({ start: src.length, end: src.length });
    expect(names(r.file)).toEqual(["Layer L"]);
  });

  it("garbage member: skipped, one error, later members kept", () => {
    const src = `neuron A {
  state u = 0
  foo bar (1, 2) baz
  state v = 1
}` + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK002");
    expect(d.span).toEqual(at(src, "foo"));
    expect(d.message).toMatch(/^expected a neuron member .* found `foo`$/);
    const a = r.file.decls[0] as NeuronDecl;
    expect(a.members.map((m) => (m.kind === "State" ? m.name.name : m.kind))).toEqual(["u", "v"]);
    expectGoodLayer(r.file);
  });

  it("garbage between declarations", () => {
    const src = "const a = 1\n}} foo = 2\n" + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK002");
    expect(d.message).toBe("expected a declaration (`neuron`, `layer`, `model`, `const` or `import`), found `}`");
    expect(d.span).toEqual(at(src, "}"));
    expect(names(r.file)).toEqual(["Const a", "Layer Good"]);
  });

  it("bad character: SPK001, skipped, the rest parses as if it were absent", () => {
    const src = "const a = 1 # + 2" + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK001");
    expect(d.message).toBe("unexpected character `#`");
    expect(d.span).toEqual(at(src, "#"));
    const a = r.file.decls[0]!;
    if (a.kind !== "Const") throw new Error();
    expect(a.value.kind).toBe("Binary");
    expectGoodLayer(r.file);
  });

  it("a run of bad characters is one SPK001", () => {
    const src = "const a = 1 $%€ " + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK001");
    expect(d.span).toEqual(at(src, "$%€"));
    expect(d.message).toBe("unexpected characters `$%€`");
  });

  it("unterminated string: SPK003 spanning to the end of the line, value kept", () => {
    const src = 'import "./neurons.spk\n' + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK003");
    expect(d.span).toEqual(at(src, '"./neurons.spk'));
    expect(d.message).toContain("unterminated string");
    expect(r.file.imports.map((i) => i.path)).toEqual(["./neurons.spk"]);
    expect(r.file.imports[0]!.pathSpan).toEqual(d.span);
    expectGoodLayer(r.file);
  });

  it("missing expression after `=`: ErrorExpr where it was expected", () => {
    const src = "const a =\nconst b = 2" + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK002");
    expect(d.message).toBe("expected an expression, found `const`");
    expect(d.span).toEqual(at(src, "const", 1));
    expect(names(r.file)).toEqual(["Const a", "Const b", "Layer Good"]);
    const [a, b] = r.file.decls;
    if (a?.kind !== "Const" || b?.kind !== "Const") throw new Error();
    const eq = src.indexOf("=") + 1;
    expect(a.value).toEqual({ kind: "ErrorExpr", span: { start: eq, end: eq } });
    expect(src.slice(a.span.start, a.span.end)).toBe("const a =");
    expect(b.value).toMatchObject({ kind: "Number", value: 2 });
    expectGoodLayer(r.file);
  });

  it("missing right operand inside a statement", () => {
    const src = "layer L { forward(x) { let y = x +\n return y } }" + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK002");
    expect(d.message).toBe("expected an expression, found `return`");
    const fwd = (r.file.decls[0] as ModuleDecl).members[0];
    if (fwd?.kind !== "Forward") throw new Error();
    const stmts = fwd.body.stmts;
    expect(stmts.map((s) => s.kind)).toEqual(["Let", "Return"]);
    expect(stmts[0]).toMatchObject({ kind: "Let", value: { kind: "Binary", op: "+", right: { kind: "ErrorExpr" } } });
    expectGoodLayer(r.file);
  });

  it("one SPK002 per broken statement, not a cascade", () => {
    const cascade = parse("layer L { forward(x) { let a = f(x y) } }" + GOOD_LAYER, "t.spk");
    expect(cascade.diagnostics.map((d) => d.message)).toEqual(["expected `)` to close the argument list, found `y`"]);
    expectGoodLayer(cascade.file);
    const twice = parse("const a = \nconst b = \n" + GOOD_LAYER, "t.spk");
    expect(twice.diagnostics.map((d) => d.message)).toEqual([
      "expected an expression, found `const`",
      "expected an expression, found `layer`",
    ]);
    expect(names(twice.file)).toEqual(["Const a", "Const b", "Layer Good"]);
  });

  it("an error in a forward's result shape does not spill into its body (line-aware resync)", () => {
    const src = `layer L(d) {
  forward(x: [T, d]) -> [T, B, amplitude, d] {
    let y = f(x)
    return y
  }
}` + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK002");
    expect(d.message).toBe("expected `]` to close the shape, found `amplitude`");
    const fwd = (r.file.decls[0] as ModuleDecl).members[0];
    if (fwd?.kind !== "Forward") throw new Error();
    expect(fwd.body.stmts.map((s) => s.kind)).toEqual(["Let", "Return"]);
    expectGoodLayer(r.file);
  });

  it("a misspelled `forward` skips its block whole: the layer's own `}` still closes it", () => {
    const src = `layer L(d) {
  q = Linear(d, d)
  forwrd(x: [T, d]) -> [T, d] {
    let y = q(x)
    return y
  }
  k = Linear(d, d)
}` + GOOD_LAYER;
    const r = parse(src, "t.spk");
    expect(r.diagnostics.map((d) => d.code)).toEqual(["SPK002", "SPK002"]);
    expect(r.diagnostics[0]!.span).toEqual({ start: src.indexOf("(x"), end: src.indexOf("(x") + 1 });
    const l = r.file.decls[0] as ModuleDecl;
    expect(l.members.map((m) => (m.kind === "Field" ? m.name.name : m.kind))).toEqual(["q", "forwrd", "k"]);
    expect(src.slice(l.span.start, l.span.end).endsWith("k = Linear(d, d)\n}")).toBe(true);
    expectGoodLayer(r.file);
  });

  it("missing name: Ident with an empty name and an empty span after the keyword", () => {
    const src = "neuron { state u = 0 }" + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK002");
    expect(d.message).toBe("expected the neuron's name, found `{`");
    expect(d.span).toEqual(at(src, "{"));
    const n = r.file.decls[0] as NeuronDecl;
    expect(n.name).toEqual({ kind: "Ident", name: "", span: { start: 6, end: 6 } });
    expect(n.members).toHaveLength(1);
    expectGoodLayer(r.file);
  });

  it("missing `]` in a shape", () => {
    const src = "layer L { weight W: [a, b = zeros }" + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK002");
    expect(d.message).toBe("expected `]` to close the shape, found `=`");
    expectGoodLayer(r.file);
  });

  it("number out of range: SPK004, value Infinity, tree intact", () => {
    const src = "const big = 1e999" + GOOD_LAYER;
    const r = parse(src, "t.spk");
    const d = only(r.diagnostics, "SPK004");
    expect(d.span).toEqual(at(src, "1e999"));
    const big = r.file.decls[0]!;
    if (big.kind !== "Const") throw new Error();
    expect(big.value).toMatchObject({ kind: "Number", text: "1e999", value: Infinity });
  });

  it("messages never leak Chevrotain's token lists or internal token names", () => {
    const broken = ["neuron A(", "layer { forward( }", "const = ", "model M { x = [1, 2] }", "neuron N { step(x) { emit } }", "import 3", "layer L { forward(x) -> { } }"];
    for (const src of broken) {
      const r = parse(src, "t.spk");
      expect(r.diagnostics.length).toBeGreaterThan(0);
      for (const d of r.diagnostics) {
        expect(d.message).not.toMatch(/Expecting|Token sequences|LParen|RBrace|Ident\b|EOF|NumberLit|Kw[A-Z]/);
        expect(d.message).toMatch(/^expected .+, found .+$/);
      }
    }
  });

  it("deep nesting yields a diagnostic, not an exception, and keeps other declarations", () => {
    const src = "const a = " + "f(".repeat(400) + "\n" + GOOD_LAYER;
    const r = parse(src, "t.spk");
    expect(r.diagnostics.length).toBeGreaterThan(0);
    expectGoodLayer(r.file);
  });
});
