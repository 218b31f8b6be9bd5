/**
 * How declarations read in hover, completion and signature help: signatures are slices of
 * the declaring file's own text (whitespace collapsed), so they show what the user wrote and
 * no printer is needed. Shared by the services so a neuron looks the same everywhere.
 */
import { platform } from "#platform";
import type { Decl, ForwardDecl, ModuleDecl, NeuronDecl, StepDecl } from "../../grammar/ast.js";
import type { Span } from "../../grammar/source.js";
import { BUILTINS, INITIALISERS } from "../../interpreter/checker/builtins.js";
import { STDLIB_DIR } from "../../interpreter/checker/program.js";
import type { Def } from "./syntax.js";

const path = platform.path;

const MAX = 160;

export function slice(text: string, span: Span): string {
  const s = text.slice(span.start, span.end).replace(/\s+/g, " ").trim();
  return s.length > MAX ? `${s.slice(0, MAX - 1)}…` : s;
}

export function isStdlib(file: string): boolean {
  const rel = path.relative(STDLIB_DIR, file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

/** `std/neurons` for a stdlib file, otherwise the base name. */
export function moduleLabel(file: string): string {
  return isStdlib(file) ? `std/${path.basename(file, ".spk")}` : path.basename(file);
}

export function declSignature(decl: Decl, text: string): string {
  if (decl.kind === "Const") return `const ${decl.name.name} = ${slice(text, decl.value.span)}`;
  const kw = decl.kind === "Neuron" ? "neuron" : decl.kind === "Layer" ? "layer" : "model";
  return `${kw} ${decl.name.name}(${decl.params.map((p) => slice(text, p.span)).join(", ")})`;
}

export function bodySignature(body: StepDecl | ForwardDecl, text: string): string {
  const params = body.params.map((p) => slice(text, p.span)).join(", ");
  if (body.kind === "Step") return `step(${params})`;
  return `forward(${params})${body.result ? ` -> ${slice(text, body.result.span)}` : ""}`;
}

/** The step of a neuron or the forward of a layer: what calling an instance runs. */
export function callBody(decl: NeuronDecl | ModuleDecl): StepDecl | ForwardDecl | undefined {
  for (const m of decl.members) if (m.kind === "Step" || m.kind === "Forward") return m;
  return undefined;
}

const KIND_LABEL: Record<Def["kind"], string> = {
  neuron: "neuron",
  layer: "layer",
  model: "model",
  const: "constant",
  param: "parameter",
  state: "state",
  amplitude: "amplitude",
  weight: "weight",
  field: "field",
  timesteps: "timesteps",
  input: "input",
  let: "local",
  shape: "shape name",
};

/** One line of code for a definition: `(state) u = 0`, `layer SpikeLinear(inp, out, act = ...)`. */
export function defSignature(def: Def, text: string): string {
  const n = def.node;
  switch (def.kind) {
    case "neuron":
    case "layer":
    case "model":
    case "const":
      return declSignature(def.decl, text);
    case "shape":
      return `(shape name) ${def.name}`;
    default:
      return `(${KIND_LABEL[def.kind]}) ${n ? slice(text, n.span).replace(/^(state|amplitude|weight|timesteps|let)\s+/, "") : def.name}`;
  }
}

/** Markdown: parameters, states, amplitudes, fields, weights and the step/forward signature. */
export function declMembers(decl: Decl, text: string): string {
  if (decl.kind === "Const") return "";
  const lines: string[] = [];
  const list = (label: string, items: string[]) => {
    if (items.length) lines.push(`**${label}:** ${items.map((i) => `\`${i}\``).join(", ")}`);
  };
  list("parameters", decl.params.map((p) => slice(text, p.span)));
  if (decl.kind === "Neuron") {
    list("states", decl.members.flatMap((m) => (m.kind === "State" ? [slice(text, m.span).replace(/^state\s+/, "")] : [])));
    list("amplitudes", decl.members.flatMap((m) => (m.kind === "Amplitude" ? [slice(text, m.span).replace(/^amplitude\s+/, "")] : [])));
  } else {
    list("timesteps", decl.members.flatMap((m) => (m.kind === "Timesteps" ? [slice(text, m.span).replace(/^timesteps\s+/, "")] : [])));
    list("fields", decl.members.flatMap((m) => (m.kind === "Field" ? [slice(text, m.span)] : [])));
    list("weights", decl.members.flatMap((m) => (m.kind === "Weight" ? [slice(text, m.span).replace(/^weight\s+/, "")] : [])));
  }
  const body = callBody(decl);
  if (body) list(body.kind === "Step" ? "step" : "forward", [bodySignature(body, text)]);
  return lines.join("  \n");
}

export function codeBlock(code: string): string {
  return `\`\`\`spk\n${code}\n\`\`\``;
}

/** Hover/completion documentation for a builtin function or weight initialiser. */
export function builtinDoc(name: string): { signature: string; doc: string } | undefined {
  const b = BUILTINS.get(name);
  if (b) return { signature: b.signature, doc: b.doc };
  const init = INITIALISERS[name];
  if (init && Object.hasOwn(INITIALISERS, name)) return { signature: init.signature, doc: `${init.doc} (weight initialiser)` };
  return undefined;
}

/** A sentence about the value set part of a type text (`spike{-1,0,1}·alpha`), if any. */
export function valueSetNote(typeText: string): string | undefined {
  const m = /spike\{([^}]*)\}(?:·(\S+))?/.exec(typeText);
  if (m) {
    const levels = `{${m[1]}}`;
    const scale = m[2] && m[2] !== "NaN" ? ` \`${m[2]}\`` : "";
    return m[2]
      ? `Scaled spike: levels ${levels} times one scale${scale}; a matmul with it is a spike-accumulate.`
      : `Spike: values in ${levels}; a matmul with it is a spike-accumulate.`;
  }
  if (/\bint-valued\b/.test(typeText)) return "Integer values.";
  const set = /\{[^}]*\}/.exec(typeText.replace(/^[^\]]*\]/, ""));
  return set ? `Values in ${set[0]}.` : undefined;
}
