/**
 * Signature help inside a call: a builtin's table signature, a neuron/layer/model
 * constructor with its parameters, or an instance call (`q(x)`, `fire(x)`) with the
 * forward/step inputs of what the field holds. The active parameter is the comma count, or
 * the named parameter being written (`causal = |`).
 */
import type { ParameterInformation, SignatureHelp, SignatureInformation } from "vscode-languageserver";
import { MarkupKind } from "vscode-languageserver";
import type { Expr, ModuleDecl, NeuronDecl } from "../../grammar/ast.js";
import type { Span } from "../../grammar/source.js";
import { BUILTINS } from "../../interpreter/checker/builtins.js";
import { callBody, slice } from "./describe.js";
import { type Target, defOf } from "./navigation.js";
import { type CallContext, callAt } from "./syntax.js";
import type { Analysis } from "./workspace.js";

interface Shape {
  readonly name: string;
  readonly params: readonly string[];
  /** Parameter names, for `name = ` arguments (undefined where arguments are positional only). */
  readonly names?: readonly string[];
  readonly suffix?: string;
  readonly doc?: string;
  readonly variadic?: boolean;
}

function build(s: Shape): SignatureInformation {
  let label = `${s.name}(`;
  const parameters: ParameterInformation[] = [];
  s.params.forEach((p, i) => {
    if (i > 0) label += ", ";
    parameters.push({ label: [label.length, label.length + p.length] });
    label += p;
  });
  label += `)${s.suffix ?? ""}`;
  const info: SignatureInformation = { label, parameters };
  if (s.doc) info.documentation = { kind: MarkupKind.Markdown, value: s.doc };
  return info;
}

function ctorShape(decl: NeuronDecl | ModuleDecl, text: string): Shape {
  return { name: decl.name.name, params: decl.params.map((p) => slice(text, p.span)), names: decl.params.map((p) => p.name.name), doc: decl.doc };
}

function instanceShape(callee: string, decl: NeuronDecl | ModuleDecl, text: string): Shape | undefined {
  const body = callBody(decl);
  if (!body) return undefined;
  const suffix = body.kind === "Forward" && body.result ? ` -> ${slice(text, body.result.span)}` : "";
  const what = decl.kind === "Neuron" ? `step of neuron \`${decl.name.name}\`` : `forward of ${decl.kind.toLowerCase()} \`${decl.name.name}\``;
  return { name: callee, params: body.params.map((p) => slice(text, p.span)), suffix, doc: `Runs the ${what}.` };
}

/** The neuron/layer/model an expression constructs (`SpikeLinear(d, d)`, `repeat n { B() }`, `act`). */
function constructed(a: Analysis, file: string, e: Expr | undefined, depth: number): { decl: NeuronDecl | ModuleDecl; file: string } | undefined {
  if (!e || depth > 4) return undefined;
  if (e.kind === "Repeat") return constructed(a, file, e.body, depth + 1);
  const name = e.kind === "Call" ? e.callee : e;
  if (name.kind !== "Name") return undefined;
  return resolveName(a, file, name.name, name.span, depth + 1);
}

function resolveName(a: Analysis, file: string, name: string, span: Span, depth: number): { decl: NeuronDecl | ModuleDecl; file: string } | undefined {
  const ref = a.result.refs.find((r) => r.uri === file && r.span.start === span.start && r.span.end === span.end);
  const target: Target | undefined = ref ? { file: ref.target.uri, span: ref.target.span, name } : undefined;
  const def = target && defOf(a.program, target);
  if (!def) {
    const entry = a.program.scope(file).get(name);
    return entry && entry.decl.kind !== "Const" ? { decl: entry.decl, file: entry.uri } : undefined;
  }
  const n = def.node;
  if (def.kind === "neuron" || def.kind === "layer" || def.kind === "model") return { decl: def.decl as NeuronDecl | ModuleDecl, file: target.file };
  if (n?.kind === "Field" || n?.kind === "Let") return constructed(a, target.file, n.value, depth);
  if (n?.kind === "Param") return constructed(a, target.file, n.default, depth);
  return undefined;
}

function shapeFor(a: Analysis, call: CallContext): Shape | undefined {
  const builtin = BUILTINS.get(call.callee);
  const ref = a.result.refs.find((r) => r.uri === a.file && r.span.start === call.calleeSpan.start && r.span.end === call.calleeSpan.end);
  if (builtin && !ref) {
    const m = /^[^(]*\((.*)\)$/.exec(builtin.signature);
    const params = m?.[1] ? m[1].split(/,\s*/) : [];
    return { name: call.callee, params, doc: builtin.doc, variadic: params.some((p) => p.startsWith("...")) };
  }
  const target: Target | undefined = ref && { file: ref.target.uri, span: ref.target.span, name: ref.name };
  const def = target && defOf(a.program, target);
  if (def && (def.kind === "neuron" || def.kind === "layer" || def.kind === "model")) {
    return ctorShape(def.decl as NeuronDecl | ModuleDecl, a.program.files.get(target.file)?.text ?? "");
  }
  if (!def) {
    const entry = a.program.scope(a.file).get(call.callee);
    if (entry && entry.decl.kind !== "Const") return ctorShape(entry.decl, a.program.files.get(entry.uri)?.text ?? "");
    return undefined;
  }
  const held = resolveName(a, a.file, call.callee, call.calleeSpan, 0);
  return held && instanceShape(call.callee, held.decl, a.program.files.get(held.file)?.text ?? "");
}

export function signatureHelp(a: Analysis, offset: number): SignatureHelp | null {
  const call = callAt(a.text, offset);
  if (!call) return null;
  const shape = shapeFor(a, call);
  if (!shape) return null;
  let active = call.argIndex;
  if (call.argName && shape.names) {
    const i = shape.names.indexOf(call.argName);
    if (i >= 0) active = i;
  }
  if (shape.variadic) active = Math.min(active, shape.params.length - 1);
  return { signatures: [build(shape)], activeSignature: 0, activeParameter: Math.max(0, active) };
}
