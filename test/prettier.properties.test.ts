/**
 * Properties of the .spk formatter (tools/prettier), over the shipped specs and random ones:
 *   - formatting is idempotent;
 *   - the formatted text parses to the same tree (spans, number spelling and comment order
 *     aside, doc text up to trailing blanks);
 *   - no comment is dropped or changed (multiset of trimmed texts);
 *   - formatting never throws on a document that parses without syntax errors.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "../grammar/parse.js";
import { formatSpk, printerStats } from "../tools/prettier/printer.js";
import { startsLine } from "../grammar/tokens.js";
import { syntaxDiagnostics } from "../tools/prettier/plugin.js";
import { EXAMPLES, REPO } from "./helpers.js";

// ---------------------------------------------------------------------------------------
// Comparison helpers

/** The tree without spans, number spelling, uri and comments; docs without trailing blanks. */
function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, c] of Object.entries(v)) {
      if (k === "span" || k === "pathSpan" || k === "uri" || k === "comments") continue;
      if (k === "text" && (v as { kind?: string }).kind === "Number") continue;
      out[k] = k === "doc" && typeof c === "string" ? c.split("\n").map((l) => l.trimEnd()).join("\n") : normalise(c);
    }
    return out;
  }
  return v;
}

function commentTexts(text: string): string[] {
  return parse(text, "c.spk")
    .file.comments.map((c) => c.text.trim())
    .sort();
}

function parsesCleanly(text: string): boolean {
  return syntaxDiagnostics(parse(text, "p.spk").diagnostics).length === 0;
}

/** Checks every property for one document; returns the formatted text. */
async function checkFormat(text: string): Promise<string> {
  const once = await formatSpk(text);
  const twice = await formatSpk(once);
  expect(twice, "formatting is idempotent").toBe(once);
  const before = parse(text, "a.spk");
  const after = parse(once, "a.spk");
  expect(syntaxDiagnostics(after.diagnostics), "the output parses").toEqual([]);
  expect(normalise(after.file), "same tree").toEqual(normalise(before.file));
  expect(commentTexts(once), "same comments").toEqual(commentTexts(text));
  expect(printerStats.missedComments, "every comment placed").toBe(0);
  return once;
}

// ---------------------------------------------------------------------------------------
// The shipped specs

function spkFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...spkFiles(p));
    else if (e.name.endsWith(".spk")) out.push(p);
  }
  return out.sort();
}

const shipped = [
  ...spkFiles(EXAMPLES),
  ...spkFiles(path.join(REPO, "stdlib")),
  ...spkFiles(path.join(REPO, "models")),
  ...spkFiles(path.join(REPO, "test/fixtures")),
].filter((f) => parsesCleanly(fs.readFileSync(f, "utf8")));

