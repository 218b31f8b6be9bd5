/**
 * The formatter's style rules as before/after pairs (inline and in test/fixtures/prettier/),
 * its refusal of broken input, and the two ways to run it on files: `spikelm fmt` (exit
 * codes, atomic rewrite) and prettier's own CLI with the repository's `.prettierrc`.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatSpk } from "../tools/prettier/printer.js";
import { parseSpk } from "../tools/prettier/plugin.js";
import { FIXTURES, REPO } from "./helpers.js";

const fmt = (text: string, printWidth?: number) => formatSpk(text, printWidth === undefined ? {} : { printWidth });
const lines = (...ls: string[]) => ls.join("\n") + "\n";

describe("style rules", () => {
  it("indents by two, one member or statement per line, spaces around operators and `=`", async () => {
    expect(await fmt("neuron N(tau=0.5){state u=0;step(x){u=tau*u+x;emit heaviside(u-1)}}")).toBe(
      lines("neuron N(tau = 0.5) {", "  state u = 0", "  step(x) {", "    u = tau * u + x", "    emit heaviside(u - 1)", "  }", "}"),
    );
  });

  it("writes `name: type`, `-> type` and keeps `...` in shapes", async () => {
    expect(await fmt("layer L{weight W:f32[ out,inp ]=zeros forward(x:[...,d],y)->int[B,L]{return x}}")).toBe(
      lines("layer L {", "  weight W: f32[out, inp] = zeros", "  forward(x: [..., d], y) -> int[B, L] {", "    return x", "  }", "}"),
    );
  });

  it("keeps at most one blank line between members and statements, none at the ends of a body", async () => {
    const before = lines("layer L {", "", "  a = 1", "", "", "", "  b = 2", "  c = 3", "", "}");
    expect(await fmt(before)).toBe(lines("layer L {", "  a = 1", "", "  b = 2", "  c = 3", "}"));
  });

  it("separates declarations by exactly one blank line and puts imports first", async () => {
    const before = lines("const a = 1", "const b = 2", "import \"std/neurons\"", "", "", "", "const c = 3");
    expect(await fmt(before)).toBe(lines('import "std/neurons"', "", "const a = 1", "", "const b = 2", "", "const c = 3"));
  });

  it("uses the fewest parentheses the tree needs", async () => {
    const cases: [string, string][] = [
      ["(a * b) + c", "a * b + c"],
      ["a * (b + c)", "a * (b + c)"],
      ["(a - b) - c", "a - b - c"],
      ["a - (b - c)", "a - (b - c)"],
      ["a / (b * c)", "a / (b * c)"],
      ["(a @ b) @ c", "a @ b @ c"],
      ["-(a + b)", "-(a + b)"],
      ["-(a * b)", "-(a * b)"],
      ["-(f(x))", "-f(x)"],
      ["(-x)[0]", "(-x)[0]"],
      ["(a + b)(c)", "(a + b)(c)"],
      ["((f))(x)", "f(x)"],
      ["- (-x)", "- -x"],
      ["repeat (n) { (B()) }", "repeat n { B() }"],
      ["repeat (n + 1) { B() }", "repeat (n + 1) { B() }"],
    ];
    for (const [input, output] of cases) expect(await fmt(`const c = ${input}\n`), input).toBe(`const c = ${output}\n`);
  });

  it("prints numbers as written and strings as written", async () => {
    expect(await fmt('const a = .5 + 1.0 + 1e-12 + 1E5 + 007\nimport "./x.spk"\nconst s = "a\\"b"\n')).toBe(
      lines('import "./x.spk"', "", "const a = .5 + 1.0 + 1e-12 + 1E5 + 007", "", 'const s = "a\\"b"'),
    );
  });

  it("prints a field's weight `word.table` without spaces, parenthesising only a looser target", async () => {
    expect(await fmt("layer L{forward(x){embeddings . word.table = x\nreturn x@transpose( embeddings.word .table)+(a+b).c+f(x).W+-e.W}}")).toBe(
      lines("layer L {", "  forward(x) {", "    embeddings.word.table = x", "    return x @ transpose(embeddings.word.table) + (a + b).c + f(x).W + -e.W", "  }", "}"),
    );
  });

  it("prints slices and named arguments", async () => {
    expect(await fmt("const z = f(x[ : , 0 ], y[1 :], w[: 2], v[a : b], causal=true)\n")).toBe(
      "const z = f(x[:, 0], y[1:], w[:2], v[a:b], causal = true)\n",
    );
  });

  it("breaks a call that exceeds the width one argument per line, with a trailing comma", async () => {
    const call = "const c = SpikeBlock(dimension, number_of_heads, feed_forward_width, causal = true, act = LIF())";
    expect(await fmt(call + "\n")).toBe(call + "\n"); // 96 characters: fits in 100
    expect(await fmt(call + "\n", 80)).toBe(
      lines(
        "const c = SpikeBlock(",
        "  dimension,",
        "  number_of_heads,",
        "  feed_forward_width,",
        "  causal = true,",
        "  act = LIF(),",
        ")",
      ),
    );
    expect(await fmt("const c = f(a, b,)\n")).toBe("const c = f(a, b)\n");
  });

  it("keeps comments: own-line, end of line, after `{`, and moves those inside expressions above", async () => {
    const before = lines(
      "/// doc",
      "neuron N { // about N",
      "  // above u",
      "  state u = 0 // end of u",
      "  step(x) {",
      "    emit f(x, // inside",
      "      1)",
      "    // last",
      "  }",
      "}",
      "// end of file",
    );
    expect(await fmt(before)).toBe(
      lines(
        "/// doc",
        "neuron N { // about N",
        "  // above u",
        "  state u = 0 // end of u",
        "  step(x) {",
        "    // inside",
        "    emit f(x, 1)",
        "    // last",
        "  }",
        "}",
        "// end of file",
      ),
    );
  });

  it("keeps a doc comment attached to its member when a comment moves above it", async () => {
    const before = lines("layer L {", "  /// the field", "  f = g(a, // note", "    b)", "}");
    const after = await fmt(before);
    expect(after).toBe(lines("layer L {", "  // note", "  /// the field", "  f = g(a, b)", "}"));
    const field = parseSpk(after).file.decls[0];
    expect(field?.kind === "Layer" && field.members[0]?.kind === "Field" ? field.members[0].doc : undefined).toBe("the field");
  });

  it("keeps comments inside a parameter list in place, below the doc comment", async () => {
    const before = lines(
      "/// doc",
      "neuron N(tau = 0.5, // time constant",
      "  // threshold next",
      "  vth = 1.0) {",
      "  state u = 0",
      "  step(x: [T], // input",
      "    y) {",
      "    emit x",
      "  }",
      "}",
    );
    const after = await fmt(before);
    expect(after).toBe(
      lines(
        "/// doc",
        "neuron N(",
        "  tau = 0.5, // time constant",
        "  // threshold next",
        "  vth = 1.0,",
        ") {",
        "  state u = 0",
        "  step(",
        "    x: [T], // input",
        "    y,",
        "  ) {",
        "    emit x",
        "  }",
        "}",
      ),
    );
    expect(await fmt(after)).toBe(after);
    const n = parseSpk(after).file.decls[0];
    expect(n?.kind === "Neuron" ? n.doc : undefined).toBe("doc");
  });

  it("leaves an item under `// prettier-ignore` as written", async () => {
    const before = lines(
      "// prettier-ignore",
      "/// kept on one line",
      "model M(a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8, i = 9, j = 10, k = 11, l = 12, m = 13) {",
      "  x   =   f(a,   // inner",
      "     b)",
      "}",
      "const  z=1",
    );
    expect(await fmt(before)).toBe(before.replace("const  z=1", "\nconst z = 1"));
    const member = lines("layer L {", "    // prettier-ignore", "    w  =  f( 1 )", "    v  =  g( 2 )", "}");
    expect(await fmt(member)).toBe(lines("layer L {", "  // prettier-ignore", "  w  =  f( 1 )", "  v = g(2)", "}"));
  });

  it("refuses a file with syntax errors with a prettier-style SyntaxError", async () => {
    const err = await formatSpk("neuron N {\n  step(x) {\n    emit heaviside(x\n  }\n}\n").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyntaxError);
    expect((err as SyntaxError & { loc: unknown }).loc).toEqual({ start: { line: 4, column: 3 } });
    expect((err as Error).message).toMatch(/SPK002: expected `\)`/);
  });

  it("formats an empty file to an empty file, and a comment-only file to its comments", async () => {
    expect(await fmt("\n\n")).toBe("");
    expect(await fmt("\n// only\n\n\n// comments  \n")).toBe(lines("// only", "", "// comments"));
  });
});

describe("before/after fixtures", () => {
  const dir = path.join(FIXTURES, "prettier");
  const names = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".before.spk"))
    .map((f) => f.slice(0, -".before.spk".length));

  it("has fixtures", () => expect(names.length).toBeGreaterThanOrEqual(3));

  it.each(names)("%s", async (name) => {
    const before = fs.readFileSync(path.join(dir, `${name}.before.spk`), "utf8");
    const after = fs.readFileSync(path.join(dir, `${name}.after.spk`), "utf8");
    expect(await formatSpk(before)).toBe(after);
    expect(await formatSpk(after)).toBe(after);
  });
});

// ---------------------------------------------------------------------------------------
// Running on files

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spk-fmt-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function spikelm(...args: string[]) {
  // Run from the repository (where tsx resolves); files are given by absolute path.
  const argv = args.map((a) => (a.endsWith(".spk") ? path.join(tmp, a) : a));
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "tools/cli/main.ts"), ...argv], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 60_000,
  });
  const local = (s: string) => s.replaceAll(tmp + path.sep, "");
  return { code: r.status, stdout: local(r.stdout), stderr: local(r.stderr) };
}

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

const UGLY = "const  a=1\n";
const PRETTY = "const a = 1\n";

describe("spikelm fmt", () => {
  it("--check exits 0 when every file is formatted", () => {
    write("ok.spk", PRETTY);
    const r = spikelm("fmt", "--check", "ok.spk");
    expect(r.stdout).toBe("");
    expect(r.code).toBe(0);
  });

  it("--check lists the files that would change, exits 1, writes nothing", () => {
    write("ok.spk", PRETTY);
    write("ugly.spk", UGLY);
    const r = spikelm("fmt", "--check", "ok.spk", "ugly.spk");
    expect(r.stdout).toBe("ugly.spk\n");
    expect(r.code).toBe(1);
    expect(fs.readFileSync(path.join(tmp, "ugly.spk"), "utf8")).toBe(UGLY);
  });

  it("rewrites files in place, leaving no temporary file", () => {
    write("ugly.spk", UGLY);
    const r = spikelm("fmt", "ugly.spk");
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(tmp, "ugly.spk"), "utf8")).toBe(PRETTY);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(spikelm("fmt", "--check", "ugly.spk").code).toBe(0);
  });

  it("prints the diagnostics of a file with syntax errors, exits 1, and leaves it alone", () => {
    const broken = "neuron N {\n  step(x) {\n    emit heaviside(x\n  }\n}\n";
    write("broken.spk", broken);
    write("ugly.spk", UGLY);
    const r = spikelm("fmt", "broken.spk", "ugly.spk");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^broken\.spk:4:3: error SPK002: expected `\)`/m);
    expect(fs.readFileSync(path.join(tmp, "broken.spk"), "utf8")).toBe(broken);
    expect(fs.readFileSync(path.join(tmp, "ugly.spk"), "utf8")).toBe(PRETTY); // the others are still formatted
  });

  it("formats a symbolic link's target and keeps the link", () => {
    const target = write("target.spk", UGLY);
    fs.mkdirSync(path.join(tmp, "links"), { recursive: true });
    const link = path.join(tmp, "links", "link.spk");
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.relative(path.dirname(link), target), link);
    const r = spikelm("fmt", "links/link.spk");
    expect(r.code).toBe(0);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(target, "utf8")).toBe(PRETTY);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(fs.readdirSync(path.join(tmp, "links"))).toEqual(["link.spk"]);
  });

  it("exits 1 on a missing file", () => {
    const r = spikelm("fmt", "missing.spk");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read missing\.spk/);
  });
});

describe("prettier's CLI with the repository's .prettierrc", () => {
  const prettierBin = path.join(REPO, "node_modules/prettier/bin/prettier.cjs");
  const prettier = (...args: string[]) =>
    spawnSync(process.execPath, [prettierBin, "--config", path.join(REPO, ".prettierrc"), ...args], { cwd: REPO, encoding: "utf8", timeout: 60_000 });

  it("checks and writes .spk files", () => {
    const ugly = write("cli.spk", UGLY);
    expect(prettier("--check", ugly).status).toBe(1);
    expect(prettier("--write", ugly).status).toBe(0);
    expect(fs.readFileSync(ugly, "utf8")).toBe(PRETTY);
    expect(prettier("--check", ugly).status).toBe(0);
  });

  it("reports a syntax error with its code and position", () => {
    const broken = write("cli-broken.spk", "const a = (1\n");
    const r = prettier("--check", broken);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/SyntaxError: SPK002: .* \(2:1\)/);
  });
});
