/**
 * From a spec file and an entry name to a runnable IR graph: checks the file, binds the
 * entry's constructor arguments, settles the number of time steps, matches the inputs
 * against the entry's signature, and elaborates concretely.
 *
 * Every user mistake becomes a `SpecError` (diagnostics with positions) or a `UserError`
 * (arguments and inputs), never a stack trace.
 */
import { platform } from "#platform";
import type { ModuleDecl, NeuronDecl } from "../grammar/ast.js";
import type { Diagnostic } from "../grammar/source.js";
import { checkFiles } from "./checker/check.js";
import { Elaborator } from "./checker/elaborate.js";
import { Program } from "./checker/program.js";
import { closest } from "./checker/suggest.js";
import type { Value } from "./checker/values.js";
import { type Tensor, shapeString } from "./engine/tensor.js";
import { UserError } from "./io/errors.js";
import { type Graph, GraphBuilder, type GraphTap } from "./ir/graph.js";
import { selectTaps } from "./taps.js";
import { constDim, dimToString, dimValue } from "./types/dims.js";
import { MAX_TENSOR_ELEMENTS, MAX_TIMESTEPS, limitMessage } from "./limits.js";
import type { IRNode } from "./ir/graph.js";
import type { Span } from "../grammar/source.js";
import { REAL, type TensorType } from "./types/tensor-type.js";

/** A spec with errors: carries the diagnostics so the caller can print them with positions. */
export class SpecError extends Error {
  constructor(
    readonly diagnostics: readonly Diagnostic[],
    readonly program: Program,
  ) {
    super(`${diagnostics.length} error${diagnostics.length === 1 ? "" : "s"} in the spec`);
    this.name = "SpecError";
  }
}

export type ArgValue = number | boolean;

export interface CompileRequest {
  readonly file: string;
  readonly entry: string;
  readonly args?: Readonly<Record<string, ArgValue>>;
  /** Input tensors by forward parameter name; only their shapes and dtypes are used here. */
  readonly inputs: ReadonlyMap<string, Pick<Tensor, "shape" | "dtype">>;
  readonly timesteps?: number;
  readonly program?: Program;
  /** `--record PATH` patterns (interpreter/taps.ts): the layer outputs they match become `graph.taps`. */
  readonly taps?: readonly string[];
}

export interface Compiled {
  readonly graph: Graph;
  /** Every layer call's output by instance path, in call order: what `--record PATH` can tap. */
  readonly layerOutputs: readonly GraphTap[];
  /** Every neuron instance path, in call order. */
  readonly neuronPaths: readonly string[];
  /** The neurons whose spikes `taps` selected (empty without taps). */
  readonly tappedNeurons: ReadonlySet<string>;
  readonly program: Program;
  readonly entry: NeuronDecl | ModuleDecl;
  readonly uri: string;
}

export interface EntryInfo {
  readonly decl: NeuronDecl | ModuleDecl;
  readonly uri: string;
  readonly program: Program;
}

/** Loads and checks `file`, and finds `entry` in its scope. */
export function resolveEntry(file: string, entry: string, program = new Program()): EntryInfo {
  const loaded = program.load(file);
  if (!loaded) throw new UserError(`cannot read spec file ${file}`, { file });
  const check = checkFiles([file], program);
  const errors = check.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new SpecError(errors, program);
  const scope = program.scope(loaded.uri);
  const found = scope.get(entry);
  if (!found || found.decl.kind === "Const") {
    const runnable = [...scope.entries()].filter(([, e]) => e.decl.kind !== "Const" && e.uri === loaded.uri).map(([n]) => n);
    const guess = closest(entry, [...scope.keys()]);
    throw new UserError(
      `${platform.path.basename(file)} has no neuron, layer or model named \`${entry}\`${guess ? `; did you mean \`${guess}\`?` : ""} (declared here: ${runnable.join(", ") || "none"})`,
      { file },
    );
  }
  return { decl: found.decl, uri: found.uri, program };
}

function bindEntryArgs(decl: NeuronDecl | ModuleDecl, uri: string, given: Readonly<Record<string, ArgValue>>, elab: Elaborator): Map<string, Value> {
  const out = new Map<string, Value>();
  const names = decl.params.map((p) => p.name.name);
  for (const k of Object.keys(given)) {
    if (!names.includes(k)) {
      const guess = closest(k, names);
      throw new UserError(`\`${decl.name.name}\` has no parameter \`${k}\`${guess ? `; did you mean \`${guess}\`?` : ""} (parameters: ${names.join(", ") || "none"})`);
    }
  }
  for (const p of decl.params) {
    const g = given[p.name.name];
    if (g !== undefined) out.set(p.name.name, typeof g === "boolean" ? { kind: "bool", value: g } : { kind: "num", value: g, dim: constDim(g) });
    else if (p.default) out.set(p.name.name, elab.evalConst(p.default, { uri, vars: out, path: "" }));
    else throw new UserError(`\`${decl.name.name}\` needs a value for \`${p.name.name}\`: pass --arg ${p.name.name}=<value>`);
  }
  return out;
}