describe("formatting the shipped specs", () => {
  it("finds the examples, the stdlib and the models", () => {
    const names = shipped.map((f) => path.basename(f));
    expect(names).toEqual(expect.arrayContaining(["neurons.spk", "tiny_spikelm.spk", "prelude.spk", "layers.spk", "spikelm_encoder.spk"]));
  });

  it.each(shipped.map((f) => [path.relative(REPO, f), f]))("%s", async (_name, file) => {
    await checkFormat(fs.readFileSync(file, "utf8"));
  });

  it("leaves the stdlib as it is written", async () => {
    for (const f of spkFiles(path.join(REPO, "stdlib"))) {
      const text = fs.readFileSync(f, "utf8");
      expect(await formatSpk(text), f).toBe(text);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Random specs: syntactically valid by construction, in many layouts

const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
const nameArb = pick("x", "u", "s", "alpha", "W", "b", "d", "T", "B", "L", "tau", "_a1", "heads", "SpikeLinear", "LIF");
const numberArb = pick("0", "1", "2", "0.25", "1.0", "1e-12", ".5", "3.4028234663852886e38", "1E5", "64");
const stringArb = pick('"s"', '"esc\\"q"', '"std/neurons"', '""');
const boolArb = pick("true", "false");
const sp = pick(" ", " ", "", "  ");
/** A comment that may sit inside an argument list: it ends its line. */
const innerComment = fc.nat(99).chain((n) => pick("", "", "", "", ` // in${n}\n`, ` /// din${n}\n`));

const exprCache = new Map<number, fc.Arbitrary<string>>();

/** Expression text of nesting depth at most `depth` (the parser decides the tree). */
function exprArb(depth: number): fc.Arbitrary<string> {
  const cached = exprCache.get(depth);
  if (cached) return cached;
  const leaf = fc.oneof({ weight: 3, arbitrary: nameArb }, { weight: 3, arbitrary: numberArb }, stringArb, boolArb);
  if (depth <= 0) {
    exprCache.set(depth, leaf);
    return leaf;
  }
  const sub = exprArb(depth - 1);
  const postfixBase = fc.oneof(nameArb, sub.map((e) => `(${e})`));
  const arg = fc.oneof({ weight: 3, arbitrary: sub }, fc.tuple(nameArb, sp, sub).map(([n, s, e]) => `${n}${s}=${s}${e}`));
  const args = fc
    .tuple(fc.array(fc.tuple(arg, innerComment), { maxLength: 4 }), fc.boolean())
    .map(([as, trailing]) => as.map(([a, c], i) => (i < as.length - 1 ? `${a},${c || " "}` : a)).join("") + (trailing && as.length > 0 ? "," : ""));
  const indexItem = fc.oneof(
    { weight: 2, arbitrary: sub },
    fc.constant(":"),
    sub.map((e) => `${e}:`),
    sub.map((e) => `:${e}`),
    fc.tuple(sub, sub).map(([a, b]) => `${a}:${b}`),
  );
  const arb = fc.oneof(
    { weight: 4, arbitrary: leaf },
    fc.tuple(sub, pick("+", "-", "*", "/", "@"), sub, sp).map(([a, op, b, s]) => `${a}${s || " "}${op} ${b}`),
    sub.map((e) => `-${e}`),
    sub.map((e) => `(${e})`),
    fc.tuple(postfixBase, args).map(([c, a]) => `${c}(${a})`),
    fc.tuple(postfixBase, fc.array(indexItem, { minLength: 1, maxLength: 3 })).map(([t, items]) => `${t}[${items.join(", ")}]`),
    fc.tuple(fc.oneof(nameArb, numberArb), sub).map(([n, e]) => `repeat ${n} { ${e} }`),
    fc.tuple(postfixBase, fc.array(nameArb, { minLength: 1, maxLength: 2 }), sp).map(([t, ns, s]) => `${t}${s.length > 1 ? "" : s}.${ns.join(".")}`),
  );
  exprCache.set(depth, arb);
  return arb;
}

const expr = exprArb(3);
const dim = fc.oneof({ weight: 4, arbitrary: exprArb(1) }, fc.constant("..."));
const typeArb = fc
  .tuple(pick("", "f32", "int"), fc.array(dim, { maxLength: 4 }), fc.boolean())
  .map(([dt, ds, tc]) => `${dt}[${ds.join(", ")}${tc && ds.length > 0 ? "," : ""}]`);
const paramsArb = fc
  .tuple(fc.array(fc.tuple(nameArb, fc.option(exprArb(1))), { maxLength: 4 }), fc.boolean())
  .map(([ps, tc]) => ps.map(([n, d]) => (d === null ? n : `${n} = ${d}`)).join(", ") + (tc && ps.length > 0 ? "," : ""));
const typedParamsArb = fc
  .array(fc.tuple(nameArb, fc.option(typeArb)), { maxLength: 3 })
  .map((ps) => ps.map(([n, t]) => (t === null ? n : `${n}: ${t}`)).join(", "));

/** Comment lines before an item (each on its own line), with blank lines now and then. */
const leadingComments = fc.array(
  fc.tuple(pick("//", "///", "// ", "/// ", "// prettier-ignore"), fc.nat(999), pick("", "", "  ", " x // y"), pick("\n", "\n", "\n\n")),
  { maxLength: 3 },
);
const commentLine = (m: string, n: number, extra: string) => (m === "// prettier-ignore" ? m : `${m}c${n}${extra}`);
const trailingComment = fc.nat(999).chain((n) => pick("", "", "", ` // t${n}`, ` /// dt${n}`, `; // s${n}`, ";"));
const separator = pick("\n", "\n", "\n\n", "\n\n\n", "\n  ");

/** `item` text with comments before it and maybe one after it on its line. */
function withComments(item: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(leadingComments, item, trailingComment)
    .map(([cs, it, tr]) => cs.map(([m, n, extra, nl]) => commentLine(m, n, extra) + nl).join("") + it + tr);
}

function items(member: fc.Arbitrary<string>, max: number): fc.Arbitrary<string> {
  return fc.tuple(fc.array(fc.tuple(withComments(member), separator), { maxLength: max }), fc.option(leadingComments)).map(
    ([ms, dangling]) =>
      ms.map(([m, s]) => m + s).join("") + (dangling ? dangling.map(([m, n]) => `${m}end${n}\n`).join("") : ""),
  );
}

const stmt = fc.oneof(
  fc.tuple(nameArb, expr).map(([n, e]) => `let ${n} = ${e}`),
  fc.tuple(nameArb, expr).map(([n, e]) => `${n} = ${e}`),
  fc.tuple(nameArb, nameArb, expr).map(([n, m, e]) => `${n}.${m} = ${e}`),
  expr.map((e) => `emit ${e}`),
  expr.map((e) => `return ${e}`),
);
const block = items(stmt, 4).map((body) => `{\n${body}\n}`);
const opener = fc.nat(99).chain((n) => pick("", "", ` // open${n}`));

const neuronMember = fc.oneof(
  fc.tuple(nameArb, expr).map(([n, e]) => `state ${n} = ${e}`),
  fc.tuple(nameArb, nameArb, expr).map(([n, a, e]) => `amplitude ${n}[${a}] = ${e}`),
  fc.tuple(typedParamsArb, opener, block).map(([ps, o, b]) => `step(${ps}) ${b.replace("{", "{" + o)}`),
);
const moduleMember = fc.oneof(
  fc.tuple(nameArb, expr).map(([n, e]) => `${n} = ${e}`),
  fc.tuple(nameArb, typeArb, fc.option(expr)).map(([n, t, e]) => `weight ${n}: ${t}${e === null ? "" : ` = ${e}`}`),
  fc.tuple(nameArb, expr).map(([n, e]) => `timesteps ${n} = ${e}`),
  fc.tuple(typedParamsArb, fc.option(typeArb), block).map(([ps, t, b]) => `forward(${ps})${t === null ? "" : ` -> ${t}`} ${b}`),
);
const header = fc.tuple(nameArb, fc.option(paramsArb), opener);
const decl = fc.oneof(
  fc.tuple(nameArb, expr).map(([n, e]) => `const ${n} = ${e}`),
  fc.tuple(header, items(neuronMember, 4)).map(([[n, ps, o], body]) => `neuron ${n}${ps === null ? "" : `(${ps})`} {${o}\n${body}\n}`),
  fc
    .tuple(pick("layer", "model"), header, items(moduleMember, 4))
    .map(([kw, [n, ps, o], body]) => `${kw} ${n}${ps === null ? "" : `(${ps})`} {${o}\n${body}\n}`),
  stringArb.map((s) => `import ${s}`),
);
const specArb = items(decl, 5);

describe("formatting random specs", () => {
  it("generates specs that parse", () => {
    fc.assert(
      fc.property(specArb, (text) => {
        expect(syntaxDiagnostics(parse(text, "g.spk").diagnostics)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("is idempotent, keeps the tree and every comment", async () => {
    await fc.assert(
      fc.asyncProperty(specArb, async (text) => {
        await checkFormat(text);
      }),
      { numRuns: 400 },
    );
  });

  it("keeps comments on their own line or at the end of their line", async () => {
    // The generator tags comments: `t`, `s`, `dt`, `open` end a line of code; `c`, `end`
    // stand on their own line; `in`, `din` sit inside an argument list and move above.
    const placement = (text: string) => {
      const own: string[] = [];
      const trailing: string[] = [];
      for (const c of parse(text, "p.spk").file.comments) (startsLine(text, c.span.start) ? own : trailing).push(c.text.trim());
      return { own: own.sort(), trailing: trailing.sort() };
    };
    const isTrailingTag = (t: string) => /^\/\/\/? ?(t|s|dt|open)\d+$/.test(t);
    await fc.assert(
      fc.asyncProperty(specArb, async (text) => {
        fc.pre(!text.includes("prettier-ignore")); // ignored items keep their comments where they are
        const before = placement(text);
        const after = placement(await formatSpk(text));
        expect(after.trailing).toEqual(before.trailing.filter(isTrailingTag));
        expect(after.own).toEqual([...before.own, ...before.trailing.filter((t) => !isTrailingTag(t))].sort());
      }),
      { numRuns: 300 },
    );
  });

  it("keeps the tree of deeply nested expressions", async () => {
    const deep = exprArb(5);
    await fc.assert(
      fc.asyncProperty(deep, async (e) => {
        await checkFormat(`const c = ${e}\n`);
      }),
      { numRuns: 200 },
    );
  });

  it("never throws on a document that parses", async () => {
    const pieces = ["neuron N {", "layer L(a, b = 2) {", "}", "step(x) {", "emit x", "return y", "let a = ", "x", "-", "+", "*", "@", "(", ")", "[", "]", ":", ",", "repeat 2 {", "// c", "/// d", "\n", ";", "1e-3", "f(", "weight W: [d, ...]", "forward(x) {"];
    const soup = fc.array(fc.tuple(pick(...pieces), pick("", " ", "\n")), { maxLength: 40 }).map((ps) => ps.map(([p, s]) => p + s).join(""));
    let formatted = 0;
    await fc.assert(
      fc.asyncProperty(soup, async (text) => {
        if (!parsesCleanly(text)) return;
        formatted++;
        await checkFormat(text);
      }),
      { numRuns: 1500 },
    );
    expect(formatted).toBeGreaterThan(10);
  });
});
