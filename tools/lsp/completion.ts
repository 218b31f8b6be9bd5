/**
 * Completion. Inside an import string: stdlib modules and `.spk` files. Inside a call to a
 * neuron/layer/model: its parameter names (`act = `) first. Everywhere else: the locals of
 * the enclosing body (parameters, members, inputs, earlier lets, shape names), the file's
 * scope as the checker sees it (`program.scope`: prelude, imports, own declarations),
 * builtins with their signatures, keywords, and stdlib declarations not yet imported (with
 * the import added on accept). After `word.` (a field's name and a dot): that field's weights
 * and fields, the members a forward may read (`embeddings.word.table`).
 */
import { platform } from "#platform";
import type { DirEntry } from "../../interpreter/platform/platform.js";
import type { CompletionItem, TextEdit } from "vscode-languageserver";
import { CompletionItemKind, InsertTextFormat, MarkupKind } from "vscode-languageserver";
import type { Decl } from "../../grammar/ast.js";
import { KEYWORDS } from "../../grammar/tokens.js";
import { BUILTINS, INITIALISERS } from "../../interpreter/checker/builtins.js";
import { STDLIB_DIR, resolveImportPath, stdlibModules } from "../../interpreter/checker/program.js";
import { codeBlock, declMembers, declSignature, defSignature, moduleLabel, slice } from "./describe.js";
import { bodyAt, callAt, declAt, indexFile, tokensOf, type DefKind } from "./syntax.js";
import type { Analysis } from "./workspace.js";

const path = platform.path;

const DEF_ITEM_KIND: Record<DefKind, CompletionItemKind> = {
  neuron: CompletionItemKind.Class,
  layer: CompletionItemKind.Class,
  model: CompletionItemKind.Class,
  const: CompletionItemKind.Constant,
  param: CompletionItemKind.Variable,
  input: CompletionItemKind.Variable,
  state: CompletionItemKind.Field,
  amplitude: CompletionItemKind.Field,
  weight: CompletionItemKind.Field,
  field: CompletionItemKind.Property,
  timesteps: CompletionItemKind.TypeParameter,
  let: CompletionItemKind.Variable,
  shape: CompletionItemKind.TypeParameter,
};

const markdown = (value: string) => ({ kind: MarkupKind.Markdown, value });

function declItem(decl: Decl, file: string, text: string, sortGroup: string): CompletionItem {
  const kind = decl.kind === "Const" ? "const" : decl.kind === "Neuron" ? "neuron" : decl.kind === "Layer" ? "layer" : "model";
  const doc = [codeBlock(declSignature(decl, text)), decl.doc ?? "", declMembers(decl, text), `*${moduleLabel(file)}*`].filter(Boolean).join("\n\n");
  return {
    label: decl.name.name,
    kind: DEF_ITEM_KIND[kind],
    detail: declSignature(decl, text),
    labelDetails: { description: moduleLabel(file) },
    documentation: markdown(doc),
    sortText: `${sortGroup}${decl.name.name}`,
  };
}

/** Completion inside `import "...`: stdlib modules after `std/`, `.spk` files and folders otherwise. */
function importItems(a: Analysis, typed: string): CompletionItem[] {
  const items: CompletionItem[] = [];
  if (typed === "" || "std/".startsWith(typed) || typed.startsWith("std/")) {
    for (const m of stdlibModules()) {
      const label = `std/${m}`;
      const decls = parseSafe(a, path.join(STDLIB_DIR, `${m}.spk`)).decls.map((d) => d.name.name);
      items.push({ label, kind: CompletionItemKind.Module, detail: decls.join(", "), insertText: label, filterText: label });
    }
  }
  if (!typed.startsWith("std/")) {
    const slash = typed.lastIndexOf("/");
    const dirPart = slash >= 0 ? typed.slice(0, slash + 1) : "./";
    const dir = path.resolve(path.dirname(a.file), dirPart);
    let entries: DirEntry[] = [];
    try {
      entries = platform.readDir(dir);
    } catch {
      entries = [];
    }
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const full = path.join(dir, e.name);
      if (e.directory) items.push({ label: `${dirPart}${e.name}/`, kind: CompletionItemKind.Folder, command: { title: "", command: "editor.action.triggerSuggest" } });
      else if (e.name.endsWith(".spk") && full !== a.file) items.push({ label: `${dirPart}${e.name}`, kind: CompletionItemKind.File });
    }
  }
  return items;
}