export function compileEntry(req: CompileRequest): Compiled {
  const { decl, uri, program } = resolveEntry(req.file, req.entry, req.program);
  const probe = new Elaborator(program, { concrete: true, timeDim: constDim(1) });
  const args = bindEntryArgs(decl, uri, req.args ?? {}, probe);

  // The time axis: a model declares it; a layer or neuron takes it from --timesteps or its input.
  const params = probe.forwardParams(decl);
  const timedParam = (i: number) => {
    const p = params[i];
    if (!p) return false;
    if (decl.kind === "Neuron") return true;
    const ty = "type" in p ? p.type : undefined;
    const first = ty?.dims[0];
    return first !== undefined && first.kind === "Name" && first.name === "T";
  };
  let T = req.timesteps;
  const ts = decl.kind === "Model" ? decl.members.find((m) => m.kind === "Timesteps") : undefined;
  if (T === undefined && ts && ts.kind === "Timesteps") {
    const v = probe.evalConst(ts.value, { uri, vars: args, path: "" });
    const at = (code: string, message: string) => new SpecError([{ code, severity: "error", message, uri, span: ts.value.span }], program);
    if (v.kind !== "num" || v.value === undefined || !Number.isInteger(v.value) || v.value < 1)
      throw at("SPK504", `\`${decl.name.name}\` declares ${v.kind === "num" && v.value !== undefined ? `${v.value} time steps` : "time steps"}, which is not a whole number >= 1`);
    if (v.value > MAX_TIMESTEPS) throw at("SPK505", limitMessage("the number of time steps", v.value, MAX_TIMESTEPS, "MAX_TIMESTEPS"));
    T = v.value;
  }
  for (let i = 0; T === undefined && i < params.length; i++) {
    const x = req.inputs.get(params[i]!.name.name);
    if (x && timedParam(i)) T = x.shape[0];
  }
  if (T === undefined) T = 1;
  if (!Number.isInteger(T) || T < 1) throw new UserError(`the number of time steps must be a positive whole number, got ${T}`);
  if (T > MAX_TIMESTEPS) throw new UserError(limitMessage("the number of time steps", T, MAX_TIMESTEPS, "MAX_TIMESTEPS"));

  const names = params.map((p) => p.name.name);
  for (const k of req.inputs.keys()) {
    if (!names.includes(k)) {
      const guess = closest(k, names);
      throw new UserError(`\`${decl.name.name}\` has no input \`${k}\`${guess ? `; did you mean \`${guess}\`?` : ""} (inputs: ${names.join(", ") || "none"})`);
    }
  }
  const inputs: { name: string; type: TensorType }[] = params.map((p, i) => {
    const x = req.inputs.get(p.name.name);
    if (!x) throw new UserError(`missing input \`${p.name.name}\` for \`${decl.name.name}\` (give it in the --input file)`);
    const timed = timedParam(i);
    if (timed && (x.shape.length === 0 || x.shape[0] !== T))
      throw new UserError(`input \`${p.name.name}\` has shape ${shapeString(x.shape)}, but \`${decl.name.name}\` runs ${T} time steps and needs [${T}, ...]`);
    // `int[...]` takes i32; `f32[...]`, an unprefixed type and a neuron's input take f32
    // (docs/language.md), as generic checking assumed. Only an untyped input takes either.
    const declared = "type" in p && p.type ? (p.type.dtype === "int" ? "i32" : "f32") : decl.kind === "Neuron" ? "f32" : undefined;
    if (declared && x.dtype !== declared)
      throw new UserError(`input \`${p.name.name}\` of \`${decl.name.name}\` is declared ${declared === "i32" ? "int" : "f32"}, but the tensor given is ${x.dtype} (shape ${shapeString(x.shape)})`);
    const shape = (timed ? x.shape.slice(1) : x.shape).map(constDim);
    return { name: p.name.name, type: { elem: x.dtype, timed, shape, values: REAL } };
  });

  const elab = new Elaborator(program, { concrete: true, timeDim: constDim(T) });
  const b = new GraphBuilder(elab.nextId);
  const out = elab.elaborateEntry(decl, uri, bindEntryArgs(decl, uri, req.args ?? {}, elab), inputs, b);
  if (elab.diagnostics.length > 0) throw new SpecError(elab.diagnostics, program);
  if (out.kind !== "tensor") throw new UserError(`\`${decl.name.name}\` does not produce a tensor`);
  const bad = checkShapes(b.nodes, T, { uri, span: decl.name.span });
  if (bad) throw new SpecError([bad], program);
  const neuronPaths = [...new Set(b.nodes.filter((n) => n.op === "neuron").map((n) => n.attrs.path as string))];
  const selected = req.taps && req.taps.length > 0 ? selectTaps(req.taps, elab.layerOutputs, neuronPaths) : undefined;
  const graph: Graph = {
    nodes: b.nodes,
    inputs: b.nodes.filter((n) => n.op === "input").map((n) => ({ name: n.attrs.name as string, node: n.id })),
    output: out.node,
    params: elab.params,
    timesteps: T,
    ...(selected && selected.layers.length > 0 ? { taps: selected.layers } : {}),
  };
  return { graph, program, entry: decl, uri, layerOutputs: elab.layerOutputs, neuronPaths, tappedNeurons: selected?.neurons ?? new Set() };
}

