import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KEYWORDS, lexTokens, parse } from "../grammar/index.js";
import type { Expr, ParseResult } from "../grammar/index.js";

import { EXAMPLES } from "./helpers.js";
const examples = [readFileSync(`${EXAMPLES}/neurons.spk`, "utf8"), readFileSync(`${EXAMPLES}/tiny_spikelm.spk`, "utf8")];
const CODES = new Set(["SPK000", "SPK001", "SPK002", "SPK003", "SPK004"]);

/** Every span reachable from the result: AST nodes (recursively), comments, diagnostics. */
function allSpans(r: ParseResult): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const stack: unknown[] = [r.file, ...r.diagnostics];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      stack.push(...v);
    } else if (v !== null && typeof v === "object") {
      for (const [key, child] of Object.entries(v)) {
        if (key === "span" || key === "pathSpan") out.push(child as { start: number; end: number });
        else stack.push(child);
      }
    }
  }
  return out;
}

/** A deep copy without any `span`/`pathSpan`, to compare trees whose offsets shifted. */
function withoutSpans(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutSpans);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== "span" && k !== "pathSpan").map(([k, c]) => [k, withoutSpans(c)]));
  }
  return v;
}

/** The properties every parse must have, whatever the input (plain checks: `expect` per span is slow). */
function checkParse(text: string): void {
  let r: ParseResult;
  try {
    r = parse(text, "p.spk");
  } catch (e) {
    throw new Error(`parse threw: ${String(e)}`);
  }
  const problems: string[] = [];
  if (r.file.kind !== "File") problems.push("no File node");
  for (const s of allSpans(r)) {
    if (!(Number.isInteger(s.start) && Number.isInteger(s.end) && 0 <= s.start && s.start <= s.end && s.end <= text.length)) {
      problems.push(`span out of bounds: ${JSON.stringify(s)}`);
    }
  }
  for (const d of r.diagnostics) {
    if (!CODES.has(d.code)) problems.push(`unknown code ${d.code}`);
    if (d.code === "SPK000") problems.push(`internal error: ${d.message}`); // a bug for inputs this small
    if (/Expecting|Token sequences|-->/.test(d.message)) problems.push(`raw Chevrotain message: ${d.message}`);
  }
  const starts = r.file.comments.map((c) => c.span.start);
  if (starts.some((s, i) => i > 0 && s < starts[i - 1]!)) problems.push("comments out of order");
  for (const t of lexTokens(text)) {
    if (!(0 <= t.span.start && t.span.start < t.span.end && t.span.end <= text.length)) problems.push(`bad token span ${JSON.stringify(t)}`);
  }
  expect(problems).toEqual([]);
}

// ---------------------------------------------------------------------------------------
// Generators

const PIECES = [
  ...KEYWORDS,
  ...["x", "u", "alpha", "T", "_a1", "SpikeLinear"],
  ...["0", "0.25", "1e-12", ".5", "1e999", '"./a.spk"', '"esc\\"q"', '"open'],
  ...["(", ")", "{", "}", "[", "]", ",", ";", ":", "=", "->", "...", "+", "-", "*", "/", "@"],
  ...["// c", "/// d", "#", "\u00e9", "\\"],
];
const separator = fc.constantFrom("", " ", "\n", "  ", "\r\n");
/** Random sequences of language tokens: near-miss programs. */
const tokenSoup = fc
  .array(fc.tuple(fc.constantFrom(...PIECES), separator), { maxLength: 80 })
  .map((parts) => parts.map(([p, s]) => p + s).join(""));

type Mutation =
  | { op: "delete"; at: number; len: number }
  | { op: "insert"; at: number; text: string }
  | { op: "duplicate"; at: number; len: number; to: number }
  | { op: "replace"; at: number; len: number; text: string };

const insertText = fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 6 }));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text: insertText }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 80 }), to: fc.nat() }),
  fc.record({ op: fc.constant("replace" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 10 }), text: insertText }),
);

function mutate(text: string, m: Mutation): string {
  const at = text.length === 0 ? 0 : m.at % (text.length + 1);
  switch (m.op) {
    case "delete":
      return text.slice(0, at) + text.slice(at + m.len);
    case "insert":
      return text.slice(0, at) + m.text + text.slice(at);
    case "duplicate": {
      const piece = text.slice(at, at + m.len);
      const to = m.to % (text.length + 1);
      return text.slice(0, to) + piece + text.slice(to);
    }
    case "replace":
      return text.slice(0, at) + m.text + text.slice(at + m.len);
  }
}

const mutatedExample = fc
  .tuple(fc.constantFrom(...examples), fc.array(mutation, { minLength: 1, maxLength: 5 }))
  .map(([text, ms]) => ms.reduce(mutate, text));