function parseSafe(a: Analysis, file: string) {
  return (a.program.files.get(file) ?? a.program.load(file))?.ast ?? { kind: "File" as const, uri: file, imports: [], decls: [], comments: [], span: { start: 0, end: 0 } };
}

/** Names visible at `offset` inside the enclosing declaration (innermost first). */
function localItems(a: Analysis, offset: number): CompletionItem[] {
  const decl = declAt(a.parsed.ast, offset);
  if (!decl) return [];
  const body = bodyAt(decl, offset);
  const index = indexFile(a.parsed.ast);
  const items = new Map<string, CompletionItem>();
  const add = (name: string, kind: DefKind, detail: string, doc?: string, rank = "1") => {
    if (!name || items.has(name)) return;
    items.set(name, { label: name, kind: DEF_ITEM_KIND[kind], detail, documentation: doc ? markdown(doc) : undefined, sortText: `${rank}${name}` });
  };
  for (const d of index.defs) {
    if (d.decl !== decl || d.span.start === decl.name.span.start) continue;
    if (d.kind === "input" || d.kind === "let") {
      if (d.body !== body) continue;
      if (d.kind === "let" && d.span.start > offset) continue;
    }
    add(d.name, d.kind, defSignature(d, a.text), d.node && "doc" in d.node ? d.node.doc : undefined);
  }
  for (const n of index.typeNames) if (n.decl === decl && (n.body === undefined || n.body === body)) add(n.name, "shape", `(shape name) ${n.name}`);
  if (body?.kind === "Step") add("t", "let", "(step index) t", "The current time step, as in `alpha[t]`.");
  return [...items.values()];
}

/**
 * After `embeddings.word.`: the weights and fields of the layer that path holds, followed
 * syntactically (a field's value is a constructor call, resolved in its file's scope).
 * Nothing when the path does not lead to a layer.
 */
function memberItems(a: Analysis, offset: number, chain: readonly string[]): CompletionItem[] {
  let decl = declAt(a.parsed.ast, offset);
  let uri = a.file;
  for (const name of chain) {
    if (!decl || (decl.kind !== "Layer" && decl.kind !== "Model")) return [];
    const field = decl.members.find((m) => m.kind === "Field" && m.name.name === name);
    if (field?.kind !== "Field" || field.value.kind !== "Call" || field.value.callee.kind !== "Name") return [];
    const entry = a.program.scope(uri).get(field.value.callee.name);
    if (!entry) return [];
    decl = entry.decl;
    uri = entry.uri;
  }
  if (!decl || (decl.kind !== "Layer" && decl.kind !== "Model")) return [];
  const text = a.program.files.get(uri)?.text ?? "";
  const items: CompletionItem[] = [];
  for (const m of decl.members) {
    if (m.kind !== "Weight" && m.kind !== "Field") continue;
    items.push({
      label: m.name.name,
      kind: DEF_ITEM_KIND[m.kind === "Weight" ? "weight" : "field"],
      detail: `${slice(text, m.span)}  (${m.kind === "Weight" ? "weight" : "field"} of ${decl.name.name})`,
      documentation: m.doc ? markdown(m.doc) : undefined,
      sortText: `${m.kind === "Weight" ? "0" : "1"}${m.name.name}`,
    });
  }
  return items;
}

function importEdit(a: Analysis, module: string): TextEdit {
  const imports = a.parsed.ast.imports;
  const last = imports[imports.length - 1];
  const at = a.lines.position(last ? last.span.end : 0);
  return { range: { start: at, end: at }, newText: last ? `\nimport "std/${module}"` : `import "std/${module}"\n` };
}

