/**
 * The VS Code extension (tools/vscode): the TextMate grammar tokenized with vscode-textmate
 * and the oniguruma wasm, checked against the project's own lexer on the shipped specs and
 * on chosen constructs; and the .vsix the packaging script builds.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IGrammar, StateStack } from "vscode-textmate";
import { BUILTINS } from "../interpreter/checker/builtins.js";
import { lexTokens } from "../grammar/tokens.js";
import type { LexKind } from "../grammar/tokens.js";
import { EXAMPLES, REPO } from "./helpers.js";
import { loadSpkGrammar, vsctm } from "./textmate-grammar.js";

const VSCODE = path.join(REPO, "tools/vscode");

let grammar: IGrammar;

beforeAll(async () => {
  grammar = await loadSpkGrammar();
});

interface Tok {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly scopes: readonly string[];
}

/** TextMate tokens of a document, with offsets into it. */
function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let state: StateStack = vsctm.INITIAL;
  let offset = 0;
  for (const line of text.split("\n")) {
    const r = grammar.tokenizeLine(line, state);
    for (const t of r.tokens) {
      const end = Math.min(t.endIndex, line.length);
      if (end > t.startIndex) out.push({ start: offset + t.startIndex, end: offset + end, text: line.slice(t.startIndex, end), scopes: t.scopes });
    }
    state = r.ruleStack;
    offset += line.length + 1;
  }
  return out;
}

function scopesAt(toks: readonly Tok[], offset: number): string[] {
  const t = toks.find((x) => x.start <= offset && offset < x.end);
  return t ? [...t.scopes] : [];
}

/** The scopes at the first occurrence of `word` in `text` that is not part of a longer name or number. */
function scopesOf(text: string, word: string): string[] {
  const isWord = (c: string | undefined) => c !== undefined && /\w/.test(c);
  for (let at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
    const before = isWord(word[0]) && isWord(text[at - 1]);
    const after = isWord(word[word.length - 1]) && isWord(text[at + word.length]);
    if (!before && !after) return scopesAt(tokenize(text), at);
  }
  throw new Error(`no ${word} in ${text}`);
}

const has = (scopes: readonly string[], prefix: string) => scopes.some((s) => s === prefix || s.startsWith(prefix + "."));

/** What scope each kind of lexer token must get. */
const EXPECTED: Partial<Record<LexKind, (scopes: readonly string[]) => boolean>> = {
  keyword: (s) => has(s, "keyword") || has(s, "storage.type"),
  type: (s) => has(s, "storage.type.primitive"),
  bool: (s) => has(s, "constant.language.boolean"),
  number: (s) => has(s, "constant.numeric"),
  string: (s) => has(s, "string.quoted.double"),
  comment: (s) => has(s, "comment.line.double-slash") && !has(s, "comment.line.documentation"),
  doc: (s) => has(s, "comment.line.documentation"),
  operator: (s) => has(s, "keyword.operator"),
};

function specFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".spk")).map((f) => path.join(dir, f)).sort();
}

const specs = [
  ...specFiles(EXAMPLES),
  ...specFiles(path.join(REPO, "stdlib")),
  ...specFiles(path.join(REPO, "models")),
  ...specFiles(path.join(REPO, "test/fixtures/prettier")),
];