// ---------------------------------------------------------------------------------------

describe("parse never throws and keeps every span inside the document", () => {
  it("over arbitrary strings", () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), checkParse), { numRuns: 1500 });
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 100 }), checkParse), { numRuns: 500 });
  });

  it("over grammar-aware token soup", () => {
    fc.assert(fc.property(tokenSoup, checkParse), { numRuns: 2000 });
  });

  it("over mutations of the example programs", () => {
    fc.assert(fc.property(mutatedExample, checkParse), { numRuns: 1000 });
  });

  it("a broken first declaration never changes the declarations after it", () => {
    const tiny = examples[1]!;
    const firstEnd = tiny.indexOf("}\n\n/// Self-attention"); // SpikeLinear's closing brace
    const laterDecls = parse(tiny, "t.spk").file.decls.slice(1);
    const reference = withoutSpans(laterDecls);
    const localMutation = fc.array(
      fc.tuple(fc.integer({ min: 0, max: firstEnd }), fc.nat(30), fc.oneof(fc.constantFrom(...PIECES, ""), fc.string({ maxLength: 4 }))),
      { minLength: 1, maxLength: 4 },
    );
    fc.assert(
      fc.property(localMutation, (ms) => {
        let text = tiny;
        let limit = firstEnd;
        for (const [at, len, ins] of ms) {
          const start = Math.min(at, limit);
          const del = Math.min(len, limit - start);
          text = text.slice(0, start) + ins + text.slice(start + del);
          limit += ins.length - del;
        }
        const decls = parse(text, "t.spk").file.decls;
        const later = decls.slice(decls.length - laterDecls.length);
        expect(withoutSpans(later)).toEqual(reference);
      }),
      { numRuns: 500 },
    );
  });

  it("is deterministic: the shared parser instance carries no state between calls", () => {
    fc.assert(
      fc.property(mutatedExample, tokenSoup, (a, b) => {
        const first = parse(a, "a.spk");
        parse(b, "b.spk");
        expect(parse(a, "a.spk")).toEqual(first);
      }),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// Precedence: random expression trees printed with minimal parentheses parse back to themselves.

type Tree = { k: "leaf"; v: string } | { k: "neg"; e: Tree } | { k: "bin"; op: string; l: Tree; r: Tree } | { k: "call"; f: string; args: Tree[] };

const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("a", "b", "c", "1", "2.5").map((v): Tree => ({ k: "leaf", v })),
    tie("tree").map((e): Tree => ({ k: "neg", e })),
    fc.record({ op: fc.constantFrom("+", "-", "*", "/", "@"), l: tie("tree"), r: tie("tree") }).map((b): Tree => ({ k: "bin", ...b })),
    fc.record({ f: fc.constantFrom("f", "g"), args: fc.array(tie("tree"), { maxLength: 3 }) }).map((c): Tree => ({ k: "call", ...c })),
  ),
})).tree;

const LEVEL: Record<string, number> = { "+": 1, "-": 1, "*": 2, "/": 2, "@": 2 };

/** Prints with the fewest parentheses the grammar needs (level: 1 additive, 2 multiplicative, 3 unary, 4 postfix). */
function print(t: Tree, min = 0): string {
  const wrap = (s: string, level: number): string => (level < min ? `(${s})` : s);
  switch (t.k) {
    case "leaf":
      return t.v;
    case "neg":
      return wrap(`-${print(t.e, 3)}`, 3);
    case "bin": {
      const level = LEVEL[t.op]!;
      return wrap(`${print(t.l, level)} ${t.op} ${print(t.r, level + 1)}`, level);
    }
    case "call":
      return `${t.f}(${t.args.map((a) => print(a)).join(", ")})`;
  }
}

function same(t: Tree, e: Expr): boolean {
  switch (t.k) {
    case "leaf":
      return (e.kind === "Name" && e.name === t.v) || (e.kind === "Number" && e.text === t.v);
    case "neg":
      return e.kind === "Unary" && same(t.e, e.operand);
    case "bin":
      return e.kind === "Binary" && e.op === t.op && same(t.l, e.left) && same(t.r, e.right);
    case "call":
      return (
        e.kind === "Call" &&
        e.callee.kind === "Name" &&
        e.callee.name === t.f &&
        e.args.length === t.args.length &&
        t.args.every((a, i) => same(a, e.args[i]!.value))
      );
  }
}

describe("expressions round-trip through the printer", () => {
  it("minimal parentheses preserve precedence and left associativity", () => {
    fc.assert(
      fc.property(treeArb, (t) => {
        const src = `const x = ${print(t)}`;
        const r = parse(src, "e.spk");
        expect(r.diagnostics).toEqual([]);
        const d = r.file.decls[0];
        expect(d?.kind === "Const" && same(t, d.value)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
