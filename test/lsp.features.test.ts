/**
 * The language server as an editor sees it: JSON-RPC requests to an in-process server over
 * fixture specs in test/fixtures/lsp/ with `/*|name*\/` cursor markers.
 */
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  CodeAction,
  CompletionItem,
  DocumentSymbol,
  FoldingRange,
  Hover,
  InitializeResult,
  Location,
  SemanticTokens,
  SemanticTokensLegend,
  SignatureHelp,
  TextEdit,
  WorkspaceEdit,
} from "vscode-languageserver";
import { STDLIB_DIR } from "../interpreter/checker/program.js";
import { loadFormatter } from "../tools/lsp/formatting.js";
import { type Fixture, LSP_FIXTURES, type LspClient, fixture, inProcessClient, stripCursors } from "./lsp.client.js";

const PROJECT = path.join(LSP_FIXTURES, "project");
const uriOf = (rel: string) => pathToFileURL(path.join(LSP_FIXTURES, rel)).href;

let client: LspClient;
let init: InitializeResult;
let main: Fixture;

beforeAll(async () => {
  client = inProcessClient();
  init = await client.initialize(PROJECT);
  main = fixture("project/main.spk");
  await client.open(main.uri, main.text);
});

afterAll(async () => {
  await client.close();
});

const at = (f: Fixture, name: string) => ({ textDocument: { uri: f.uri }, position: f.at(name) });
const hoverText = async (f: Fixture, name: string) => ((await client.request<Hover | null>("textDocument/hover", at(f, name)))?.contents as { value: string } | undefined)?.value ?? "";

describe("initialize", () => {
  it("announces every feature", () => {
    const c = init.capabilities;
    expect(c.textDocumentSync).toMatchObject({ openClose: true, change: 2 });
    for (const k of [
      "hoverProvider",
      "definitionProvider",
      "referencesProvider",
      "documentSymbolProvider",
      "foldingRangeProvider",
      "documentFormattingProvider",
    ] as const)
      expect(c[k]).toBe(true);
    expect(c.completionProvider?.triggerCharacters).toContain('"');
    expect(c.signatureHelpProvider?.triggerCharacters).toEqual(["(", ","]);
    expect(c.renameProvider).toEqual({ prepareProvider: true });
    expect(c.codeActionProvider).toEqual({ codeActionKinds: ["quickfix"] });
    const legend = (c.semanticTokensProvider as { legend: SemanticTokensLegend }).legend;
    expect(legend.tokenTypes).toEqual(expect.arrayContaining(["class", "function", "parameter", "variable", "property", "typeParameter"]));
    expect(init.serverInfo?.name).toBe("spikelm");
  });
});

describe("diagnostics", () => {
  it("publishes an error on didChange and clears it when fixed", async () => {
    const uri = uriOf("scratch-diagnostics.spk");
    const good = "neuron N(vth = 1.0) {\n  state u = 0\n  step(x) {\n    u = u + x\n    emit heaviside(u - vth)\n  }\n}\n";
    expect((await client.open(uri, good)).diagnostics).toEqual([]);
    const bad = await client.replace(uri, good.replace("heaviside(u - vth)", "heaviside(u - vht)"));
    expect(bad.diagnostics).toHaveLength(1);
    expect(bad.diagnostics[0]).toMatchObject({
      code: "SPK201",
      severity: 1,
      source: "spikelm",
      message: "unknown name `vht`; did you mean `vth`?",
      range: { start: { line: 4, character: 23 }, end: { line: 4, character: 26 } },
    });
    expect((await client.replace(uri, good)).diagnostics).toEqual([]);
  });

  it("reports related information (the first declaration of a duplicate)", async () => {
    const uri = uriOf("scratch-duplicate.spk");
    const d = await client.open(uri, "const a = 1\nconst a = 2\n");
    const dup = d.diagnostics.find((x) => x.code === "SPK202");
    expect(dup?.range.start).toEqual({ line: 1, character: 6 });
    expect(dup?.relatedInformation?.[0]).toMatchObject({ message: "first declared here", location: { uri, range: { start: { line: 0, character: 6 } } } });
  });

  it("re-checks an open importer when the imported document changes", async () => {
    const lib = uriOf("scratch-lib.spk");
    const user = uriOf("scratch-user.spk");
    await client.open(lib, "const width = 4\n");
    expect((await client.open(user, 'import "./scratch-lib.spk"\nconst twice = 2 * width\n')).diagnostics).toEqual([]);
    const broken = client.nextDiagnostics(user, (p) => p.diagnostics.length > 0);
    await client.replace(lib, "const breadth = 4\n");
    expect((await broken).diagnostics[0]?.code).toBe("SPK201");
  });

  it("clean fixture has no diagnostics", () => {
    expect(client.diagnostics.get(main.uri)?.at(-1)?.diagnostics).toEqual([]);
  });
});