describe("TextMate grammar", () => {
  it("has the specs to tokenize", () => {
    expect(specs.map((f) => path.basename(f))).toEqual(expect.arrayContaining(["neurons.spk", "tiny_spikelm.spk", "layers.spk"]));
  });

  it.each(specs.map((f) => [path.relative(REPO, f), f]))("agrees with the lexer on %s", (_name, file) => {
    const text = fs.readFileSync(file, "utf8");
    const toks = tokenize(text);
    const problems: string[] = [];
    for (const t of lexTokens(text)) {
      const check = EXPECTED[t.kind];
      if (!check) continue;
      for (const at of [t.span.start, t.span.end - 1]) {
        const scopes = scopesAt(toks, at);
        if (!check(scopes)) problems.push(`${t.kind} \`${text.slice(t.span.start, t.span.end)}\` at ${at}: ${scopes.join(" ")}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("scopes keywords and declaration names", () => {
    const text = fs.readFileSync(path.join(EXAMPLES, "tiny_spikelm.spk"), "utf8");
    expect(scopesOf(text, "layer SpikeLinear")).toContain("storage.type.layer.spk");
    expect(scopesOf(text, "SpikeLinear")).toContain("entity.name.type.layer.spk");
    expect(scopesOf(text, "TinySpikeLM")).toContain("entity.name.type.model.spk");
    expect(scopesOf(text, "import")).toContain("keyword.control.import.spk");
    expect(scopesOf(text, "return")).toContain("keyword.control.spk");
    expect(scopesOf(text, "repeat")).toContain("keyword.control.spk");
    expect(scopesOf(text, "forward")).toContain("storage.type.function.spk");
    const neurons = fs.readFileSync(path.join(EXAMPLES, "neurons.spk"), "utf8");
    expect(scopesOf(neurons, "LIF")).toContain("entity.name.type.neuron.spk");
    expect(scopesOf(neurons, "emit")).toContain("keyword.control.spk");
    expect(scopesOf(neurons, "u = 0")).toContain("variable.other.member.spk");
    expect(scopesOf("const width = 64\n", "width")).toContain("entity.name.constant.spk");
    expect(scopesOf("layer L {\n  weight W: [d] = zeros\n}\n", "W")).toContain("variable.other.member.spk");
    expect(scopesOf("layer L {\n  weight W: [d] = zeros\n}\n", "zeros")).toContain("support.function.initialiser.spk");
    expect(scopesOf("  let s = x\n", "s")).toContain("variable.other.local.spk");
  });

  it("scopes types and shapes", () => {
    const line = "  forward(ids: int[B, L], x: f32[..., d / 2]) -> [B, L, vocab] {\n";
    expect(scopesOf(line, "int")).toEqual(expect.arrayContaining(["meta.type.shape.spk", "storage.type.primitive.spk"]));
    expect(scopesOf(line, "B")).toEqual(expect.arrayContaining(["meta.type.shape.spk", "entity.name.type.dimension.spk"]));
    expect(scopesOf(line, "f32")).toContain("storage.type.primitive.spk");
    expect(scopesOf(line, "...")).toContain("keyword.operator.ellipsis.spk");
    expect(scopesOf(line, "2")).toEqual(expect.arrayContaining(["meta.type.shape.spk", "constant.numeric.spk"]));
    expect(scopesOf(line, "vocab")).toEqual(expect.arrayContaining(["meta.type.shape.spk", "entity.name.type.dimension.spk"]));
    expect(scopesOf(line, "->")).toContain("keyword.operator.arrow.spk");
    // Indexing is not a type.
    expect(scopesOf("    return classify(z[:, 0])\n", "0")).not.toContain("meta.type.shape.spk");
  });

  it("scopes numbers, strings, booleans and operators", () => {
    for (const n of ["0", "0.25", "1e-12", ".5", "3.4028234663852886e38", "1E5"]) {
      expect(scopesOf(`const c = ${n}\n`, n), n).toContain("constant.numeric.spk");
    }
    expect(scopesOf('import "./neurons.spk"\n', '"./neurons')).toContain("string.quoted.double.spk");
    expect(scopesOf('const s = "a\\"b"\n', "\\")).toContain("constant.character.escape.spk");
    expect(scopesOf("const b = true\n", "true")).toContain("constant.language.boolean.spk");
    for (const op of ["+", "-", "*", "/", "@"]) expect(scopesOf(`const c = a ${op} b\n`, op), op).toContain("keyword.operator.arithmetic.spk");
    expect(scopesOf("const c = a\n", "=")).toContain("keyword.operator.assignment.spk");
    expect(scopesOf("  b = SpikeBlock(d, causal = true)\n", "causal")).toContain("variable.parameter.spk");
  });

  it("scopes comments and doc comments apart", () => {
    const text = "/// Leaky integrate-and-fire.\nneuron LIF { // the neuron\n  // own line\n}\n";
    expect(scopesOf(text, "Leaky")).toContain("comment.line.documentation.spk");
    expect(scopesOf(text, "the neuron")).toContain("comment.line.double-slash.spk");
    expect(scopesOf(text, "own line")).toContain("comment.line.double-slash.spk");
    expect(scopesOf(text, "own line")).not.toContain("comment.line.documentation.spk");
    expect(scopesOf("const c = 1 /// not a doc\n", "not")).toContain("comment.line.documentation.spk");
  });

  it("highlights every builtin of the checker", () => {
    const missing = [...BUILTINS.keys()].filter((name) => !scopesOf(`  let y = ${name}(x)\n`, name).includes("support.function.builtin.spk"));
    expect(missing).toEqual([]);
    expect(scopesOf("  let y = SpikeLinear(x)\n", "SpikeLinear")).toContain("entity.name.function.call.spk");
    expect(scopesOf("  q = Linear(d, d)\n", "Linear")).toContain("support.class.prelude.spk");
  });
});

// ---------------------------------------------------------------------------------------
// The extension manifest and the .vsix

interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
}

/** Reads a zip through its central directory (stored and deflated entries, no zip64). */
function readZip(buf: Buffer): ZipEntry[] {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error("no end of central directory");
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const csize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString("utf8", p + 46, p + 46 + nameLen);
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataStart, dataStart + csize);
    const data = method === 0 ? Buffer.from(raw) : zlib.inflateRawSync(raw);
    if (data.length !== size) throw new Error(`size mismatch for ${name}`);
    if (zlib.crc32 && zlib.crc32(data) !== crc) throw new Error(`crc mismatch for ${name}`);
    out.push({ name, data });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

describe("VS Code extension", () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(VSCODE, "package.json"), "utf8")) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  it("declares the language, grammar, settings and the language client", () => {
    expect(manifest["name"]).toBe("spikelm-vscode");
    expect(manifest["publisher"]).toBe("spikelm");
    expect(manifest["engines"].vscode).toBe("^1.85.0");
    expect(manifest["contributes"].languages[0]).toMatchObject({ id: "spk", extensions: [".spk"], configuration: "./language-configuration.json" });
    expect(manifest["contributes"].grammars[0]).toMatchObject({ language: "spk", scopeName: "source.spk", path: "./syntaxes/spk.tmLanguage.json" });
    expect(manifest["contributes"].configuration.properties["spikelm.server.path"].default).toBe("spikelm");
    expect(manifest["contributes"].configuration.properties["spikelm.server.args"].type).toBe("array");
    expect(Object.keys(manifest["dependencies"])).toEqual(["vscode-languageclient"]);
    const config = JSON.parse(fs.readFileSync(path.join(VSCODE, "language-configuration.json"), "utf8"));
    expect(config.comments.lineComment).toBe("//");
    expect(config.folding.markers.start).toBeTruthy();
    const extension = fs.readFileSync(path.join(VSCODE, "extension.js"), "utf8");
    expect(extension).toMatch(/require\("vscode-languageclient\/node"\)/);
    expect(extension).toMatch(/"lsp", "--stdio"/);
  });

  const out = fs.mkdtempSync(path.join(os.tmpdir(), "spk-vsix-"));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it("packs a .vsix with the manifest, package.json, grammar and language configuration", () => {
    const r = spawnSync(process.execPath, [path.join(VSCODE, "package.mjs"), "--out", out, "--no-deps"], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const file = path.join(out, `spikelm-vscode-${manifest["version"]}.vsix`);
    const entries = readZip(fs.readFileSync(file));
    const byName = new Map(entries.map((e) => [e.name, e.data]));
    for (const name of [
      "[Content_Types].xml",
      "extension.vsixmanifest",
      "extension/package.json",
      "extension/extension.js",
      "extension/language-configuration.json",
      "extension/syntaxes/spk.tmLanguage.json",
      "extension/README.md",
    ]) {
      expect(byName.has(name), name).toBe(true);
    }
    for (const f of ["package.json", "extension.js", "language-configuration.json", "syntaxes/spk.tmLanguage.json"]) {
      expect(byName.get(`extension/${f}`)?.equals(fs.readFileSync(path.join(VSCODE, f))), f).toBe(true);
    }
    const vsixManifest = byName.get("extension.vsixmanifest")!.toString("utf8");
    expect(vsixManifest).toContain(`<Identity Language="en-US" Id="spikelm-vscode" Version="${manifest["version"]}" Publisher="spikelm" />`);
    expect(vsixManifest).toContain('<Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true" />');
    expect(vsixManifest).toContain('Id="Microsoft.VisualStudio.Code.Engine" Value="^1.85.0"');
    const types = byName.get("[Content_Types].xml")!.toString("utf8");
    for (const ext of [".json", ".js", ".md", ".vsixmanifest"]) expect(types).toContain(`<Default Extension="${ext}"`);
    expect([...byName.keys()].some((n) => n.includes("node_modules"))).toBe(false); // --no-deps
  });
});
