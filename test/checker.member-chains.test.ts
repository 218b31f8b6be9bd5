/**
 * Long member chains (`x.a.a.a...`, `lin.a.a = x`, mixed with calls and indexing) give one
 * clear diagnostic each, never a follow-on one: past MAX_EXPRESSION_DEPTH the parser's SPK005
 * alone (the checker used to add a misleading SPK414 after it, and one SPK414 per `.` of a
 * chain of calls), and below it the SPK414/SPK415 naming what the user wrote.
 *
 * Expected positions are found in the generated text (where the chain starts, where its first
 * `.` is), not taken from the checker.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { checkFiles } from "../interpreter/checker/check.js";
import { MAX_EXPRESSION_DEPTH } from "../grammar/limits.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-chains-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;

const PRELUDE = `import "std/neurons"
layer Inner(d) {
  lin = Linear(d, d)
  forward(x: [..., d]) -> [..., d] {
    return lin(x)
  }
}
`;
// The forward's first statement is on line 12, at column 5.
const layerWith = (stmts: string) => `${PRELUDE}layer Probe(d) {
  inner = Inner(d)
  lin = Linear(d, d)
  forward(x: [T, B, d]) -> [T, B, d] {
    ${stmts}
  }
}
`;

interface Found {
  code: string;
  at: string;
  message: string;
}

/** Every diagnostic of the spec's own file, as code, `line:col` and message. */
function diagnosticsOf(text: string): Found[] {
  const file = path.join(dir, `c${counter++}.spk`);
  fs.writeFileSync(file, text);
  const r = checkFiles([file]);
  const lines = r.program.files.get(file)!.lines;
  return r.diagnostics
    .filter((d) => d.uri === file)
    .map((d) => {
      const p = lines.position(d.span.start);
      return { code: d.code, at: `${p.line + 1}:${p.character + 1}`, message: d.message };
    });
}