/**
 * Every tensor of a concrete graph must have whole-number axes and at most
 * MAX_TENSOR_ELEMENTS elements. Generic checking cannot know (`d / heads` with `--arg
 * heads=0.5`, `[out, inp]` with `--arg out=3000000000`), so this runs after concrete
 * elaboration, before anything is allocated, and blames the expression that made the tensor.
 */
function checkShapes(nodes: readonly IRNode[], T: number, fallback: { uri: string; span: Span }): Diagnostic | undefined {
  for (const n of nodes) {
    // A neuron's step graph (one level deep) is checked before the neuron's own outputs.
    const body = (n.attrs as { body?: { nodes?: readonly IRNode[] } }).body;
    const inner = body?.nodes && checkShapes(body.nodes, T, fallback);
    if (inner) return inner;
    const at = n.origin ?? fallback;
    const dims = n.type.shape.map(dimValue);
    const shape = () => `[${[...(n.type.timed ? [T] : []), ...n.type.shape.map(dimToString)].join(", ")}]`;
    const badAxis = n.type.shape.find((d, i) => dims[i] === undefined || !Number.isInteger(dims[i]) || dims[i]! < 0);
    if (badAxis) return { code: "SPK310", severity: "error", uri: at.uri, span: at.span, message: `\`${n.op}\` here gives a tensor of shape ${shape()}: an axis of length ${dimToString(badAxis)} is not a whole number >= 0 (check the constructor arguments)` };
    const elements = (dims as number[]).reduce((a, x) => a * x, n.type.timed ? T : 1);
    if (elements > MAX_TENSOR_ELEMENTS)
      return { code: "SPK505", severity: "error", uri: at.uri, span: at.span, message: `\`${n.op}\` here gives a tensor of shape ${shape()}, ${elements.toLocaleString("en-US")} elements, more than the limit of ${MAX_TENSOR_ELEMENTS.toLocaleString("en-US")} (MAX_TENSOR_ELEMENTS)` };
  }
  return undefined;
}