describe("hover", () => {
  it("shows the inferred type and value set of an expression", async () => {
    const builtin = await hoverText(main, "builtin");
    expect(builtin).toContain("heaviside(x)");
    expect(builtin).toContain("**type:** `f32[...] spike{0,1}`");
    const local = await hoverText(main, "emit");
    expect(local).toContain("(local) s = heaviside(u - vth)");
    expect(local).toContain("spike{0,1}");
    expect(local).toContain("Spike: values in {0,1}");
    expect(await hoverText(main, "sigi")).toContain("**type:** `f32[T, B, L, d]`");
  });

  it("shows a let's type at its declaration as at its uses", async () => {
    const decl = await hoverText(main, "letdecl");
    expect(decl).toContain("(local) s = heaviside(u - vth)");
    expect(decl).toContain("**type:** `f32[...] spike{0,1}`");
    expect(decl.slice(decl.indexOf("**type:**"))).toBe((await hoverText(main, "emit")).slice((await hoverText(main, "emit")).indexOf("**type:**")));
  });

  it("shows a declaration's doc comment and signature, across files and from the stdlib", async () => {
    const proj = await hoverText(main, "proj");
    expect(proj).toContain("layer Proj(inp, out, act = LIF())");
    expect(proj).toContain("A spiking linear map with its own neuron.");
    expect(proj).toContain("**weights:** `W: [out, inp]`");
    const ebs = await hoverText(main, "ebs");
    expect(ebs).toContain("neuron ElasticBiSpike(tau = 0.25, k = 1.0)");
    expect(ebs).toContain("**amplitudes:** `alpha[T] = k * 2 * mean(abs(u))`");
    expect(ebs).toContain("*std/neurons*");
  });

  it("lists a neuron's parameters and states on its name", async () => {
    const h = await client.request<Hover>("textDocument/hover", at(main, "gate"));
    expect((h.contents as { value: string }).value).toContain("**states:** `u = 0`");
    expect(h.range).toEqual({ start: { line: 4, character: 7 }, end: { line: 4, character: 11 } });
  });
});

