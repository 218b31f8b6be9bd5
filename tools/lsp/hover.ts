/**
 * Hover: for a name, its declaration (signature from the source, doc comment, a neuron's
 * parameters/states/amplitudes, a layer's fields/weights/forward); for a builtin its table
 * row; for any expression the checker's inferred type and value set (the smallest typed
 * expression around the cursor).
 */
import type { Hover } from "vscode-languageserver";
import { MarkupKind } from "vscode-languageserver";
import type { Span } from "../../grammar/source.js";
import { builtinDoc, codeBlock, declMembers, declSignature, defSignature, moduleLabel, slice, valueSetNote } from "./describe.js";
import { toRange } from "./locations.js";
import { defOf, hitAt, pick } from "./navigation.js";
import type { Def } from "./syntax.js";
import { tokensOf } from "./syntax.js";
import type { Analysis } from "./workspace.js";

const MAX_INSTANCE_TYPES = 4;

/** The inferred types recorded for exactly `span` (or, without one, the smallest around `offset`). */
function typesAt(a: Analysis, offset: number, exact?: Span): { span: Span; texts: string[] } | undefined {
  const own = a.result.types.filter((t) => t.uri === a.file);
  const best = exact
    ? own.find((t) => t.span.start === exact.start && t.span.end === exact.end)
    : pick(own, offset);
  if (!best) return undefined;
  const texts: string[] = [];
  for (const t of own) if (t.span.start === best.span.start && t.span.end === best.span.end && !texts.includes(t.text)) texts.push(t.text);
  return { span: best.span, texts };
}

function typeSection(texts: string[]): string {
  const [first, ...rest] = texts;
  if (first === undefined) return "";
  const parts = [`**type:** \`${first}\``];
  const note = valueSetNote(first);
  if (note) parts.push(note);
  if (rest.length) {
    const shown = rest.slice(0, MAX_INSTANCE_TYPES).map((t) => `\`${t}\``);
    parts.push(`in instances: ${shown.join(", ")}${rest.length > MAX_INSTANCE_TYPES ? ", …" : ""}`);
  }
  return parts.join("  \n");
}

function defSection(a: Analysis, def: Def, file: string): string {
  const text = a.program.files.get(file)?.text ?? "";
  const parts = [codeBlock(defSignature(def, text))];
  const isDecl = def.kind === "neuron" || def.kind === "layer" || def.kind === "model" || def.kind === "const";
  const doc = isDecl ? def.decl.doc : def.node && "doc" in def.node ? def.node.doc : undefined;
  if (doc) parts.push(doc);
  if (isDecl) {
    const members = declMembers(def.decl, text);
    if (members) parts.push(members);
  } else {
    parts.push(`in \`${declSignature(def.decl, text)}\``);
  }
  if (file !== a.file) parts.push(`*${moduleLabel(file)}*`);
  return parts.join("\n\n");
}

/**
 * The instance path of a field, weight or amplitude: the name `--record PATH` takes, the
 * weights file key, and how the energy report names the layer (interpreter/taps.ts). Concrete
 * in a model (the entry); relative to the instance in a layer or neuron.
 */
function pathSection(def: Def): string | undefined {
  if (def.kind !== "field" && def.kind !== "weight" && def.kind !== "amplitude") return undefined;
  const inModel = def.decl.kind === "Model";
  const at = inModel ? "" : "<instance>.";
  const where = inModel ? "" : ` (relative to an instance of \`${def.decl.kind === "Const" ? "" : def.decl.name.name}\`)`;
  if (def.kind !== "field") return `**path:** \`${at}${def.name}\`${where}: its key in a weights file`;
  const repeat = def.node?.kind === "Field" && def.node.value.kind === "Repeat";
  const path = repeat ? `${def.name}.{i}` : def.name;
  const record = repeat ? `\`--record ${at}${def.name}.*\` records each copy's output, \`--record ${at}${def.name}\` the last copy's` : `\`--record ${at}${def.name}\` records its output (a neuron's: its spikes)`;
  return `**path:** \`${at}${path}\`${where}: ${record}; the energy report groups by the same paths`;
}

/** On `table` in `embeddings.word.table`: the weight is read through fields, one parameter shared. */
function sharedSection(a: Analysis, at: Span, def: Def): string | undefined {
  if (def.kind !== "weight") return undefined;
  const chain = /([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)$/.exec(a.text.slice(Math.max(0, at.start - 200), at.end))?.[1];
  if (!chain) return undefined;
  return `**reads:** \`${chain}\`, the weight of a field (shared: one parameter, its gradient the sum of every use)`;
}

export function hover(a: Analysis, offset: number): Hover | null {
  const hit = hitAt(a, offset);
  if (hit) {
    const def = defOf(a.program, hit.target);
    if (def) {
      const sections = [defSection(a, def, hit.target.file)];
      const paths = pathSection(def);
      if (paths) sections.push(paths);
      const shared = sharedSection(a, hit.at, def);
      if (shared) sections.push(shared);
      // The checker records types on expressions, not on the name a `let` declares: at the
      // declaration, the let's type is its value's.
      const types = typesAt(a, offset, hit.at) ?? (def.kind === "let" && hit.isDeclaration && def.node?.kind === "Let" ? typesAt(a, offset, def.node.value.span) : undefined);
      if (types) sections.push(typeSection(types.texts));
      return { contents: { kind: MarkupKind.Markdown, value: sections.join("\n\n---\n\n") }, range: toRange(a.lines, hit.at) };
    }
  }
  const token = tokensOf(a.text).find((t) => t.kind === "ident" && t.span.start <= offset && offset <= t.span.end);
  const builtin = token && builtinDoc(a.text.slice(token.span.start, token.span.end));
  const types = typesAt(a, offset);
  if (builtin && token) {
    const sections = [`${codeBlock(builtin.signature)}\n\n${builtin.doc}`];
    if (types) sections.push(`\`${slice(a.text, types.span)}\`  \n${typeSection(types.texts)}`);
    return { contents: { kind: MarkupKind.Markdown, value: sections.join("\n\n---\n\n") }, range: toRange(a.lines, token.span) };
  }
  if (types) {
    const value = `${codeBlock(slice(a.text, types.span))}\n\n${typeSection(types.texts)}`;
    return { contents: { kind: MarkupKind.Markdown, value }, range: toRange(a.lines, types.span) };
  }
  return null;
}
