/**
 * The elaborator: checks declarations and lowers them to IR in one walk, so the rules that
 * reject a spec are exactly the rules that give a running spec its meaning.
 *
 * It runs in two modes over the same code:
 * - generic (`spikelm check`, the language server): each declaration is checked on its own,
 *   constructor parameters and shape names as rigid symbols (`[T, B, L, inp]`);
 * - concrete (running an entry): constructor arguments are numbers, input shapes are known,
 *   every instance's parameters are registered under its path.
 *
 * Instances are created when a module's fields are evaluated; calling an instance inlines
 * its forward into the caller's graph; calling a neuron adds one `neuron` node whose step
 * body is a nested graph.
 */
import type {
  Arg,
  Block,
  Decl,
  Expr,
  ForwardDecl,
  Ident,
  ModuleDecl,
  NeuronDecl,
  Param,
  TypeExpr,
  TypedParam,
} from "../../grammar/ast.js";
import type { Diagnostic, Fix, RelatedInfo, Span } from "../../grammar/source.js";
import { GraphBuilder, type InitSpec, type Origin, type ParamSpec, type StateSpec, type StepGraph } from "../ir/graph.js";
import {
  type Dim,
  type DimSymbol,
  addDim,
  constDim,
  dimToString,
  dimValue,
  divDim,
  freshSymbol,
  mulDim,
  negDim,
  subDim,
  symDim,
} from "../types/dims.js";
import { REAL, type TensorType, levels, typeToString } from "../types/tensor-type.js";
import { MAX_CHECK_STEPS, MAX_ELABORATION_STEPS, MAX_INSTANCE_DEPTH, MAX_REPEAT, MAX_TENSOR_ELEMENTS, MAX_TIMESTEPS, limitMessage } from "../limits.js";
import { BUILTINS, type BuiltinCall, INITIALISERS } from "./builtins.js";
import type { Code } from "./codes.js";
import { Lowering } from "./lowering.js";
import { type Program, STDLIB_DIR, resolveImportPath, stdlibModules } from "./program.js";
import { concreteShape, resolveShape, shapeStr, unifyDim } from "./shapes.js";
import { closest } from "./suggest.js";
import {
  type CtorValue,
  type InstanceValue,
  type NumValue,
  type StackValue,
  type TensorValue,
  UNKNOWN,
  type Value,
  describeValue,
} from "./values.js";

/** A name use and the declaration it resolves to (for definition, references, rename). */
export interface RefRecord {
  readonly uri: string;
  readonly span: Span;
  readonly name: string;
  readonly target: Origin;
}

/** Where each name bound in a scope's `vars` was declared (kept beside the map). */
const definitions = new WeakMap<Map<string, unknown>, Map<string, Origin>>();
function defsOf(vars: Map<string, unknown>): Map<string, Origin> {
  let d = definitions.get(vars);
  if (!d) {
    d = new Map();
    definitions.set(vars, d);
  }
  return d;
}
function define(vars: Map<string, unknown>, name: string, uri: string, span: Span): void {
  defsOf(vars).set(name, { uri, span });
}
function copyDefs(from: Map<string, unknown>, to: Map<string, unknown>): void {
  for (const [k, v] of defsOf(from)) defsOf(to).set(k, v);
}

/**
 * `a.b.c` for a message; a path of hundreds of names (generated, or an attack) is cut in the
 * middle so that the message stays one readable line.
 */
function memberPath(names: readonly string[]): string {
  if (names.length <= 8) return names.join(".");
  return `${names.slice(0, 4).join(".")}.….${names.slice(-2).join(".")} (${names.length.toLocaleString("en-US")} names)`;
}

/** A type fact for the language server: what the expression at `span` is. */
export interface TypeRecord {
  readonly uri: string;
  readonly span: Span;
  readonly text: string;
}

interface StepCtx {
  readonly instancePath: string;
  readonly decl: NeuronDecl;
  readonly lower: Lowering;
  readonly amplitudeNodes: Map<string, number>;
  readonly stateNames: Set<string>;
}

interface Scope {
  readonly uri: string;
  readonly vars: Map<string, Value>;
  readonly parent?: Scope;
  readonly lower?: Lowering;
  readonly step?: StepCtx;
  /** Instance path prefix of the body being elaborated ("" at the entry). */
  readonly path: string;
}

interface ModuleEnv {
  readonly vars: Map<string, Value>;
  readonly decl: ModuleDecl;
  readonly uri: string;
  readonly forward?: ForwardDecl;
}

export interface ElaboratorOptions {
  readonly concrete: boolean;
  /** The time axis length: a number when running, a symbol when checking. */
  readonly timeDim: Dim;
  readonly timeName?: string;
  readonly recordTypes?: boolean;
}

/**
 * Thrown to stop an elaboration that crossed MAX_ELABORATION_STEPS: unwinding at once is the
 * only way out of a runaway instantiation. Caught by `checkDecl` and `elaborateEntry`, which
 * turn it into its diagnostic.
 */
class ElaborationLimit extends Error {
  constructor(
    readonly uri: string,
    readonly span: Span,
  ) {
    super("elaboration step limit");
  }
}

const num = (value: number): NumValue =>
  Number.isFinite(value) ? { kind: "num", value, dim: constDim(value) } : { kind: "num", value, dim: symDim(freshSymbol(String(value), false)) };
const symNum = (dim: Dim): NumValue => {
  const v = dimValue(dim);
  return v === undefined ? { kind: "num", dim } : { kind: "num", value: v, dim };
};

export class Elaborator {
  readonly diagnostics: Diagnostic[] = [];
  readonly params: ParamSpec[] = [];
  readonly types: TypeRecord[] = [];
  readonly refs: RefRecord[] = [];
  readonly nextId = { value: 1 };
  /**
   * The output node of every layer call (and of every `repeat` stack: its last layer's
   * output), by instance path, in call order (concrete elaboration only): what
   * `--record PATH` can tap. A layer called twice appears twice.
   */
  readonly layerOutputs: { readonly path: string; readonly node: number }[] = [];
  readonly timeName: string;
  private readonly modules = new Map<string, ModuleEnv>();
  private readonly constCache = new Map<Decl, Value>();
  private readonly instantiating: string[] = [];
  private readonly calling: Decl[] = [];
  private readonly seen = new Set<string>();
  /** Expressions evaluated so far: per entry when running, per checker (all declarations) when checking. */
  private steps = 0;
  /** Did-you-mean guesses made so far (bounded: each costs a pass over the scope). */
  private guesses = 0;
  private readonly maxSteps: number;

  constructor(
    readonly program: Program,
    readonly options: ElaboratorOptions,
  ) {
    this.timeName = options.timeName ?? "T";
    this.maxSteps = options.concrete ? MAX_ELABORATION_STEPS : MAX_CHECK_STEPS;
  }

  // ------------------------------------------------------------------ diagnostics