describe("completion", () => {
  let comp: Fixture;
  beforeAll(async () => {
    comp = fixture("completion.spk");
    await client.open(comp.uri, comp.text);
  });
  // It uses `Proj`: closed so that the reference and rename tests see only the project.
  afterAll(() => client.closeDoc(comp.uri));
  const labels = async (name: string) => (await client.request<CompletionItem[]>("textDocument/completion", at(comp, name))).map((i) => i.label);

  it("offers keywords, names in scope, stdlib and builtins", async () => {
    const items = await client.request<CompletionItem[]>("textDocument/completion", at(comp, "member"));
    const names = items.map((i) => i.label);
    expect(names).toEqual(expect.arrayContaining(["weight", "forward", "state", "p", "q", "d", "act", "Proj", "gain", "LIF", "Linear", "heaviside"]));
    expect(items.find((i) => i.label === "heaviside")?.detail).toBe("heaviside(x)");
    const lif = items.find((i) => i.label === "LIF");
    expect(lif?.detail).toBe("neuron LIF(tau = 0.5, vth = 1.0)");
    // Not imported: offered with the import it needs.
    const block = items.find((i) => i.label === "SpikeBlock");
    expect(block?.additionalTextEdits?.[0]?.newText).toBe('\nimport "std/layers"');
  });

  it("offers locals and shape names inside a forward", async () => {
    expect(await labels("expr")).toEqual(expect.arrayContaining(["x", "h", "B", "L", "T"]));
  });

  it("offers constructor argument names inside a call", async () => {
    const items = await client.request<CompletionItem[]>("textDocument/completion", at(comp, "arg"));
    const act = items.find((i) => i.insertText === "act = ");
    expect(act).toMatchObject({ label: "act =", filterText: "act" });
    expect(items[0]?.sortText! < items.find((i) => i.label === "gain")!.sortText!).toBe(true);
  });

  it("offers weight initialisers after `weight ... =` and nothing inside comments", async () => {
    const f = stripCursors("layer W(n) {\n  // a comment /*|comment*/\n  weight w: [n] = /*|init*/\n}\n");
    const uri = uriOf("scratch-completion.spk");
    await client.open(uri, f.text);
    const ask = (name: string) => client.request<CompletionItem[]>("textDocument/completion", { textDocument: { uri }, position: f.at(name) });
    expect(await ask("comment")).toEqual([]);
    const bySort = (await ask("init")).sort((x, y) => (x.sortText ?? x.label).localeCompare(y.sortText ?? y.label));
    expect(bySort.slice(0, 5).map((i) => i.label)).toEqual(["fill", "normal", "ones", "uniform", "zeros"]);
    await client.closeDoc(uri);
  });

  it("offers stdlib modules after import \"std/", async () => {
    expect(await labels("imp")).toEqual(["std/layers", "std/neurons"]);
  });
});

describe("shared weights (`embeddings.word.table`)", () => {
  let tied: Fixture;
  beforeAll(async () => {
    tied = fixture("tied.spk");
    await client.open(tied.uri, tied.text);
  });
  afterAll(() => client.closeDoc(tied.uri));

  it("hover on the member shows the weight it reads, its path and its type", async () => {
    const text = await hoverText(tied, "table");
    expect(text).toContain("(weight) table: [n, d]");
    expect(text).toContain("**reads:** `embeddings.word.table`");
    expect(text).toContain("**type:** `f32[vocab, d]`");
  });

  it("goes to the weight's declaration in the prelude", async () => {
    const loc = await client.request<Location[]>("textDocument/definition", at(tied, "table"));
    expect(loc).toHaveLength(1);
    expect(loc[0]!.uri).toBe(pathToFileURL(path.join(STDLIB_DIR, "prelude.spk")).href);
    const prelude = (await import("node:fs")).readFileSync(path.join(STDLIB_DIR, "prelude.spk"), "utf8").split("\n");
    const { line, character } = loc[0]!.range.start;
    expect(prelude[line]!.slice(character)).toMatch(/^table: \[n, d\]/);
  });

  it("completes a field's weights and fields after `.`, through nested fields", async () => {
    const ask = async (name: string) => (await client.request<CompletionItem[]>("textDocument/completion", at(tied, name))).map((i) => i.label);
    expect(await ask("fields")).toEqual(["word"]);
    expect(await ask("members")).toEqual(["table"]);
  });
});