export function completion(a: Analysis, offset: number): CompletionItem[] {
  const pos = a.lines.position(offset);
  const lineText = a.text.slice(offset - pos.character, offset);
  const imp = /^\s*import\s+"([^"]*)$/.exec(lineText);
  if (imp) return importItems(a, imp[1] ?? "");
  // Nothing inside comments, strings, or the rest of an import line.
  if (/^\s*import\b/.test(lineText)) return [];
  if (tokensOf(a.text).some((t) => (t.kind === "comment" || t.kind === "doc" || t.kind === "string") && t.span.start < offset && offset <= t.span.end && !(t.kind === "string" && offset === t.span.end && a.text[offset - 1] === '"')))
    return [];

  // `word.|`: the members a forward can read through that field
  const member = /(?:^|[^\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\.\w*$/.exec(lineText);
  if (member) return memberItems(a, offset, member[1]!.split("."));

  const items: CompletionItem[] = [];
  const seen = new Set<string>();
  const push = (it: CompletionItem) => {
    if (seen.has(it.label)) return;
    seen.add(it.label);
    items.push(it);
  };

  // Parameter names of the constructor being called: `SpikeLinear(d, d, ac|` → `act = `.
  const call = callAt(a.text, offset);
  const scope = a.program.scope(a.file);
  if (call && !call.argName) {
    const entry = scope.get(call.callee);
    if (entry && entry.decl.kind !== "Const") {
      const text = a.program.files.get(entry.uri)?.text ?? "";
      for (const p of entry.decl.params) {
        if (!p.name.name || call.named.includes(p.name.name)) continue;
        items.push({
          label: `${p.name.name} =`,
          filterText: p.name.name,
          kind: CompletionItemKind.Property,
          insertText: `${p.name.name} = `,
          detail: `${slice(text, p.span)}  (parameter of ${entry.decl.name.name})`,
          sortText: `0${p.name.name}`,
        });
      }
    }
  }

  for (const it of localItems(a, offset)) push(it);
  for (const [name, entry] of scope) {
    const text = a.program.files.get(entry.uri)?.text ?? "";
    if (name) push(declItem(entry.decl, entry.uri, text, entry.uri === a.file ? "2" : "3"));
  }
  for (const [name, b] of BUILTINS) {
    push({
      label: name,
      kind: CompletionItemKind.Function,
      detail: b.signature,
      documentation: markdown(`${codeBlock(b.signature)}\n\n${b.doc}`),
      sortText: `4${name}`,
      ...(b.maxArgs > 0 ? { insertText: `${name}($0)`, insertTextFormat: InsertTextFormat.Snippet, command: { title: "", command: "editor.action.triggerParameterHints" } } : {}),
    });
  }
  const inWeight = /\bweight\b[^=]*=\s*\w*$/.test(lineText);
  if (inWeight)
    for (const [name, init] of Object.entries(INITIALISERS))
      push({ label: name, kind: CompletionItemKind.Function, detail: init.signature, documentation: markdown(init.doc), sortText: `0${name}` });
  for (const k of KEYWORDS) push({ label: k, kind: CompletionItemKind.Keyword, sortText: `5${k}` });

  // Stdlib declarations this file does not import yet: accepting one adds the import.
  for (const m of stdlibModules()) {
    const file = resolveImportPath(`std/${m}`, a.file);
    if (file === a.file) continue;
    const ast = parseSafe(a, file);
    const text = a.program.files.get(file)?.text ?? "";
    for (const d of ast.decls) {
      if (!d.name.name || scope.has(d.name.name) || seen.has(d.name.name)) continue;
      const item = declItem(d, file, text, "6");
      item.additionalTextEdits = [importEdit(a, m)];
      item.detail = `${item.detail ?? ""}  (adds import "std/${m}")`;
      push(item);
    }
  }
  return items;
}
