/**
 * The playground editor's highlighting (tools/playground/page/highlight.ts) against the VS Code
 * extension's TextMate grammar run by vscode-textmate on its own: on every shipped spec, each
 * character gets the style class that the grammar's scopes for it map to, across line
 * boundaries (shapes spanning lines, blank lines); and every scope the grammar names has a
 * class (or is declared as inheriting one).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureSyntaxTree } from "@codemirror/language";
import { EditorState } from "@codemirror/state";
import { highlightTree } from "@lezer/highlight";
import { beforeAll, describe, expect, it } from "vitest";
import type { IGrammar, StateStack } from "vscode-textmate";
import { classOfScopes, cssClass, SCOPE_CLASSES, spkHighlighter, spkLanguage } from "../tools/playground/page/highlight.js";
import { REPO } from "./helpers.js";
import { loadSpkGrammar, SPK_GRAMMAR as GRAMMAR, vsctm } from "./textmate-grammar.js";

let grammar: IGrammar;

beforeAll(async () => {
  grammar = await loadSpkGrammar();
});

/** The class of each character per vscode-textmate (tokenizing line by line as VS Code does); "" for none. */
function textmateClasses(text: string): string[] {
  const out: string[] = new Array(text.length).fill("");
  let state: StateStack = vsctm.INITIAL;
  let offset = 0;
  for (const line of text.split("\n")) {
    const r = grammar.tokenizeLine(line, state);
    for (const t of r.tokens) {
      const c = classOfScopes(t.scopes);
      for (let i = t.startIndex; i < Math.min(t.endIndex, line.length); i++) out[offset + i] = c ? cssClass(c) : "";
    }
    state = r.ruleStack;
    offset += line.length + 1;
  }
  return out;
}

/** The class of each character as the CodeMirror editor highlights it. */
function editorClasses(text: string): string[] {
  const state = EditorState.create({ doc: text, extensions: [spkLanguage(grammar, vsctm.INITIAL)] });
  const tree = ensureSyntaxTree(state, state.doc.length, 10_000);
  if (!tree) throw new Error("the editor did not parse the document");
  const out: string[] = new Array(text.length).fill("");
  highlightTree(tree, spkHighlighter, (from, to, classes) => {
    for (let i = from; i < to; i++) out[i] = classes;
  });
  return out;
}

function specFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".spk"))
    .map((f) => path.join(dir, f))
    .sort();
}

const SPECS = ["examples", "stdlib", "models", "test/fixtures/prettier"].flatMap((d) => specFiles(path.join(REPO, d)));

/** The first characters where two class lists differ, for a readable failure. */
function differences(text: string, want: string[], got: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length && out.length < 5; i++) {
    if (want[i] !== got[i]) {
      const line = text.slice(0, i).split("\n").length;
      out.push(`${line}: ${JSON.stringify(text.slice(Math.max(0, i - 8), i + 8))} at ${JSON.stringify(text[i])}: textmate ${want[i] || "(none)"}, editor ${got[i] || "(none)"}`);
    }
  }
  return out;
}

describe("playground highlighting", () => {
  it("has the shipped specs to compare", () => {
    expect(SPECS.map((f) => path.relative(REPO, f))).toEqual(expect.arrayContaining(["examples/tiny_spikelm.spk", "stdlib/layers.spk", "models/tiny/tiny_spikelm.spk"]));
  });

  it.each(SPECS.map((f) => [path.relative(REPO, f), f]))("agrees with vscode-textmate on %s", (_name, file) => {
    const text = fs.readFileSync(file, "utf8");
    const want = textmateClasses(text);
    expect(want.some((c) => c !== "")).toBe(true);
    expect(differences(text, want, editorClasses(text))).toEqual([]);
  });

  it("carries the grammar's state across lines and blank lines", () => {
    // A shape that spans lines (its dimensions stay dimensions), a blank line inside it, and a string.
    const text = 'layer L(d) {\n  forward(x: [T,\n\n      B, d]) -> [T, B, d] {\n    return x // "not a string"\n  }\n}\nimport "std/x"\n';
    const got = editorClasses(text);
    expect(differences(text, textmateClasses(text), got)).toEqual([]);
    const at = (s: string, from = 0) => got[text.indexOf(s, from)];
    expect(at("B, d]")).toBe(cssClass("dimension"));
    expect(at("layer")).toBe(cssClass("keyword"));
    expect(at("L(")).toBe(cssClass("declaration"));
    expect(at("return")).toBe(cssClass("control"));
    expect(at("// ")).toBe(cssClass("comment"));
    expect(at('"not')).toBe(cssClass("comment"));
    expect(at('"std/x"')).toBe(cssClass("string"));
  });

  it("maps every scope the grammar names", () => {
    const json = fs.readFileSync(GRAMMAR, "utf8");
    const scopes = new Set([...json.matchAll(/"name":\s*"([a-z][a-z0-9.-]*\.spk)"/g)].map((m) => m[1]!));
    expect(scopes.size).toBeGreaterThan(30);
    const unmapped = [...scopes].filter((s) => {
      const parts = s.replace(/\.spk$/, "").split(".");
      return !parts.some((_, i) => parts.slice(0, i + 1).join(".") in SCOPE_CLASSES);
    });
    expect(unmapped).toEqual([]);
  });
});