describe("navigation", () => {
  it("goes to a definition in another file and in the stdlib", async () => {
    const proj = await client.request<Location[]>("textDocument/definition", at(main, "proj"));
    expect(proj).toEqual([{ uri: pathToFileURL(path.join(PROJECT, "lib.spk")).href, range: { start: { line: 9, character: 6 }, end: { line: 9, character: 10 } } }]);
    const ebs = await client.request<Location[]>("textDocument/definition", at(main, "ebs"));
    expect(ebs[0]?.uri).toBe(pathToFileURL(path.join(STDLIB_DIR, "neurons.spk")).href);
    expect(ebs[0]?.range.start).toEqual({ line: 24, character: 7 });
    const imp = await client.request<Location[]>("textDocument/definition", at(main, "import"));
    expect(imp[0]?.uri).toBe(pathToFileURL(path.join(PROJECT, "lib.spk")).href);
  });

  it("finds references across the workspace, with the declaration", async () => {
    const refs = await client.request<Location[]>("textDocument/references", { ...at(main, "proj"), context: { includeDeclaration: true } });
    const where = refs.map((r) => `${path.basename(r.uri)}:${r.range.start.line}:${r.range.start.character}`);
    expect(where).toEqual(["lib.spk:9:6", "main.spk:16:7", "main.spk:17:9", "other.spk:4:6", "other.spk:5:6"]);
    const without = await client.request<Location[]>("textDocument/references", { ...at(main, "proj"), context: { includeDeclaration: false } });
    expect(without).toHaveLength(4);
  });

  it("renames across files", async () => {
    const prep = await client.request<{ range: unknown; placeholder: string }>("textDocument/prepareRename", at(main, "proj"));
    expect(prep.placeholder).toBe("Proj");
    const edit = await client.request<WorkspaceEdit>("textDocument/rename", { ...at(main, "proj"), newName: "Projection" });
    const counts = Object.fromEntries(Object.entries(edit.changes ?? {}).map(([u, es]) => [path.basename(u), es.length]));
    expect(counts).toEqual({ "lib.spk": 1, "main.spk": 2, "other.spk": 2 });
    expect(Object.values(edit.changes ?? {}).flat().every((e) => e.newText === "Projection")).toBe(true);
  });

  it("refuses to rename stdlib declarations and to keywords", async () => {
    await expect(client.request("textDocument/prepareRename", at(main, "ebs"))).rejects.toMatchObject({ code: -32803, message: expect.stringContaining("stdlib") });
    await expect(client.request("textDocument/rename", { ...at(main, "builtin"), newName: "h" })).rejects.toMatchObject({ code: -32803, message: expect.stringContaining("builtin") });
    await expect(client.request("textDocument/rename", { ...at(main, "gate"), newName: "layer" })).rejects.toMatchObject({ code: -32803 });
  });
});

describe("signature help", () => {
  const sig = (name: string) => client.request<SignatureHelp>("textDocument/signatureHelp", at(main, name));
  it("shows a constructor's parameters with the active one", async () => {
    const s = await sig("sig");
    expect(s.signatures[0]?.label).toBe("Proj(inp, out, act = LIF())");
    expect(s.activeParameter).toBe(2);
  });
  it("shows a builtin's signature and an instance's forward", async () => {
    expect((await sig("sigb")).signatures[0]?.label).toBe("heaviside(x)");
    expect((await sig("sigi")).signatures[0]?.label).toBe("up(x: [T, B, L, inp]) -> [T, B, L, out]");
  });
});