  report(code: Code, uri: string, span: Span, message: string, extra: { related?: RelatedInfo[]; fix?: Fix } = {}): void {
    const key = `${code}|${uri}|${span.start}|${span.end}|${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.diagnostics.push({ code, severity: "error", message, uri, span, ...extra });
  }

  private reporterFor(uri: string) {
    return (code: Code, span: Span, message: string) => this.report(code, uri, span, message);
  }

  private record(uri: string, span: Span, v: Value): void {
    if (!this.options.recordTypes) return;
    const text = v.kind === "tensor" ? typeToString(v.type, this.timeName) : v.kind === "num" ? (v.value !== undefined ? String(v.value) : dimToString(v.dim)) : describeValue(v);
    this.types.push({ uri, span, text });
  }

  // ------------------------------------------------------------------ names

  private lookup(name: string, sc: Scope, use?: Span): Value | undefined {
    for (let s: Scope | undefined = sc; s; s = s.parent) {
      const v = s.vars.get(name);
      if (v) {
        const def = defsOf(s.vars).get(name);
        if (use && def) this.refer(sc.uri, use, name, def);
        return v;
      }
    }
    const entry = this.program.scope(sc.uri).get(name);
    if (entry) {
      if (use) this.refer(sc.uri, use, name, { uri: entry.uri, span: entry.decl.name.span });
      return this.declValue(entry.decl, entry.uri);
    }
    if (BUILTINS.has(name)) return { kind: "builtin", name };
    if (name in INITIALISERS) return { kind: "init", name, args: [] };
    return undefined;
  }

  refer(uri: string, span: Span, name: string, target: Origin): void {
    if (this.options.recordTypes) this.refs.push({ uri, span, name, target });
  }

  private candidates(sc: Scope): string[] {
    const out = new Set<string>();
    for (let s: Scope | undefined = sc; s; s = s.parent) for (const k of s.vars.keys()) out.add(k);
    for (const k of this.program.scope(sc.uri).keys()) out.add(k);
    for (const k of BUILTINS.keys()) out.add(k);
    return [...out];
  }

  private unknownName(name: string, span: Span, sc: Scope): void {
    const module = this.stdlibModuleDeclaring(name);
    if (module) {
      const file = this.program.files.get(sc.uri);
      const at = file?.ast.imports.length ? file.ast.imports[file.ast.imports.length - 1]!.span.end : 0;
      const text = file?.ast.imports.length ? `\nimport "std/${module}"` : `import "std/${module}"\n`;
      this.report("SPK201", sc.uri, span, `unknown name \`${name}\`; it is declared in \`std/${module}\`, which this file does not import`, {
        fix: { title: `Add \`import "std/${module}"\``, edits: [{ uri: sc.uri, span: { start: at, end: at }, newText: text }] },
      });
      return;
    }
    // Each guess compares against every name in scope: past a hundred unknown names (a file
    // of mistakes, or generated), stop guessing rather than go quadratic.
    const guess = ++this.guesses <= 100 ? closest(name, this.candidates(sc)) : undefined;
    this.report("SPK201", sc.uri, span, guess ? `unknown name \`${name}\`; did you mean \`${guess}\`?` : `unknown name \`${name}\``, {
      fix: guess ? { title: `Change to \`${guess}\``, edits: [{ uri: sc.uri, span, newText: guess }] } : undefined,
    });
  }

  private stdlibModuleDeclaring(name: string): string | undefined {
    for (const m of stdlibModules()) {
      const f = this.program.load(resolveImportPath(`std/${m}`, STDLIB_DIR));
      if (f?.ast.decls.some((d) => d.name.name === name)) return m;
    }
    return undefined;
  }

  private declValue(decl: Decl, uri: string): Value {
    if (decl.kind === "Const") {
      const cached = this.constCache.get(decl);
      if (cached) return cached;
      this.constCache.set(decl, UNKNOWN);
      const v = this.evalConst(decl.value, { uri, vars: new Map(), path: "" });
      this.constCache.set(decl, v);
      return v;
    }
    return { kind: "ctor", decl, uri, args: new Map() };
  }

  // ------------------------------------------------------------------ constructor arguments

  /** Binds call arguments to a declaration's parameters, filling defaults. */
  bindArgs(decl: NeuronDecl | ModuleDecl, declUri: string, args: readonly Arg[], sc: Scope, callSpan: Span): Map<string, Value> {
    const given = new Map<string, { value: Value; span: Span }>();
    let positional = 0;
    for (const a of args) {
      const value = this.evalConst(a.value, sc);
      if (a.name) {
        const p = decl.params.find((q) => q.name.name === a.name!.name);
        if (p) this.refer(sc.uri, a.name.span, p.name.name, { uri: declUri, span: p.name.span });
        if (!p) {
          const guess = closest(a.name.name, decl.params.map((q) => q.name.name));
          this.report("SPK211", sc.uri, a.name.span, `\`${decl.name.name}\` has no parameter \`${a.name.name}\`${guess ? `; did you mean \`${guess}\`?` : ""} (parameters: ${decl.params.map((q) => q.name.name).join(", ") || "none"})`, {
            fix: guess ? { title: `Change to \`${guess}\``, edits: [{ uri: sc.uri, span: a.name.span, newText: guess }] } : undefined,
          });
          continue;
        }
        if (given.has(p.name.name)) this.report("SPK213", sc.uri, a.span, `argument \`${p.name.name}\` is given twice`);
        given.set(p.name.name, { value, span: a.span });
      } else {
        const p = decl.params[positional++];
        if (!p) {
          this.report("SPK212", sc.uri, a.span, `\`${decl.name.name}\` takes ${decl.params.length} argument${decl.params.length === 1 ? "" : "s"}, this is argument ${positional}`);
          continue;
        }
        if (given.has(p.name.name)) this.report("SPK213", sc.uri, a.span, `argument \`${p.name.name}\` is given twice`);
        given.set(p.name.name, { value, span: a.span });
      }
    }
    const out = new Map<string, Value>();
    for (const p of decl.params) {
      define(out, p.name.name, declUri, p.name.span);
      const g = given.get(p.name.name);
      if (g) out.set(p.name.name, g.value);
      else if (p.default) out.set(p.name.name, this.evalConst(p.default, { uri: declUri, vars: out, path: "" }));
      else {
        this.report("SPK210", sc.uri, callSpan, `\`${decl.name.name}\` needs argument \`${p.name.name}\``);
        out.set(p.name.name, UNKNOWN);
      }
    }
    return out;
  }

  /** Arguments for checking a declaration on its own: numbers become rigid symbols. */
  genericArgs(decl: NeuronDecl | ModuleDecl, uri: string): Map<string, Value> {
    const out = new Map<string, Value>();
    for (const p of decl.params) {
      define(out, p.name.name, uri, p.name.span);
      const dflt = p.default ? this.evalConst(p.default, { uri, vars: out, path: "" }) : undefined;
      if (!dflt || dflt.kind === "num") out.set(p.name.name, symNum(symDim(freshSymbol(p.name.name, false))));
      else out.set(p.name.name, dflt);
    }
    return out;
  }

  // ------------------------------------------------------------------ instances

  instantiate(ctor: CtorValue, path: string): InstanceValue {
    const inst: InstanceValue = { kind: "instance", ctor, path };
    if (ctor.decl.kind !== "Neuron") this.moduleEnv(inst);
    return inst;
  }

  private moduleEnv(inst: InstanceValue): ModuleEnv | undefined {
    const cached = this.modules.get(inst.path);
    if (cached && cached.decl === inst.ctor.decl) return cached;
    const decl = inst.ctor.decl as ModuleDecl;
    const uri = inst.ctor.uri;
    if (this.instantiating.includes(decl.name.name)) {
      this.report("SPK413", uri, decl.name.span, `\`${decl.name.name}\` contains itself (through ${[...this.instantiating, decl.name.name].join(" -> ")})`);
      return undefined;
    }
    // Each level of layers within layers costs stack frames; bound it where it is crossed.
    if (this.instantiating.length >= MAX_INSTANCE_DEPTH) {
      this.report("SPK505", uri, decl.name.span, `\`${decl.name.name}\` would be created ${this.instantiating.length + 1} layers deep (layers within layers), more than the limit of ${MAX_INSTANCE_DEPTH} (MAX_INSTANCE_DEPTH)`);
      return undefined;
    }
    this.instantiating.push(decl.name.name);
    const vars = new Map<string, Value>(inst.ctor.args);
    copyDefs(inst.ctor.args as Map<string, Value>, vars);
    const sc: Scope = { uri, vars, path: inst.path };
    const env: { forward?: ForwardDecl } = {};
    const memberNames = new Map<string, Span>();
    for (const p of decl.params) memberNames.set(p.name.name, p.name.span);
    for (const m of decl.members) {
      if (m.kind === "Forward") {
        if (env.forward) this.report("SPK203", uri, m.span, `\`${decl.name.name}\` has more than one forward`);
        else env.forward = m;
        continue;
      }
      const name = m.name.name;
      if (name && memberNames.has(name) && m.kind !== "Timesteps") {
        this.report("SPK203", uri, m.name.span, `\`${name}\` is already declared in \`${decl.name.name}\``, {
          related: [{ uri, span: memberNames.get(name)!, message: "first declared here" }],
        });
      }
      memberNames.set(name, m.name.span);
      define(vars, name, uri, m.name.span);
      if (m.kind === "Field") vars.set(name, this.fieldValue(m.value, sc, this.join(inst.path, name)));
      else if (m.kind === "Weight") vars.set(name, this.weight(m.name.name, m.type, m.init, sc, this.join(inst.path, name)));
      else if (m.kind === "Timesteps") {
        if (decl.kind !== "Model") this.report("SPK409", uri, m.span, "`timesteps` belongs in a model; a layer takes T from its input or from `--timesteps`");
        else this.checkTimesteps(m.value, sc);
        vars.set(name, symNum(this.options.timeDim));
      }
    }
    this.instantiating.pop();
    if (!env.forward) this.report("SPK407", uri, decl.name.span, `\`${decl.name.name}\` has no \`forward(...)\``);
    const result: ModuleEnv = { vars, decl, uri, forward: env.forward };
    this.modules.set(inst.path, result);
    return result;
  }

  /** A model's `timesteps T = n`: n must be a whole number in [1, MAX_TIMESTEPS] once known. */
  private checkTimesteps(value: Expr, sc: Scope): void {
    const v = this.evalConst(value, sc);
    if (v.kind === "unknown" || (v.kind === "num" && v.value === undefined)) return; // settled when the model runs
    if (v.kind !== "num") this.report("SPK501", sc.uri, value.span, `the number of time steps must be a number, found ${describeValue(v)}`);
    else if (!Number.isInteger(v.value) || v.value! < 1) this.report("SPK504", sc.uri, value.span, `the number of time steps must be a whole number >= 1, found ${v.value}`);
    else if (v.value! > MAX_TIMESTEPS) this.report("SPK505", sc.uri, value.span, limitMessage("the number of time steps", v.value!, MAX_TIMESTEPS, "MAX_TIMESTEPS"));
  }

  private join(prefix: string, name: string): string {
    return prefix ? `${prefix}.${name}` : name;
  }

  private fieldValue(e: Expr, sc: Scope, path: string): Value {
    if (e.kind === "Repeat") {
      const count = this.evalConst(e.count, sc);
      const n = count.kind === "num" ? count.value : undefined;
      if (count.kind !== "num") {
        if (count.kind !== "unknown") this.report("SPK501", sc.uri, e.count.span, `repeat needs a whole number of copies, found ${describeValue(count)}`);
        return UNKNOWN;
      }
      if (n !== undefined && (!Number.isInteger(n) || n < 0)) {
        this.report("SPK504", sc.uri, e.count.span, `repeat needs a whole number of copies, found ${n}`);
        return UNKNOWN;
      }
      // Refused when checking too, though checking would not expand it: it can never run.
      if (n !== undefined && n > MAX_REPEAT) {
        this.report("SPK505", sc.uri, e.count.span, limitMessage("repeat count", n, MAX_REPEAT, "MAX_REPEAT", "copies"));
        return UNKNOWN;
      }
      // Checking generically, one representative copy stands for all of them: the body cannot
      // see its index, so every copy is the same layer (`callRepresentative` applies it).
      // Running, each copy is its own instance with its own weights.
      const copies = this.options.concrete ? n! : Math.min(n ?? 1, 1);
      const items: InstanceValue[] = [];
      for (let i = 0; i < copies; i++) {
        const v = this.evalConst(e.body, sc);
        if (v.kind !== "ctor") {
          if (v.kind !== "unknown") this.report("SPK205", sc.uri, e.body.span, `repeat needs a layer constructor in its body, found ${describeValue(v)}`);
          return UNKNOWN;
        }
        items.push(this.instantiate(v, `${path}.${i}`));
      }
      const stack: StackValue = this.options.concrete || n === undefined ? { kind: "stack", items, path } : { kind: "stack", items, path, applied: n };
      this.record(sc.uri, e.span, stack);
      return stack;
    }
    const v = this.evalConst(e, sc);
    if (v.kind === "ctor") {
      const inst = this.instantiate(v, path);
      this.record(sc.uri, e.span, inst);
      return inst;
    }
    return v;
  }

  private weight(name: string, type: TypeExpr, init: Expr | undefined, sc: Scope, path: string): Value {
    const shape: Dim[] = [];
    for (const d of type.dims) {
      if (d.kind === "Ellipsis") {
        this.report("SPK303", sc.uri, d.span, "a weight's shape must list every axis (no `...`)");
        return UNKNOWN;
      }
      const dim = this.evalDim(d, sc, new Map(), false);
      if (!dim) return UNKNOWN;
      // A constant axis is checked where it is written, whether or not the layer ever runs.
      const known = dimValue(dim);
      if (known !== undefined && (!Number.isInteger(known) || known < 0)) {
        this.report("SPK310", sc.uri, d.span, `weight \`${name}\` has an axis of length ${dimToString(dim)}; axis lengths are whole numbers >= 0`);
        return UNKNOWN;
      }
      shape.push(dim);
    }
    let spec: InitSpec | undefined;
    if (init) {
      const v = this.evalConst(init, sc);
      if (v.kind === "init") {
        const a = v.args[0];
        spec =
          v.name === "zeros" ? { kind: "zeros" } : v.name === "ones" ? { kind: "ones" } : v.name === "normal" ? { kind: "normal", std: a ?? 1 } : v.name === "uniform" ? { kind: "uniform", bound: a ?? 1 } : { kind: "fill", value: a ?? 0 };
      } else if (v.kind === "num" && v.value !== undefined) spec = { kind: "fill", value: v.value };
      else if (v.kind !== "unknown") {
        this.report("SPK412", sc.uri, init.span, `a weight initialiser is one of ${Object.values(INITIALISERS).map((i) => `\`${i.signature}\``).join(", ")} or a number; found ${describeValue(v)}`);
        return UNKNOWN;
      }
    }
    if (this.options.concrete) {
      const concrete = concreteShape(shape);
      if (!concrete || concrete.some((x) => !Number.isInteger(x) || x < 0)) {
        this.report("SPK310", sc.uri, type.span, `weight \`${path}\` has shape ${shapeStr(shape)}, which is not a list of whole numbers`);
        return UNKNOWN;
      }
      const elements = concrete.reduce((a, x) => a * x, 1);
      if (elements > MAX_TENSOR_ELEMENTS) {
        this.report("SPK505", sc.uri, type.span, `weight \`${path}\` has shape [${concrete.join(", ")}], ${elements.toLocaleString("en-US")} elements, more than the limit of ${MAX_TENSOR_ELEMENTS.toLocaleString("en-US")} (MAX_TENSOR_ELEMENTS)`);
        return UNKNOWN;
      }
      const fanIn = concrete[concrete.length - 1] ?? 1;
      // Default: PyTorch's nn.Linear scheme, uniform in ±1/sqrt(fan_in) (fan_in = last axis).
      this.params.push({ path, kind: "weight", shape: concrete, init: spec ?? { kind: "uniform", bound: 1 / Math.sqrt(Math.max(1, fanIn)) }, origin: { uri: sc.uri, span: type.span } });
    }
    return { kind: "weight", path, shape };
  }

  // ------------------------------------------------------------------ compile-time values

  /** Evaluates an expression outside any tensor graph (arguments, fields, dims, defaults). */
  evalConst(e: Expr, sc: Scope): Value {
    return this.evalExpr(e, { ...sc, lower: undefined });
  }

  private evalDim(e: Expr, sc: Scope, free: Map<string, DimSymbol>, flexible: boolean): Dim | undefined {
    switch (e.kind) {
      case "Number":
        // A literal too large for a number is reported by the parser (SPK004).
        return Number.isFinite(e.value) ? constDim(e.value) : undefined;
      case "Name": {
        if (e.name === this.timeName) return this.options.timeDim;
        const v = this.lookup(e.name, sc, e.span);
        if (v && v.kind === "num") return v.dim;
        if (v && v.kind !== "unknown") {
          this.report("SPK501", sc.uri, e.span, `a dimension must be a number, but \`${e.name}\` is ${describeValue(v)}`);
          return undefined;
        }
        if (v) return undefined;
        let s = free.get(e.name);
        if (!s) {
          s = freshSymbol(e.name, flexible);
          free.set(e.name, s);
          define(free, e.name, sc.uri, e.span);
        } else {
          const def = defsOf(free).get(e.name);
          if (def) this.refer(sc.uri, e.span, e.name, def);
        }
        return symDim(s);
      }
      case "Binary": {
        const a = this.evalDim(e.left, sc, free, flexible);
        const b = this.evalDim(e.right, sc, free, flexible);
        if (!a || !b) return undefined;
        if (e.op === "+") return addDim(a, b);
        if (e.op === "-") return subDim(a, b);
        if (e.op === "*") return mulDim(a, b);
        if (e.op === "/") {
          const q = divDim(a, b);
          if (!q) this.report("SPK307", sc.uri, e.span, `cannot divide ${dimToString(a)} by ${dimToString(b)}`);
          return q;
        }
        break;
      }
      case "Unary": {
        const a = this.evalDim(e.operand, sc, free, flexible);
        return a && negDim(a);
      }
      default:
        break;
    }
    this.report("SPK501", sc.uri, e.span, "a dimension is a number, a name or arithmetic on them");
    return undefined;
  }

  // ------------------------------------------------------------------ expressions

  evalExpr(e: Expr, sc: Scope): Value {
    if (++this.steps > this.maxSteps) throw new ElaborationLimit(sc.uri, e.span);
    const v = this.evalExprInner(e, sc);
    if (sc.lower && (v.kind === "tensor" || v.kind === "instance")) this.record(sc.uri, e.span, v);
    return v;
  }

  private evalExprInner(e: Expr, sc: Scope): Value {
    switch (e.kind) {
      case "Number":
        return num(e.value);
      case "Bool":
        return { kind: "bool", value: e.value };
      case "String":
        return { kind: "string", value: e.value };
      case "ErrorExpr":
        return UNKNOWN;
      case "Name": {
        const v = this.lookup(e.name, sc, e.span);
        if (!v) {
          if (e.name === this.timeName) return symNum(this.options.timeDim);
          if (sc.step?.decl.members.some((m) => m.kind === "Amplitude" && m.name.name === e.name)) {
            this.report("SPK405", sc.uri, e.span, `amplitude \`${e.name}\` has one value per step: read it as \`${e.name}[t]\``, {
              fix: { title: `Change to \`${e.name}[t]\``, edits: [{ uri: sc.uri, span: e.span, newText: `${e.name}[t]` }] },
            });
            return UNKNOWN;
          }
          this.unknownName(e.name, e.span, sc);
          return UNKNOWN;
        }
        if (v.kind === "weight" && sc.lower) return sc.lower.param(v.path, v.shape, e.span);
        return v;
      }
      case "Unary": {
        const x = this.evalExpr(e.operand, sc);
        if (x.kind === "num") return x.value !== undefined ? num(Math.fround(-x.value)) : symNum(negDim(x.dim));
        const t = this.asTensor(x, e.operand.span, sc);
        return t && sc.lower ? sc.lower.unary("neg", t, e.span) : UNKNOWN;
      }
      case "Binary":
        return this.binary(e, sc);
      case "Call":
        return this.call(e, sc);
      case "Index":
        return this.index(e, sc);
      case "Member":
        return this.member(e, sc);
      case "Repeat":
        this.report("SPK205", sc.uri, e.span, "`repeat` builds a stack of layers and can only be a field's value");
        return UNKNOWN;
    }
  }

  private binary(e: Extract<Expr, { kind: "Binary" }>, sc: Scope): Value {
    const a = this.evalExpr(e.left, sc);
    const b = this.evalExpr(e.right, sc);
    if (a.kind === "unknown" || b.kind === "unknown") return UNKNOWN;
    if (a.kind === "num" && b.kind === "num" && e.op !== "@") return this.foldBinary(e.op, a, b, e.span, sc);
    const ta = this.asTensor(a, e.left.span, sc);
    const tb = this.asTensor(b, e.right.span, sc);
    if (!ta || !tb || !sc.lower) return UNKNOWN;
    if (e.op === "@") return sc.lower.matmul(ta, tb, e.span) ?? UNKNOWN;
    const op = ({ "+": "add", "-": "sub", "*": "mul", "/": "div" } as const)[e.op];
    return sc.lower.binary(op, ta, tb, e.span) ?? UNKNOWN;
  }

  /** Constant arithmetic is float32 like everything else, so folding never changes a result. */
  private foldBinary(op: "+" | "-" | "*" | "/", a: NumValue, b: NumValue, span: Span, sc: Scope): Value {
    if (a.value !== undefined && b.value !== undefined) {
      const x = Math.fround(a.value);
      const y = Math.fround(b.value);
      const r = op === "+" ? x + y : op === "-" ? x - y : op === "*" ? x * y : x / y;
      if (op === "/" && y === 0) {
        this.report("SPK504", sc.uri, span, "division by zero in a constant expression");
        return UNKNOWN;
      }
      return num(Math.fround(r));
    }
    const d = op === "+" ? addDim(a.dim, b.dim) : op === "-" ? subDim(a.dim, b.dim) : op === "*" ? mulDim(a.dim, b.dim) : divDim(a.dim, b.dim);
    return d ? symNum(d) : { kind: "num", dim: symDim(freshSymbol("?", false)) };
  }

  private asTensor(v: Value, span: Span, sc: Scope): TensorValue | undefined {
    if (v.kind === "tensor") return v;
    if (!sc.lower) {
      if (v.kind !== "unknown") this.report("SPK502", sc.uri, span, `tensors exist only inside forward and step bodies; found ${describeValue(v)} here`);
      return undefined;
    }
    if (v.kind === "num") return sc.lower.constant(v.value ?? Number.NaN, span);
    if (v.kind === "bool") return sc.lower.constant(v.value ? 1 : 0, span);
    if (v.kind === "weight") return sc.lower.param(v.path, v.shape, span);
    if (v.kind !== "unknown") this.report("SPK502", sc.uri, span, `expected a tensor, found ${describeValue(v)}`);
    return undefined;
  }

  private call(e: Extract<Expr, { kind: "Call" }>, sc: Scope): Value {
    // `word.table(x)`: a member is a tensor (or refused), never a callee; say so as for any tensor.
    const callee = e.callee.kind === "Member" ? this.evalExpr(e.callee, sc) : this.evalConst(e.callee, { ...sc, lower: undefined });
    switch (callee.kind) {
      case "unknown":
        for (const a of e.args) this.evalExpr(a.value, sc);
        return UNKNOWN;
      case "builtin":
        return this.callBuiltin(callee.name, e, sc);
      case "init": {
        const spec = INITIALISERS[callee.name]!;
        const args = e.args.map((a) => this.evalConst(a.value, sc));
        if (args.length !== spec.args) {
          this.report("SPK503", sc.uri, e.span, `\`${spec.signature}\` takes ${spec.args} argument${spec.args === 1 ? "" : "s"}, found ${args.length}`);
          return UNKNOWN;
        }
        const nums = args.map((a) => (a.kind === "num" ? a.value : undefined));
        if (nums.some((n) => n === undefined) && this.options.concrete) {
          this.report("SPK501", sc.uri, e.span, `\`${spec.signature}\` needs constant numbers`);
          return UNKNOWN;
        }
        return { kind: "init", name: callee.name, args: nums.map((n) => n ?? 0) };
      }
      case "ctor": {
        const args = this.bindArgs(callee.decl, callee.uri, e.args, sc, e.span);
        const ctor: CtorValue = { ...callee, args };
        if (sc.lower) {
          this.report("SPK205", sc.uri, e.callee.span, `\`${callee.decl.name.name}\` must be created as a field (\`name = ${callee.decl.name.name}(...)\`) and called by that name; each field owns its parameters and state`);
          return UNKNOWN;
        }
        return ctor;
      }
      case "instance":
      case "stack": {
        if (!sc.lower) {
          this.report("SPK205", sc.uri, e.span, `${describeValue(callee)} can only be called inside a forward body`);
          return UNKNOWN;
        }
        const args: TensorValue[] = [];
        for (const a of e.args) {
          if (a.name) this.report("SPK211", sc.uri, a.name.span, "forward and step arguments are positional");
          const t = this.asTensor(this.evalExpr(a.value, sc), a.value.span, sc);
          if (!t) return UNKNOWN;
          args.push(t);
        }
        const spans = e.args.map((a) => a.value.span);
        if (callee.kind === "stack") {
          let cur: Value = args[0] ?? UNKNOWN;
          if (callee.applied !== undefined) return this.callRepresentative(callee, callee.applied, cur, args, spans, e.span, sc);
          for (const item of callee.items) {
            if (cur.kind !== "tensor") return UNKNOWN;
            cur = this.callInstance(item, [cur, ...args.slice(1)], spans, e.span, sc);
          }
          if (cur.kind === "tensor" && this.options.concrete) this.layerOutputs.push({ path: callee.path, node: cur.node });
          return cur;
        }
        return this.callInstance(callee, args, spans, e.span, sc);
      }
      default:
        this.report("SPK204", sc.uri, e.callee.span, `${describeValue(callee)} cannot be called`);
        return UNKNOWN;
    }
  }

  /**
   * A generically checked `repeat n` applies one copy n times. The copies are identical, so
   * once a copy returns the type it was given, every later copy would too: stop there. Types
   * that keep changing (a fresh symbol each time) stop after three copies, which shows any
   * mismatch between one copy's output and the next copy's input.
   */
  private callRepresentative(stack: StackValue, n: number, first: Value, args: TensorValue[], spans: Span[], span: Span, sc: Scope): Value {
    const item = stack.items[0];
    if (!item) return first;
    let cur = first;
    for (let i = 0; i < Math.min(n, 3); i++) {
      if (cur.kind !== "tensor") return UNKNOWN;
      const next = this.callInstance(item, [cur, ...args.slice(1)], spans, span, sc);
      const settled = next.kind === "tensor" && next.type.elem === cur.type.elem && typeToString(next.type, this.timeName) === typeToString(cur.type, this.timeName);
      cur = next;
      if (settled) break;
    }
    return cur;
  }

  private callBuiltin(name: string, e: Extract<Expr, { kind: "Call" }>, sc: Scope): Value {
    const spec = BUILTINS.get(name)!;
    const args = e.args.map((a) => this.evalExpr(a.value, sc));
    const spans = e.args.map((a) => a.value.span);
    for (const a of e.args) if (a.name && !(name === "causal_mask" && a.name.name === "enabled") && !(name === "layernorm" && a.name.name === "eps")) this.report("SPK211", sc.uri, a.name.span, `\`${spec.signature}\` takes no argument named \`${a.name.name}\``);
    if (args.length < spec.minArgs || args.length > spec.maxArgs) {
      const want = spec.minArgs === spec.maxArgs ? `${spec.minArgs}` : spec.maxArgs > 8 ? `at least ${spec.minArgs}` : `${spec.minArgs} to ${spec.maxArgs}`;
      this.report("SPK503", sc.uri, e.span, `\`${spec.signature}\` takes ${want} argument${want === "1" ? "" : "s"}, found ${args.length}`);
      return UNKNOWN;
    }
    if (args.some((a) => a.kind === "unknown")) return UNKNOWN;
    // Constant folding of scalar builtins keeps `sqrt(d / heads)` a compile-time number.
    if (spec.fold && args.every((a) => a.kind === "num")) {
      const xs = args.map((a) => (a as NumValue).value);
      if (xs.every((x) => x !== undefined)) return num(Math.fround(spec.fold(...(xs as number[]).map(Math.fround))));
      return { kind: "num", dim: symDim(freshSymbol(`${name}(…)`, false)) };
    }
    const self = this;
    const c: BuiltinCall = {
      name,
      args,
      spans,
      span: e.span,
      lower: sc.lower,
      tensor(i) {
        return self.asTensor(args[i]!, spans[i]!, sc);
      },
      num(i) {
        const a = args[i]!;
        if (a.kind !== "num") {
          self.report("SPK501", sc.uri, spans[i]!, `\`${spec.signature}\`: argument ${i + 1} must be a constant number, found ${describeValue(a)}`);
          return undefined;
        }
        return a.value;
      },
      dim(i) {
        const a = args[i]!;
        if (a.kind !== "num") {
          self.report("SPK501", sc.uri, spans[i]!, `\`${spec.signature}\`: argument ${i + 1} must be a dimension, found ${describeValue(a)}`);
          return undefined;
        }
        return a.dim;
      },
      bool(i, dflt) {
        const a = args[i];
        if (!a) return dflt;
        if (a.kind === "bool") return a.value ?? dflt;
        self.report("SPK501", sc.uri, spans[i]!, `\`${spec.signature}\`: argument ${i + 1} must be true or false, found ${describeValue(a)}`);
        return dflt;
      },
      report: (code, span, message) => this.report(code, sc.uri, span, message),
    };
    if (!sc.lower) {
      this.report("SPK502", sc.uri, e.span, `\`${name}\` works on tensors, which exist only inside forward and step bodies`);
      return UNKNOWN;
    }
    return spec.lower(c);
  }

  private index(e: Extract<Expr, { kind: "Index" }>, sc: Scope): Value {
    // `alpha[t]`: an amplitude read at the current step (calibrated on first use).
    if (sc.step && e.target.kind === "Name") {
      const amp = sc.step.decl.members.find((m) => m.kind === "Amplitude" && m.name.name === (e.target as { name: string }).name);
      if (amp && amp.kind === "Amplitude") {
        const item = e.items[0];
        if (e.items.length !== 1 || !item || item.kind !== "Name" || item.name !== "t") {
          this.report("SPK405", sc.uri, e.span, `amplitude \`${amp.name.name}\` has one value per step: read it as \`${amp.name.name}[t]\``);
          return UNKNOWN;
        }
        this.refer(sc.uri, e.target.span, amp.name.name, { uri: sc.uri, span: amp.name.span });
        return this.amplitude(amp.name.name, amp.init, sc, e.span);
      }
    }
    const target = this.evalExpr(e.target, sc);
    if (target.kind === "unknown") return UNKNOWN;
    if (sc.step && e.items.length === 1 && e.items[0]!.kind === "Name" && e.items[0]!.name === "t" && target.kind === "tensor") return target; // x[t]: the current step
    const t = this.asTensor(target, e.target.span, sc);
    if (!t || !sc.lower) return UNKNOWN;
    const items: ({ index: number } | { start?: number; end?: number })[] = [];
    const constInt = (x: Expr | undefined): number | undefined | null => {
      if (!x) return undefined;
      const v = this.evalConst(x, sc);
      if (v.kind === "num" && v.value !== undefined && Number.isInteger(v.value)) return v.value;
      if (v.kind !== "unknown") this.report("SPK501", sc.uri, x.span, `an index must be a constant whole number, found ${v.kind === "num" ? dimToString(v.dim) : describeValue(v)}`);
      return null;
    };
    for (const it of e.items) {
      if (it.kind === "Slice") {
        const start = constInt(it.start);
        const end = constInt(it.end);
        if (start === null || end === null) return UNKNOWN;
        items.push({ start, end });
      } else {
        const i = constInt(it);
        if (i === null || i === undefined) return UNKNOWN;
        items.push({ index: i });
      }
    }
    return sc.lower.index(t, items, e.span) ?? UNKNOWN;
  }

  /**
   * `word.table`, `embeddings.word.table`: a weight of one of this layer's own fields (or of
   * their fields), read-only. The tensor is that parameter's node, under its one path, so a
   * shared weight is one parameter used twice and its gradient is the sum of both uses.
   * Only weights: a field's layer is called through its own field, a neuron keeps its
   * amplitudes, and `repeat` copies have no names. Reading looks only down into instances
   * this layer owns, which SPK413 keeps finite, so a read can never form a cycle.
   */
  private member(e: Extract<Expr, { kind: "Member" }>, sc: Scope): Value {
    const chain: Ident[] = [];
    let root: Expr = e;
    while (root.kind === "Member") {
      chain.unshift(root.name);
      root = root.target;
    }
    if (root.kind !== "Name") {
      // Unknown: the target already has its diagnostic (or is where SPK005 cut a chain too
      // deep), so one more here would only repeat it, once per `.` of a long chain.
      if (this.evalExpr(root, sc).kind === "unknown") return UNKNOWN;
      const first = chain[0]!;
      if (!first.name) return UNKNOWN; // `relu(x).` with the name missing: the parser said so
      const target = this.sourceExcerpt(sc.uri, root.span);
      this.report("SPK414", sc.uri, first.span, `cannot read \`.${first.name}\` of \`${target}\`: \`.\` reads a weight of one of this layer's fields and starts from the field's name (\`field.weight\`)`);
      return UNKNOWN;
    }
    let cur = this.lookup(root.name, sc, root.span);
    if (!cur) {
      this.unknownName(root.name, root.span, sc);
      return UNKNOWN;
    }
    let path = root.name;
    for (const name of chain) {
      if (cur.kind === "unknown" || !name.name) return UNKNOWN;
      if (cur.kind !== "instance" || cur.ctor.decl.kind === "Neuron") {
        const why =
          cur.kind === "instance" ? `\`${path}\` is a neuron; its amplitudes are its own (only a layer's weights can be shared)`
          : cur.kind === "stack" ? `\`${path}\` is a \`repeat\` stack, whose copies have no names to read through`
          : cur.kind === "weight" ? `\`${path}\` is a weight, which has no members`
          : `\`${path}\` is ${describeValue(cur)}, not a field holding a layer`;
        this.report("SPK414", sc.uri, name.span, `cannot read \`${path}.${name.name}\`: ${why}`);
        return UNKNOWN;
      }
      const env = this.moduleEnv(cur);
      if (!env) return UNKNOWN;
      const readable = env.decl.members.filter((m): m is Extract<typeof m, { kind: "Field" | "Weight" }> => m.kind === "Field" || m.kind === "Weight").map((m) => m.name.name);
      if (!readable.includes(name.name)) {
        const guess = closest(name.name, readable);
        this.report("SPK414", sc.uri, name.span, `\`${path}\` (\`${env.decl.name.name}\`) has no weight or field \`${name.name}\`${guess ? `; did you mean \`${guess}\`?` : ""} (it has: ${readable.join(", ") || "none"})`, {
          fix: guess ? { title: `Change to \`${guess}\``, edits: [{ uri: sc.uri, span: name.span, newText: guess }] } : undefined,
        });
        return UNKNOWN;
      }
      const def = defsOf(env.vars).get(name.name);
      if (def) this.refer(sc.uri, name.span, name.name, def);
      cur = env.vars.get(name.name) ?? UNKNOWN;
      path = `${path}.${name.name}`;
    }
    if (cur.kind === "weight") {
      if (sc.lower) {
        const t = sc.lower.param(cur.path, cur.shape, e.span);
        this.record(sc.uri, chain[chain.length - 1]!.span, t); // hover on `table` in `word.table`
        return t;
      }
      this.report("SPK414", sc.uri, e.span, `\`${path}\` is a weight, a tensor: read it inside \`forward\``);
      return UNKNOWN;
    }
    if (cur.kind !== "unknown") {
      const what = cur.kind === "instance" || cur.kind === "stack" ? `${describeValue(cur)}; a forward calls only its own fields (\`${root.name}(...)\`) and reads their weights (\`${path}.<weight>\`)` : describeValue(cur);
      this.report("SPK414", sc.uri, e.span, `\`${path}\` is ${what}; \`.\` reads a field's weight`);
    }
    return UNKNOWN;
  }

  /** The source text at `span` for a message, on one line and cut in the middle when long. */
  private sourceExcerpt(uri: string, span: Span): string {
    const text = (this.program.files.get(uri)?.text.slice(span.start, span.end) ?? "").replace(/\s+/g, " ");
    return text.length <= 60 ? text : `${text.slice(0, 28)} … ${text.slice(-28)}`;
  }

  // ------------------------------------------------------------------ neurons

  private amplitude(name: string, init: Expr, sc: Scope, span: Span): Value {
    const step = sc.step!;
    const existing = step.amplitudeNodes.get(name);
    const type: TensorType = { elem: "f32", timed: false, shape: [], values: REAL };
    if (existing !== undefined) return { kind: "tensor", node: existing, type };
    if (step.amplitudeNodes.has(`calibrating:${name}`)) {
      this.report("SPK405", sc.uri, span, `amplitude \`${name}\` is read inside its own initialiser`);
      return UNKNOWN;
    }
    step.amplitudeNodes.set(`calibrating:${name}`, -1);
    const initValue = this.asTensor(this.evalExpr(init, sc), init.span, sc);
    if (!initValue) return UNKNOWN;
    if (initValue.type.shape.length !== 0) {
      this.report("SPK303", sc.uri, init.span, `an amplitude is one number per step, but its initialiser has shape ${shapeStr(initValue.type.shape)}; reduce it, e.g. with mean(...)`);
      return UNKNOWN;
    }
    const path = this.join(step.instancePath, name);
    const node = step.lower.b.add("amplitude", [initValue.node], type, { name, path }, { uri: sc.uri, span });
    step.amplitudeNodes.set(name, node);
    if (this.options.concrete) {
      const T = dimValue(this.options.timeDim)!;
      this.params.push({ path, kind: "amplitude", shape: [T], init: { kind: "zeros" }, origin: { uri: sc.uri, span } });
    }
    return { kind: "tensor", node, type };
  }

  private callInstance(inst: InstanceValue, args: TensorValue[], spans: Span[], span: Span, sc: Scope): Value {
    return inst.ctor.decl.kind === "Neuron" ? this.callNeuron(inst, args, spans, span, sc) : this.callModule(inst, args, spans, span, sc);
  }

  callNeuron(inst: InstanceValue, args: TensorValue[], spans: Span[], span: Span, sc: Scope): Value {
    const decl = inst.ctor.decl as NeuronDecl;
    const uri = inst.ctor.uri;
    const stepDecl = decl.members.find((m) => m.kind === "Step");
    if (!stepDecl || stepDecl.kind !== "Step") {
      this.report("SPK401", uri, decl.name.span, `neuron \`${decl.name.name}\` has no \`step(...)\``);
      return UNKNOWN;
    }
    if (args.length !== stepDecl.params.length) {
      this.report(args.length > stepDecl.params.length ? "SPK212" : "SPK210", sc.uri, span, `neuron \`${decl.name.name}\` steps on ${stepDecl.params.length} input${stepDecl.params.length === 1 ? "" : "s"}, found ${args.length}`);
      return UNKNOWN;
    }
    for (let i = 0; i < args.length; i++) {
      if (!args[i]!.type.timed) {
        this.report("SPK308", sc.uri, spans[i]!, `neuron \`${decl.name.name}\` runs over time steps and needs an input with a time axis [${this.timeName}, ...]; found ${typeToString(args[i]!.type, this.timeName)} (use over_time(x, ${this.timeName}))`);
        return UNKNOWN;
      }
    }
    const step = this.stepGraph(inst, decl, uri, args.map((a) => ({ ...a.type, timed: false })));
    if (!step) return UNKNOWN;
    const outer = sc.lower!;
    const emitNode = step.graph.nodes.find((n) => n.id === step.graph.emit.value)!;
    const origin = { uri: sc.uri, span };
    const perStep = emitNode.type;
    const nType: TensorType = { ...perStep, timed: true };
    const neuron = outer.b.add("neuron", args.map((a) => a.node), nType, { path: inst.path, neuron: decl.name.name, body: step.graph }, origin);
    const value = outer.b.add("neuron_out", [neuron], nType, { field: "value" }, origin);
    const result: TensorValue = { kind: "tensor", node: value, type: nType };
    if (step.graph.emit.levels === undefined) return result;
    const lvType: TensorType = { ...nType, values: perStep.values.kind === "scaled" ? levels(perStep.values.levels) : perStep.values };
    const lv = outer.b.add("neuron_out", [neuron], lvType, { field: "levels" }, origin);
    if (step.graph.emit.scale === undefined) return { kind: "tensor", node: lv, type: lvType };
    const scType: TensorType = { elem: "f32", timed: true, shape: [], values: REAL };
    const scale = outer.b.add("neuron_out", [neuron], scType, { field: "scale" }, origin);
    return { ...result, levels: lv, scale };
  }

  private stepGraph(inst: InstanceValue, decl: NeuronDecl, uri: string, inputTypes: TensorType[]): { graph: StepGraph } | undefined {
    const b = new GraphBuilder(this.nextId);
    const lower = new Lowering(b, this.reporterFor(uri), uri, this.timeName);
    const vars = new Map<string, Value>(inst.ctor.args);
    copyDefs(inst.ctor.args as Map<string, Value>, vars);
    const stepCtx: StepCtx = { instancePath: inst.path, decl, lower, amplitudeNodes: new Map(), stateNames: new Set() };
    const sc: Scope = { uri, vars, lower, step: stepCtx, path: inst.path };
    const stepDecl = decl.members.find((m) => m.kind === "Step")!;
    if (stepDecl.kind !== "Step") return undefined;
    const inputs: number[] = [];
    let stateShape: readonly Dim[] = [];
    stepDecl.params.forEach((p, i) => {
      const t = inputTypes[i]!;
      const node = b.add("step_input", [], t, { index: i, name: p.name.name }, { uri, span: p.span });
      inputs.push(node);
      vars.set(p.name.name, { kind: "tensor", node, type: t });
      define(vars, p.name.name, uri, p.name.span);
      stateShape = t.shape.length > stateShape.length ? t.shape : stateShape;
    });
    vars.set("t", { kind: "tensor", node: b.add("step_index", [], { elem: "f32", timed: false, shape: [], values: { kind: "int" } }, {}, { uri, span: stepDecl.span }), type: { elem: "f32", timed: false, shape: [], values: { kind: "int" } } });
    const states: { name: string; init: number; read: number }[] = [];
    for (const m of decl.members) {
      if (m.kind === "Amplitude") {
        if (m.axis.name !== this.timeName && m.axis.name !== "T") this.report("SPK410", uri, m.axis.span, `an amplitude has one value per time step: declare it as \`${m.name.name}[${this.timeName}]\``);
      }
      if (m.kind !== "State") continue;
      const init = this.evalConst(m.init, sc);
      if (init.kind !== "num" || (this.options.concrete && init.value === undefined)) {
        if (init.kind !== "unknown") this.report("SPK406", uri, m.init.span, `a state starts from a constant number, found ${describeValue(init)}`);
        return undefined;
      }
      const type: TensorType = { elem: "f32", timed: false, shape: stateShape, values: REAL };
      const read = b.add("state_read", [], type, { name: m.name.name, init: Math.fround(init.value ?? 0) }, { uri, span: m.span });
      vars.set(m.name.name, { kind: "tensor", node: read, type });
      define(vars, m.name.name, uri, m.name.span);
      stepCtx.stateNames.add(m.name.name);
      states.push({ name: m.name.name, init: Math.fround(init.value ?? 0), read });
    }
    const emitted = this.runBlock(stepDecl.body, sc, "step");
    if (!emitted) {
      this.report("SPK402", uri, stepDecl.span, `the step of \`${decl.name.name}\` must end with \`emit <spikes>\``);
      return undefined;
    }
    if (emitted.kind !== "tensor") return undefined;
    const stateSpecs: StateSpec[] = states.map((s) => {
      const cur = vars.get(s.name);
      return { ...s, write: cur && cur.kind === "tensor" ? cur.node : s.read };
    });
    const vs = emitted.type.values;
    const emit = vs.kind === "scaled" ? { value: emitted.node, levels: emitted.levels, scale: emitted.scale } : vs.kind === "levels" ? { value: emitted.node, levels: emitted.node } : { value: emitted.node };
    return { graph: { nodes: b.nodes, inputs, states: stateSpecs, emit } };
  }

  // ------------------------------------------------------------------ bodies

  /** Runs statements; returns the emitted/returned value, or undefined if the body never ends. */
  private runBlock(block: Block, sc: Scope, kind: "step" | "forward"): Value | undefined {
    let result: Value | undefined;
    for (const s of block.stmts) {
      if (result) {
        this.report("SPK403", sc.uri, s.span, `nothing can follow \`${kind === "step" ? "emit" : "return"}\``);
        break;
      }
      switch (s.kind) {
        case "Let":
          if (s.name.name) {
            sc.vars.set(s.name.name, this.evalExpr(s.value, sc));
            define(sc.vars, s.name.name, sc.uri, s.name.span);
          }
          break;
        case "Assign": {
          if (s.members) {
            this.evalExpr(s.value, sc);
            if (!s.target.name || s.members.some((m) => !m.name)) break; // the parser reported the missing name
            const owner = this.lookup(s.target.name, sc, s.target.span);
            if (!owner) {
              this.unknownName(s.target.name, s.target.span, sc);
              break;
            }
            const path = memberPath([s.target, ...s.members].map((m) => m.name));
            const at = { start: s.target.span.start, end: s.members[s.members.length - 1]!.span.end };
            const last = s.members[s.members.length - 1]!.name;
            const why = owner.kind === "instance" || owner.kind === "stack"
              ? `\`${path}\` belongs to the field \`${s.target.name}\` and is read-only here: a forward reads a field's weights but never assigns them`
              : `\`${path}\` cannot be assigned: \`${s.target.name}\` is ${describeValue(owner)}, not a field, and only a local name can be assigned`;
            this.report("SPK415", sc.uri, at, `${why} (bind a local instead: \`let ${last} = ...\`)`);
            break;
          }
          const name = s.target.name;
          this.lookup(name, sc, s.target.span);
          const isState = sc.step?.stateNames.has(name);
          const isLocal = sc.vars.has(name) && sc.vars.get(name)!.kind === "tensor" && !sc.step?.stateNames.has(name);
          const v = this.evalExpr(s.value, sc);
          if (!isState && !isLocal) {
            this.report("SPK404", sc.uri, s.target.span, sc.step ? `\`${name}\` is not a state of this neuron; declare it with \`state ${name} = 0\` or bind a local with \`let\`` : `\`${name}\` is not a local; bind it first with \`let ${name} = ...\``);
            break;
          }
          // The state's current value may be unknown after an earlier error: compare tensors only.
          const prev = sc.vars.get(name);
          if (isState && v.kind === "tensor" && prev?.kind === "tensor") {
            if (v.type.shape.length > prev.type.shape.length) {
              this.report("SPK301", sc.uri, s.value.span, `state \`${name}\` has shape ${shapeStr(prev.type.shape)} but is assigned ${shapeStr(v.type.shape)}`);
              break;
            }
          }
          sc.vars.set(name, v);
          break;
        }
        case "Emit":
          if (kind !== "step") {
            this.report("SPK411", sc.uri, s.span, "`emit` belongs in a neuron's step; a forward ends with `return`");
            return UNKNOWN;
          }
          result = this.evalExpr(s.value, sc);
          break;
        case "Return":
          if (kind !== "forward") {
            this.report("SPK411", sc.uri, s.span, "a neuron's step ends with `emit`, not `return`");
            return UNKNOWN;
          }
          result = this.evalExpr(s.value, sc);
          break;
      }
    }
    return result;
  }

  /** Pattern dims of a forward signature; names not bound in `sc` become symbols in `free`. */
  private typePattern(t: TypeExpr, sc: Scope, free: Map<string, DimSymbol>, flexible: boolean): { timed: boolean; ellipsis: boolean; dims: Dim[]; elem?: "f32" | "i32" } | undefined {
    const dims: Dim[] = [];
    let timed = false;
    let ellipsis = false;
    t.dims.forEach((d, i) => {
      if (d.kind === "Ellipsis") {
        if (i !== 0) this.report("SPK303", sc.uri, d.span, "`...` may only stand first in a shape");
        ellipsis = true;
        return;
      }
      if (i === 0 && d.kind === "Name" && d.name === this.timeName) {
        timed = true;
        return;
      }
      const dim = this.evalDim(d, sc, free, flexible);
      dims.push(dim ?? symDim(freshSymbol("?", true)));
    });
    return { timed, ellipsis, dims, elem: t.dtype === "int" ? "i32" : t.dtype === "f32" ? "f32" : undefined };
  }

  private patternString(p: { timed: boolean; ellipsis: boolean; dims: Dim[] }): string {
    const parts = p.dims.map(dimToString);
    if (p.ellipsis) parts.unshift("...");
    if (p.timed) parts.unshift(this.timeName);
    return `[${parts.join(", ")}]`;
  }

  /** Matches a tensor against a declared type; binds flexible symbols; returns a message on mismatch. */
  private matchType(pattern: { timed: boolean; ellipsis: boolean; dims: Dim[]; elem?: "f32" | "i32" }, t: TensorType, subst: Map<number, Dim>): string | undefined {
    const got = typeToString(t, this.timeName);
    if (pattern.elem && pattern.elem !== t.elem) return `expects ${pattern.elem === "i32" ? "int" : "f32"}${this.patternString(pattern)}, found ${got}`;
    if (pattern.timed && !t.timed) return `expects a time axis ${this.patternString(pattern)}, found ${got} (use over_time(x, ${this.timeName}))`;
    if (!pattern.timed && !pattern.ellipsis && t.timed) return `expects ${this.patternString(pattern)} without a time axis, found ${got}`;
    const shape = t.shape;
    if (pattern.ellipsis ? shape.length < pattern.dims.length : shape.length !== pattern.dims.length)
      return `expects ${this.patternString(pattern)}, found ${got} (${shape.length} axes${t.timed ? " after time" : ""})`;
    const tail = shape.slice(shape.length - pattern.dims.length);
    for (let i = 0; i < pattern.dims.length; i++) {
      if (!unifyDim(pattern.dims[i]!, tail[i]!, subst)) return `expects ${this.patternString({ ...pattern, dims: resolveShape(pattern.dims, subst) })}, found ${got}`;
    }
    return undefined;
  }

  callModule(inst: InstanceValue, args: TensorValue[], spans: Span[], span: Span, sc: Scope): Value {
    if (this.calling.includes(inst.ctor.decl)) return UNKNOWN; // reported as SPK413 where it was instantiated
    // Calls nest like instances do (a forward calling a layer calling a layer ...): same bound.
    if (this.calling.length >= MAX_INSTANCE_DEPTH) {
      this.report("SPK505", sc.uri, span, `this call would run ${this.calling.length + 1} forwards deep (layers calling layers), more than the limit of ${MAX_INSTANCE_DEPTH} (MAX_INSTANCE_DEPTH)`);
      return UNKNOWN;
    }
    const env = this.moduleEnv(inst);
    if (!env || !env.forward) return UNKNOWN;
    this.calling.push(inst.ctor.decl);
    try {
      return this.callModuleBody(inst, env, env.forward, args, spans, span, sc);
    } finally {
      this.calling.pop();
    }
  }

  private callModuleBody(inst: InstanceValue, env: ModuleEnv, fwd: ForwardDecl, args: TensorValue[], spans: Span[], span: Span, sc: Scope): Value {
    const name = env.decl.name.name;
    if (args.length !== fwd.params.length) {
      this.report(args.length > fwd.params.length ? "SPK212" : "SPK210", sc.uri, span, `\`${name}\` takes ${fwd.params.length} input${fwd.params.length === 1 ? "" : "s"} (${fwd.params.map((p) => p.name.name).join(", ")}), found ${args.length}`);
      return UNKNOWN;
    }
    const bodyVars = new Map<string, Value>();
    const lower = sc.lower?.forFile(env.uri, this.reporterFor(env.uri));
    const body: Scope = { uri: env.uri, vars: bodyVars, parent: { uri: env.uri, vars: env.vars, path: inst.path }, lower, path: inst.path };
    // Free shape names are shared by all inputs and the result type of one forward.
    const free = new Map<string, DimSymbol>();
    const subst = new Map<number, Dim>();
    for (let i = 0; i < args.length; i++) {
      const p = fwd.params[i]!;
      if (p.type) {
        const pattern = this.typePattern(p.type, body, free, true);
        const problem = pattern && this.matchType(pattern, args[i]!.type, subst);
        if (problem) {
          this.report("SPK305", sc.uri, spans[i]!, `input \`${p.name.name}\` of \`${name}\` ${problem}`, {
            related: [{ uri: env.uri, span: p.type.span, message: `\`${p.name.name}\` is declared here` }],
          });
          return UNKNOWN;
        }
      }
      bodyVars.set(p.name.name, args[i]!);
      define(bodyVars, p.name.name, env.uri, p.name.span);
    }
    for (const [n, s] of free) {
      bodyVars.set(n, symNum(resolveShape([symDim(s)], subst)[0]!));
      const def = defsOf(free).get(n);
      if (def) define(bodyVars, n, def.uri, def.span);
    }
    const result = this.runBlock(fwd.body, body, "forward");
    if (!result) {
      this.report("SPK408", env.uri, fwd.span, `the forward of \`${name}\` must end with \`return <tensor>\``);
      return UNKNOWN;
    }
    if (result.kind === "tensor" && this.options.concrete && inst.path !== "") this.layerOutputs.push({ path: inst.path, node: result.node });
    if (fwd.result && result.kind === "tensor") {
      const pattern = this.typePattern(fwd.result, body, free, true);
      const problem = pattern && this.matchType(pattern, result.type, subst);
      if (problem) {
        const ret = fwd.body.stmts[fwd.body.stmts.length - 1];
        this.report("SPK304", env.uri, ret?.span ?? fwd.span, `\`${name}\` declares that it returns ${this.patternString(pattern!)}, but this ${problem.replace(/^expects .*?, found/, "is")}`, {
          related: [{ uri: env.uri, span: fwd.result.span, message: "declared result type" }],
        });
      }
    }
    return result;
  }

  // ------------------------------------------------------------------ entry points

  /** Checks a layer, model or neuron on its own, with symbolic arguments and shapes. */
  checkDecl(decl: Decl, uri: string): void {
    this.bounded(decl, uri, () => this.checkDeclUnbounded(decl, uri));
  }

  /**
   * Runs one elaboration within the step budget; crossing it is reported at the declaration
   * being checked or run (the place the budget ran out is deep inside some callee, related).
   */
  private bounded<R>(decl: Decl, uri: string, body: () => R): R | undefined {
    if (this.steps >= this.maxSteps) return undefined; // spent on an earlier declaration, which reported it
    try {
      return body();
    } catch (e) {
      const overflow = e instanceof RangeError && /call stack/i.test(e.message);
      if (!(e instanceof ElaborationLimit) && !overflow) throw e;
      // Unwound mid-way: forget the half-built instances so the next declaration starts clean.
      this.instantiating.length = 0;
      this.calling.length = 0;
      this.modules.clear();
      if (overflow) {
        // The nesting bounds keep each kind of depth small; only their product can get here.
        this.report("SPK005", uri, decl.name.span, `\`${decl.name.name}\` nests too deeply to elaborate (constants defined by constants, layers within layers, deep expressions); flatten some levels`);
        return undefined;
      }
      const limit = this.options.concrete ? "MAX_ELABORATION_STEPS" : "MAX_CHECK_STEPS";
      this.report(
        "SPK505",
        uri,
        decl.name.span,
        `${this.options.concrete ? "elaborating" : "checking"} \`${decl.name.name}\` takes more than ${this.maxSteps.toLocaleString("en-US")} steps, the limit (${limit}): its layers create or call each other too many times`,
        { related: [{ uri: (e as ElaborationLimit).uri, span: (e as ElaborationLimit).span, message: "elaboration stopped here" }] },
      );
      return undefined;
    }
  }

  private checkDeclUnbounded(decl: Decl, uri: string): void {
    if (decl.kind === "Const") {
      this.declValue(decl, uri);
      return;
    }
    const args = this.genericArgs(decl, uri);
    this.modules.clear();
    const inst = this.instantiate({ kind: "ctor", decl, uri, args }, "");
    const b = new GraphBuilder(this.nextId);
    const lower = new Lowering(b, this.reporterFor(uri), uri, this.timeName);
    const sc: Scope = { uri, vars: new Map(), lower, path: "" };
    if (decl.kind === "Neuron") {
      const step = decl.members.find((m) => m.kind === "Step");
      if (!step || step.kind !== "Step") {
        this.report("SPK401", uri, decl.name.span, `neuron \`${decl.name.name}\` has no \`step(...)\``);
        return;
      }
      const any = symDim(freshSymbol("...", false));
      const inputs = step.params.map((p) => lower.input(p.name.name, { elem: "f32", timed: true, shape: [any], values: REAL }, p.span));
      this.callNeuron(inst, inputs, step.params.map((p) => p.span), decl.name.span, sc);
      return;
    }
    const env = this.moduleEnv(inst);
    if (!env?.forward) return;
    const free = new Map<string, DimSymbol>();
    const inputs: TensorValue[] = [];
    const scope: Scope = { uri, vars: env.vars, path: inst.path };
    for (const p of env.forward.params) {
      if (!p.type) return; // untyped inputs are checked where the layer is used
      const pattern = this.typePattern(p.type, scope, free, false);
      if (!pattern) return;
      const dims = pattern.ellipsis ? [symDim(freshSymbol("...", false)), ...pattern.dims] : pattern.dims;
      inputs.push(lower.input(p.name.name, { elem: pattern.elem ?? "f32", timed: pattern.timed, shape: dims, values: REAL }, p.span));
    }
    this.callModule(inst, inputs, env.forward.params.map((p) => p.span), decl.name.span, sc);
  }

  /** Elaborates `decl` with concrete arguments and inputs into the given builder. */
  elaborateEntry(
    decl: NeuronDecl | ModuleDecl,
    uri: string,
    args: Map<string, Value>,
    inputs: readonly { name: string; type: TensorType }[],
    b: GraphBuilder,
  ): Value {
    return this.bounded(decl, uri, () => this.elaborateEntryUnbounded(decl, uri, args, inputs, b)) ?? UNKNOWN;
  }

  private elaborateEntryUnbounded(decl: NeuronDecl | ModuleDecl, uri: string, args: Map<string, Value>, inputs: readonly { name: string; type: TensorType }[], b: GraphBuilder): Value {
    const inst = this.instantiate({ kind: "ctor", decl, uri, args }, "");
    const lower = new Lowering(b, this.reporterFor(uri), uri, this.timeName);
    const sc: Scope = { uri, vars: new Map(), lower, path: "" };
    const tensors = inputs.map((i) => lower.input(i.name, i.type, decl.name.span));
    const spans = inputs.map(() => decl.name.span);
    return decl.kind === "Neuron" ? this.callNeuron(inst, tensors, spans, decl.name.span, sc) : this.callModule(inst, tensors, spans, decl.name.span, sc);
  }

  forwardParams(decl: ModuleDecl | NeuronDecl): readonly (TypedParam | Param)[] {
    if (decl.kind === "Neuron") {
      const s = decl.members.find((m) => m.kind === "Step");
      return s && s.kind === "Step" ? s.params : [];
    }
    const f = decl.members.find((m) => m.kind === "Forward");
    return f && f.kind === "Forward" ? f.params : [];
  }
}