/** `line:col` (1-based) of `marker`'s first occurrence in `text`. */
function positionOf(text: string, marker: string): string {
  const offset = text.indexOf(marker);
  expect(offset, marker).toBeGreaterThanOrEqual(0);
  const before = text.slice(0, offset).split("\n");
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

const dots = (n: number) => ".a".repeat(n);

// Each places the chain after `@@`, which is removed; SPK005 is where the chain starts.
const DEEP: { what: string; stmt: (n: number) => string }[] = [
  { what: "returned", stmt: (n) => `return @@x${dots(n)}` },
  { what: "from a field, inside a call", stmt: (n) => `return x @ transpose(@@lin${dots(n)})` },
  { what: "a builtin's argument", stmt: (n) => `return relu(@@x${dots(n)})` },
  { what: "in brackets, then one more member", stmt: (n) => `return (@@x${dots(n)}).b` },
  { what: "as a callee", stmt: (n) => `return @@inner${dots(n)}(x)` },
  { what: "mixed with indexing and calls", stmt: (n) => `return @@x${".a[0](x)".repeat(Math.ceil(n / 3))}` },
  { what: "bound by let, then used", stmt: (n) => `let y = @@x${dots(n)}\n    return y` },
];

describe("a member chain deeper than MAX_EXPRESSION_DEPTH: SPK005 alone, where the chain starts", () => {
  for (const n of [MAX_EXPRESSION_DEPTH + 1, 5000, 20_000]) {
    it.each(DEEP)(`$what (${n} members)`, ({ stmt }) => {
      const marked = layerWith(stmt(n));
      const text = marked.replace("@@", "");
      const found = diagnosticsOf(text);
      expect(found.map((d) => `${d.code} ${d.at}`)).toEqual([`SPK005 ${positionOf(marked, "@@")}`]);
      expect(found[0]!.message).toMatch(/expression nested more than 1000 deep, the limit \(MAX_EXPRESSION_DEPTH\); split it with `let`/);
    });
  }

  it("100,000 members: one SPK005", () => {
    expect(diagnosticsOf(layerWith(`return x${dots(100_000)}`)).map((d) => `${d.code} ${d.at}`)).toEqual(["SPK005 12:12"]);
  });

  it("does not hide the file's other errors: those on the next line are still reported", () => {
    const found = diagnosticsOf(layerWith(`let y = x${dots(5000)}\n    return x @ transpose(lin.Wx) + zz`));
    expect(found.map((d) => `${d.code} ${d.at}`)).toEqual(["SPK005 12:13", "SPK414 13:30", "SPK201 13:36"]);
  });
});

describe("member chains within the limit: one diagnostic naming what was written", () => {
  const cases: { what: string; stmt: string; at: string; message: RegExp }[] = [
    { what: "a tensor's member, 10 deep", stmt: `return x${dots(10)}`, at: "SPK414 12:14", message: /^cannot read `x\.a`: `x` is a tensor, not a field holding a layer$/ },
    { what: "a field's missing weight, 990 deep", stmt: `return x @ lin${dots(990)}`, at: "SPK414 12:20", message: /^`lin` \(`Linear`\) has no weight or field `a`; did you mean `W`\?/ },
    {
      what: "a call's result (names the call and the member, no fixed example)",
      stmt: "return relu(x).W",
      at: "SPK414 12:20",
      message: /^cannot read `\.W` of `relu\(x\)`: `\.` reads a weight of one of this layer's fields and starts from the field's name/,
    },
    { what: "an indexed tensor", stmt: "return (x[0]).table", at: "SPK414 12:19", message: /^cannot read `\.table` of `x\[0\]`/ },
    {
      what: "a long call as the target is cut in the message",
      stmt: `return relu(${"x + ".repeat(40)}x).W`,
      at: "SPK414 12:180",
      message: /^cannot read `\.W` of `relu\(x( \+ x){5,7} \+ … \+ x( \+ x){5,7}\)`: .{0,120}$/,
    },
    { what: "a chain of calls and members, 10 links: the first link's error only", stmt: `return x${".a[0](x)".repeat(10)}`, at: "SPK414 12:14", message: /^cannot read `x\.a`/ },
    { what: "a call on an unknown name, then a member", stmt: "return nope(x).W", at: "SPK201 12:12", message: /unknown name `nope`/ },
  ];
  it.each(cases)("$what", ({ stmt, at, message }) => {
    const found = diagnosticsOf(layerWith(stmt));
    expect(found.map((d) => `${d.code} ${d.at}`)).toEqual([at]);
    expect(found[0]!.message).toMatch(message);
  });
});

describe("assigning through a member path: one SPK415, short and accurate", () => {
  it.each([10, 5000, 100_000])("`lin.a.a... = x` with %i members names the field, with the path cut short", (n) => {
    const found = diagnosticsOf(layerWith(`lin${dots(n)} = x\n    return x`));
    expect(found.map((d) => `${d.code} ${d.at}`)).toEqual(["SPK415 12:5"]);
    expect(found[0]!.message).toContain(`\`lin.a.a.a.….a.a (${(n + 1).toLocaleString("en-US")} names)\` belongs to the field \`lin\` and is read-only here`);
    expect(found[0]!.message.length).toBeLessThan(250);
  });

  it("a short path is written out whole", () => {
    const found = diagnosticsOf(layerWith("lin.W = x\n    return x"));
    expect(found[0]!.message).toMatch(/^`lin\.W` belongs to the field `lin` and is read-only here/);
  });

  it("through a tensor: says it is not a field (not that it belongs to one)", () => {
    const found = diagnosticsOf(layerWith("x.a = x\n    return x"));
    expect(found.map((d) => `${d.code} ${d.at}`)).toEqual(["SPK415 12:5"]);
    expect(found[0]!.message).toMatch(/^`x\.a` cannot be assigned: `x` is a tensor, not a field, and only a local name can be assigned/);
  });

  it("through an unknown name: the unknown name, once", () => {
    expect(diagnosticsOf(layerWith("nope.a.b = x\n    return x")).map((d) => `${d.code} ${d.at}`)).toEqual(["SPK201 12:5"]);
  });
});

describe("a member whose name is missing: the syntax error only", () => {
  it.each([
    ["`lin. = x` (not taken for `lin = x`)", "lin. = x\n    return x", "SPK002 12:10"],
    ["`x.a. = x`", "x.a. = x\n    return x", "SPK002 12:10"],
    ["`relu(x).` at the end of a line", "return relu(x).", "SPK002 13:3"],
  ])("%s", (_what, stmt, at) => {
    expect(diagnosticsOf(layerWith(stmt)).map((d) => `${d.code} ${d.at}`)).toEqual([at]);
  });
});

describe("property: a chain of members, indexing and calls never throws and gives at most one diagnostic", () => {
  const root = fc.constantFrom("x", "lin", "inner", "(x)", "relu(x)", "lin.W", "inner.lin");
  const link = fc.constantFrom(".a", ".W", ".lin", ".b", "[0]", "(x)", "[0:1]");
  it("holds for chains from 1 to 1,500 links; past the depth limit the one diagnostic is SPK005 where the chain starts", () => {
    fc.assert(
      fc.property(root, fc.array(link, { minLength: 1, maxLength: 1500 }), (r, links) => {
        const stmt = `return @@${r}${links.join("")}`;
        const marked = layerWith(stmt);
        const found = diagnosticsOf(marked.replace("@@", ""));
        expect(found.length, `${r}${links.slice(0, 20).join("")}... (${links.length} links)`).toBeLessThanOrEqual(1);
        if (links.length > MAX_EXPRESSION_DEPTH + 1) expect(found.map((d) => `${d.code} ${d.at}`)).toEqual([`SPK005 ${positionOf(marked, "@@")}`]);
        if (links.length < MAX_EXPRESSION_DEPTH - 5) expect(found.filter((d) => d.code === "SPK005")).toEqual([]);
      }),
      { numRuns: 60, seed: 20261129 },
    );
  });
});