describe("document structure", () => {
  it("lists declarations with their members", async () => {
    const syms = await client.request<DocumentSymbol[]>("textDocument/documentSymbol", { textDocument: { uri: main.uri } });
    expect(syms.map((s) => s.name)).toEqual(["./lib.spk", "std/neurons", "Gate", "Block", "Small"]);
    expect(syms[2]?.children?.map((c) => c.name)).toEqual(["tau", "vth", "u", "step"]);
    expect(syms[3]?.children?.map((c) => c.name)).toEqual(["d", "act", "up", "down", "forward"]);
    expect(syms[4]?.children?.map((c) => c.name)).toEqual(["d", "T", "block", "forward"]);
  });

  it("folds braces, comment blocks and imports", async () => {
    const folds = await client.request<FoldingRange[]>("textDocument/foldingRange", { textDocument: { uri: main.uri } });
    expect(folds).toContainEqual({ startLine: 0, endLine: 1, kind: "imports" });
    expect(folds).toContainEqual({ startLine: 4, endLine: 11 });
    expect(folds).toContainEqual({ startLine: 6, endLine: 10 });
    const lib = uriOf("project/lib.spk");
    const libFolds = await client.request<FoldingRange[]>("textDocument/foldingRange", { textDocument: { uri: lib } });
    expect(libFolds).toContainEqual({ startLine: 0, endLine: 1, kind: "comment" });
    expect(libFolds).toContainEqual({ startLine: 7, endLine: 8, kind: "comment" });
  });

  it("classifies identifiers in semantic tokens", async () => {
    const legend = (init.capabilities.semanticTokensProvider as { legend: SemanticTokensLegend }).legend;
    const { data } = await client.request<SemanticTokens>("textDocument/semanticTokens/full", { textDocument: { uri: main.uri } });
    const tokens: { line: number; char: number; len: number; type: string; mods: string[] }[] = [];
    let line = 0;
    let char = 0;
    for (let i = 0; i + 4 < data.length; i += 5) {
      line += data[i]!;
      char = data[i]! === 0 ? char + data[i + 1]! : data[i + 1]!;
      const bits = data[i + 4]!;
      tokens.push({ line, char, len: data[i + 2]!, type: legend.tokenTypes[data[i + 3]!]!, mods: legend.tokenModifiers.filter((_, k) => bits & (1 << k)) });
    }
    const lines = main.text.split("\n");
    const tok = (l: number, word: string, nth = 0) => {
      let c = -1;
      for (let k = 0; k <= nth; k++) c = lines[l]!.indexOf(word, c + 1);
      return tokens.find((t) => t.line === l && t.char === c);
    };
    expect(tok(4, "Gate")).toMatchObject({ type: "class", mods: ["declaration"] });
    expect(tok(4, "neuron")).toMatchObject({ type: "keyword" });
    expect(tok(7, "tau")).toMatchObject({ type: "parameter" });
    expect(tok(7, "u", 0)).toMatchObject({ type: "property" });
    expect(tok(7, "x")).toMatchObject({ type: "parameter" });
    expect(tok(8, "heaviside")).toMatchObject({ type: "function", mods: ["defaultLibrary"] });
    expect(tok(10, "s")).toMatchObject({ type: "variable" });
    expect(tok(15, "ElasticBiSpike")).toMatchObject({ type: "class", mods: ["defaultLibrary"] });
    expect(tok(16, "Proj")).toMatchObject({ type: "class" });
    expect(tok(18, "B")?.type).toBe("typeParameter");
    expect(tok(3, "///")).toMatchObject({ type: "comment", mods: ["documentation"] });
    expect(tok(5, "0")).toMatchObject({ type: "number" });
  });
});

describe("edits", () => {
  it("formats through formatSpk when the formatter is available", async () => {
    const uri = uriOf("scratch-format.spk");
    const text = "const   a =   1\n";
    await client.open(uri, text);
    const edits = await client.request<TextEdit[]>("textDocument/formatting", { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } });
    const format = await loadFormatter(() => undefined);
    if (!format) {
      expect(edits).toEqual([]);
      return;
    }
    const expected = await format(text);
    expect(edits).toEqual(expected === text ? [] : [{ range: { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } }, newText: expected }]);
  });

  it("offers the checker's fixes as quick fixes (did you mean, missing import)", async () => {
    const f = fixture("errors.spk");
    const { diagnostics } = await client.open(f.uri, f.text);
    expect(diagnostics.map((d) => d.code)).toEqual(["SPK201", "SPK201", "SPK201"]);
    const actions = await client.request<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri: f.uri },
      range: { start: f.at("typo"), end: f.at("typo") },
      context: { diagnostics },
    });
    const titles = actions.map((a) => a.title);
    expect(titles).toEqual(["Change to `u`", "Change to `SpikeLMReference`", 'Add `import "std/layers"`']);
    expect(actions[0]).toMatchObject({ kind: "quickfix", edit: { changes: { [f.uri]: [{ newText: "u", range: { start: { line: 5, character: 14 } } }] } } });
  });
});
