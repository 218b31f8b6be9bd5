/**
 * PyTorch export: a standalone Python module (torch only) with one `nn.Module` class per
 * neuron, layer and model the entry uses, written from the checked ASTs (not from the IR):
 *
 * - constructor parameters become `__init__` arguments (a neuron or layer argument such as
 *   `act = SpikeLMReference()` is passed as a zero-argument factory: each field `fire = act`
 *   makes a fresh instance, as in the spec); fields become submodules (`repeat n { ... }` an
 *   `nn.ModuleList`), weights `nn.Parameter`s, amplitudes per-step parameters; so
 *   `state_dict()` keys are spikelm's weight paths (`blocks.0.attn.q.W`, `...fire.alpha`);
 * - a neuron's `forward` loops over the time axis exactly as its `step` says; the gradient
 *   builtins the spec uses to say how spikes pass gradients (`surrogate`, `grad_scale`,
 *   `detach`) become autograd Functions (`Surrogate`, `GradScale`) and `.detach()`, so the
 *   module's gradients follow the same rules as spikelm's (the stdlib's reference neuron
 *   writes the reference code's straight-through window, detached reset and LSQ scale);
 *   amplitudes are calibrated on first use (`mean` inside an initialiser is spikelm's exact
 *   sequential float32 mean, so alphas and spikes are identical);
 * - layers' forwards are the spec's expressions on tensors that carry the time axis first.
 *   Where an expression's meaning depends on whether it has a time axis (axis numbers,
 *   indexing, broadcasting), the types the elaborator inferred for the entry decide; an
 *   expression used both ways with different ranks is rejected with its position.
 *
 * Anything the translation does not handle is an `UnsupportedError` naming the construct and
 * its `file:line:col`, never a silently different module.
 */
import * as path from "node:path";
import type { Arg, Block, Decl, Expr, ForwardDecl, ModuleDecl, NeuronDecl, Param, SliceItem, StepDecl, TypeExpr } from "../../grammar/ast.js";
import type { Span } from "../../grammar/source.js";
import { Elaborator } from "../../interpreter/checker/elaborate.js";
import type { Program } from "../../interpreter/checker/program.js";
import type { ArgValue } from "../../interpreter/compile.js";
import { compileEntry } from "../../interpreter/compile.js";
import type { Tensor } from "../../interpreter/engine/tensor.js";
import { type TensorType, isSpike } from "../../interpreter/types/tensor-type.js";
import { UnsupportedError, positionText } from "./common.js";
import { PY_RUNTIME } from "./pytorch-runtime.js";

export interface PytorchExportOptions {
  readonly file: string;
  readonly entry: string;
  readonly args?: Readonly<Record<string, ArgValue>>;
  /** Inputs (only their shapes and dtypes are used: they settle the types). */
  readonly inputs: ReadonlyMap<string, Pick<Tensor, "shape" | "dtype">>;
  readonly timesteps?: number;
  /** `reference`: state_dict keys in the authors' naming (a mapping table), where one applies. */
  readonly referenceNames?: { readonly rows: readonly (readonly [string, string])[]; readonly ignored?: readonly (readonly [string, string])[]; readonly name: string };
  /**
   * `state_dict()` keys: spikelm's weight paths (default) or, with `referenceNames`, the
   * authors'. The table is included either way, so `load_weights` reads both namings.
   */
  readonly naming?: "spec" | "reference";
}

export interface PytorchExport {
  readonly code: string;
  /** The entry's Python class. */
  readonly className: string;
  /** Forward argument names and their dtypes. */
  readonly inputs: readonly { name: string; dtype: "f32" | "i32"; timed: boolean }[];
  readonly timesteps: number;
}

interface TypeFacts {
  timed: boolean;
  rank: number;
  elem: "f32" | "i32";
  /** Spike levels ({-1,0,1}, {0,1}, ...: unscaled). */
  levels: boolean;
}

type Located = { readonly decl: Decl; readonly uri: string };

const PY_KEYWORDS = new Set(
  "False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield self torch nn math json struct array dim".split(
    " ",
  ),
);
const pyName = (n: string) => (PY_KEYWORDS.has(n) ? `${n}_` : n);

/** Collects, per expression span, the tensor types the concrete elaboration inferred. */
function typeFactsFor(opts: PytorchExportOptions): { facts: Map<string, TypeFacts[]>; T: number; program: Program; entry: ModuleDecl | NeuronDecl; uri: string } {
  const facts = new Map<string, TypeFacts[]>();
  const proto = Elaborator.prototype as unknown as { record: (uri: string, span: Span, v: { kind: string; type?: TensorType }) => void };
  const original = proto.record;
  proto.record = function (uri, span, v) {
    if (v.kind !== "tensor" || !v.type) return;
    const k = `${uri}:${span.start}:${span.end}`;
    const f = { timed: v.type.timed, rank: v.type.shape.length, elem: v.type.elem, levels: v.type.values.kind === "levels" && isSpike(v.type.values) };
    const list = facts.get(k) ?? [];
    if (!list.some((x) => x.timed === f.timed && x.rank === f.rank && x.elem === f.elem && x.levels === f.levels)) list.push(f);
    facts.set(k, list);
  };
  try {
    const c = compileEntry({ file: opts.file, entry: opts.entry, args: opts.args, inputs: opts.inputs, timesteps: opts.timesteps });
    return { facts, T: c.graph.timesteps, program: c.program, entry: c.entry, uri: c.uri };
  } finally {
    proto.record = original;
  }
}

interface Ctx {
  readonly uri: string;
  readonly decl: NeuronDecl | ModuleDecl;
  readonly kind: "init" | "forward" | "step";
  /** Python locals (let bindings, forward/step parameters, bound shape names, states). */
  readonly locals: Map<string, string>;
  /** Inside an amplitude's initialiser (calibration: means are spikelm's exact float32 sums). */
  readonly calibrating?: boolean;
}

const BUILTIN_CALLS = new Set([
  "abs", "round", "sign", "heaviside", "exp", "log", "sqrt", "tanh", "relu", "gelu", "erf", "clamp", "sum", "mean", "max", "softmax", "layernorm", "transpose",
  "reshape", "split_heads", "merge_heads", "causal_mask", "positions", "gather", "over_time", "mean_time", "at_least", "detach", "surrogate", "grad_scale", "numel",
]);

class PytorchExporter {
  private readonly classes = new Map<Decl, string>();
  private readonly order: Located[] = [];
  private readonly consts = new Map<Decl, string>();
  private readonly constOrder: { name: string; code: string }[] = [];
  private facts!: Map<string, TypeFacts[]>;
  private program!: Program;

  constructor(private readonly opts: PytorchExportOptions) {}

  export(): PytorchExport {
    const tf = typeFactsFor(this.opts);
    this.facts = tf.facts;
    this.program = tf.program;
    const entryClass = this.classFor({ decl: tf.entry, uri: tf.uri });
    const bodies: string[] = [];
    // classes are generated as discovered; emitting each may discover more
    for (let i = 0; i < this.order.length; i++) bodies.push(this.classCode(this.order[i]!));
    const fwd = tf.entry.kind === "Neuron" ? stepOf(tf.entry)?.params ?? [] : forwardOf(tf.entry)?.params ?? [];
    const inputs = fwd.map((p) => {
      const ty = p.type;
      const timed = tf.entry.kind === "Neuron" || (ty?.dims[0]?.kind === "Name" && ty.dims[0].name === "T");
      return { name: p.name.name, dtype: (ty?.dtype === "int" ? "i32" : "f32") as "f32" | "i32", timed };
    });
    const header = [
      `"""${tf.entry.name.name} from ${path.basename(this.opts.file)}, exported by spikelm (\`spikelm export --to pytorch\`).`,
      "",
      "Standalone: needs only torch. One nn.Module per spec neuron, layer and model; state_dict keys",
      "are spikelm's weight paths, so `spikelm run --weights` reads what save_safetensors writes.",
      `Entry: ${entryClass}(${Object.entries(this.opts.args ?? {}).map(([k, v]) => `${k}=${pyValue(v)}`).join(", ")}); inputs: ${inputs.map((i) => `${i.name} (${i.timed ? "[T, ...] " : ""}${i.dtype === "i32" ? "int" : "float32"})`).join(", ")}.`,
      '"""',
    ].join("\n");
    const config = [
      "# Number of time steps (the amplitudes have one value per step).",
      `TIMESTEPS = ${tf.T}`,
      "# Train the amplitudes with the LSQ rule (the reference freezes them).",
      "TRAIN_AMPLITUDES = False",
    ].join("\n");
    const consts = this.constOrder.map((c) => `${c.name} = ${c.code}`).join("\n");
    const entryArgs = Object.entries(this.opts.args ?? {}).map(([k, v]) => `${pyName(k)}=${pyValue(v)}`);
    const footer = [
      "",
      "ENTRY = " + entryClass,
      `ENTRY_ARGS = dict(${entryArgs.join(", ")})`,
      `INPUTS = ${JSON.stringify(inputs.map((i) => i.name))}`,
      "",
      "",
      "def build():",
      `    """The exported entry with the arguments it was exported with."""`,
      "    model = ENTRY(**ENTRY_ARGS)",
      "    model.register_forward_pre_hook(_remember_device)",
      "    if STATE_DICT_NAMING == \"reference\":",
      "        _use_reference_names(model)",
      "    return model",
      "",
      "",
      `# state_dict() keys: "spec" (spikelm's weight paths) or "reference" (the authors' names)`,
      `STATE_DICT_NAMING = ${JSON.stringify(this.opts.referenceNames && this.opts.naming !== "spec" ? "reference" : "spec")}`,
      this.referenceNamesCode(),
      "",
      "",
      "def load_weights(model, state):",
      `    """Loads a state dict (e.g. load_safetensors(path)) in either naming: spikelm's weight`,
      "    paths or, where the model follows the reference code, the authors' names. Amplitudes",
      `    not given are calibrated by the first call. Returns (missing, unexpected) keys."""`,
      "    state = dict(state)",
      "    if not set(model.state_dict()) & set(state):",
      "        state = reference_names(state) if STATE_DICT_NAMING == \"reference\" else spec_names(state)",
      "    return model.load_state_dict(state, strict=False)",
    ].join("\n");
    const code = [header, PY_RUNTIME.trim(), config, consts, ...bodies, footer].filter((s) => s.length > 0).join("\n\n\n") + "\n";
    return { code, className: entryClass, inputs, timesteps: tf.T };
  }

  private referenceNamesCode(): string {
    const ref = this.opts.referenceNames;
    if (!ref) return "\n\ndef reference_names(state):\n    return dict(state)\n\n\ndef spec_names(state):\n    return dict(state)\n";
    const rows = ref.rows.map(([r, s]) => `    (${JSON.stringify(r)}, ${JSON.stringify(s)}),`).join("\n");
    return `

# The authors' state_dict naming (${ref.name}): (reference name pattern, spec path pattern);
# {i} is a layer index, {t} a time step (one 0-d scalar per step on their side).
REFERENCE_NAMES = [
${rows}
]

# Their tensors that this model does not use (dropped when loading), with the reason.
REFERENCE_IGNORED = [
${(ref.ignored ?? []).map(([r, why]) => `    (${JSON.stringify(r)}, ${JSON.stringify(why)}),`).join("\n")}
]


def _pattern(p):
    import re
    return re.compile("^" + re.escape(p).replace(r"\\{i\\}", r"(?P<i>\\d+)").replace(r"\\{t\\}", r"(?P<t>\\d+)").replace(r"\\{\\*\\}", r".*") + "$")


def reference_names(state):
    """spikelm paths -> the authors' names (amplitudes split into one scalar per step)."""
    out = {}
    for k, v in state.items():
        for ref, spec in REFERENCE_NAMES:
            m = _pattern(spec.replace(".{t}", "")).match(k) if "{t}" in ref else _pattern(spec).match(k)
            if m:
                i = m.groupdict().get("i")
                name = ref.replace("{i}", i) if i is not None else ref
                if "{t}" in ref:
                    for t in range(v.shape[0]):
                        out[name.replace("{t}", str(t))] = v[t].clone()
                else:
                    out[name] = v
                break
        else:
            out[k] = v
    return out


def spec_names(state):
    """The authors' names -> spikelm paths (per-step scalars gathered into one [T] tensor;
    amplitudes still at their initial 1.0 are left out, to be calibrated)."""
    out, steps = {}, {}
    for k, v in state.items():
        if any(_pattern(p).match(k) for p, _ in REFERENCE_IGNORED):
            continue
        for ref, spec in REFERENCE_NAMES:
            m = _pattern(ref).match(k)
            if m:
                g = m.groupdict()
                name = spec.replace("{i}", g["i"]) if "i" in g else spec
                if "t" in g:
                    steps.setdefault(name, {})[int(g["t"])] = v
                else:
                    out[name] = v
                break
        else:
            out[k] = v
    for name, per in steps.items():
        alpha = torch.stack([torch.as_tensor(per[t]).reshape(()) for t in sorted(per)])
        # all exactly 1.0: the reference's initial value, never calibrated; left out so the
        # first call calibrates it, as the reference (and spikelm's loader) would
        if not bool((alpha == 1.0).all()):
            out[name] = alpha
    return out


def _use_reference_names(module):
    """state_dict() and load_state_dict() of the entry speak the authors' naming."""
    module._register_state_dict_hook(lambda m, state, prefix, local: _rename_in_place(state, reference_names))
    module._register_load_state_dict_pre_hook(lambda state, prefix, *a: _rename_in_place(state, spec_names))


def _rename_in_place(state, fn):
    renamed = fn(dict(state))
    state.clear()
    state.update(renamed)
    return state
`;
  }

  // ------------------------------------------------------------------ declarations

  private resolve(name: string, uri: string): Located | undefined {
    const e = this.program.scope(uri).get(name);
    return e ? { decl: e.decl, uri: e.uri } : undefined;
  }

  private classFor(loc: Located): string {
    const hit = this.classes.get(loc.decl);
    if (hit) return hit;
    let name = loc.decl.name.name;
    const taken = new Set(this.classes.values());
    for (let i = 2; taken.has(name) || PY_KEYWORDS.has(name); i++) name = `${loc.decl.name.name}_${i}`;
    this.classes.set(loc.decl, name);
    this.order.push(loc);
    return name;
  }

  private constFor(loc: Located): string {
    const hit = this.consts.get(loc.decl);
    if (hit) return hit;
    const d = loc.decl;
    if (d.kind !== "Const") throw new Error("internal: not a const");
    const name = pyName(d.name.name);
    this.consts.set(d, name);
    const ctx: Ctx = { uri: loc.uri, decl: undefined as unknown as ModuleDecl, kind: "init", locals: new Map() };
    this.constOrder.push({ name, code: this.expr(d.value, ctx) });
    return name;
  }

  private fail(what: string, uri: string, span: Span): never {
    throw new UnsupportedError(what, { uri, span }, this.program, "PyTorch");
  }

  private classCode(loc: Located): string {
    const decl = loc.decl as NeuronDecl | ModuleDecl;
    const cls = this.classes.get(decl)!;
    const base = decl.kind === "Neuron" ? "SpikingNeuron" : "nn.Module";
    const lines: string[] = [`# ${decl.kind.toLowerCase()} ${decl.name.name}, ${positionText(loc.uri, decl.name.span.start, this.program)}`, `class ${cls}(${base}):`];
    if (decl.doc) lines.push(`    """${decl.doc.replace(/"""/g, "'''").replace(/\n/g, "\n    ")}"""`, "");
    lines.push(...this.initCode(decl, loc.uri).map((l) => `    ${l}`), "");
    const body = decl.kind === "Neuron" ? this.neuronForward(decl, loc.uri) : this.moduleForward(decl, loc.uri);
    lines.push(...body.map((l) => (l ? `    ${l}` : "")));
    return lines.join("\n");
  }

  private initCode(decl: NeuronDecl | ModuleDecl, uri: string): string[] {
    const ctx: Ctx = { uri, decl, kind: "init", locals: new Map() };
    const sig = decl.params.map((p) => {
      const d = p.default;
      if (!d) return pyName(p.name.name);
      if (d.kind === "Number") return `${pyName(p.name.name)}=${d.text}`;
      if (d.kind === "Bool") return `${pyName(p.name.name)}=${d.value ? "True" : "False"}`;
      if (d.kind === "Unary" && d.operand.kind === "Number") return `${pyName(p.name.name)}=-${d.operand.text}`;
      return `${pyName(p.name.name)}=None`;
    });
    const out = [`def __init__(self${sig.map((s) => `, ${s}`).join("")}):`, "    super().__init__()"];
    for (const p of decl.params) {
      const n = pyName(p.name.name);
      ctx.locals.set(p.name.name, n);
      const d = p.default;
      if (d && !(d.kind === "Number" || d.kind === "Bool" || (d.kind === "Unary" && d.operand.kind === "Number")))
        out.push(`    if ${n} is None:`, `        ${n} = ${this.ctorArg(d, ctx)}`);
      out.push(`    self.${n} = ${n}`);
    }
    if (decl.kind === "Neuron") {
      for (const m of decl.members) if (m.kind === "Amplitude") out.push(`    self.add_amplitude(${JSON.stringify(m.name.name)})`);
      return out;
    }
    for (const m of decl.members) {
      if (m.kind === "Timesteps") out.push(`    self.${pyName(m.name.name)} = ${this.expr(m.value, ctx)}`);
      else if (m.kind === "Field") out.push(`    self.${pyName(m.name.name)} = ${this.fieldValue(m.value, ctx)}`);
      else if (m.kind === "Weight") out.push(`    self.${pyName(m.name.name)} = ${this.weightInit(m.type, m.init, ctx)}`);
    }
    return out;
  }

  /** An argument to a constructor: a neuron/layer constructor becomes a factory. */
  private ctorArg(e: Expr, ctx: Ctx): string {
    if (e.kind === "Call" && e.callee.kind === "Name") {
      const loc = this.lookupDecl(e.callee.name, ctx);
      if (loc && loc.decl.kind !== "Const") return `lambda: ${this.expr(e, ctx)}`;
    }
    return this.expr(e, ctx);
  }

  private lookupDecl(name: string, ctx: Ctx): Located | undefined {
    if (ctx.locals.has(name)) return undefined;
    return this.resolve(name, ctx.uri);
  }

  private fieldValue(e: Expr, ctx: Ctx): string {
    if (e.kind === "Repeat") return `nn.ModuleList([${this.fieldValue(e.body, ctx)} for _ in range(dim(${this.expr(e.count, ctx)}))])`;
    if (e.kind === "Name" && ctx.locals.has(e.name) && ctx.decl.params.some((p) => p.name.name === e.name && isCtorParam(p))) return `${ctx.locals.get(e.name)}()`;
    if (e.kind === "Name" && ctx.locals.has(e.name)) {
      // a constructor parameter holding a neuron or layer: each field makes a fresh instance
      return `(${ctx.locals.get(e.name)}() if callable(${ctx.locals.get(e.name)}) else ${ctx.locals.get(e.name)})`;
    }
    return this.expr(e, ctx);
  }

  private weightInit(type: TypeExpr, init: Expr | undefined, ctx: Ctx): string {
    const shape = `[${type.dims.map((d) => (d.kind === "Ellipsis" ? this.fail("`...` in a weight's shape", ctx.uri, d.span) : dimCode(this.expr(d, ctx)))).join(", ")}]`;
    if (!init) return `init_uniform(${shape})`;
    if (init.kind === "Number" || (init.kind === "Unary" && init.operand.kind === "Number")) return `init_fill(${shape}, ${this.expr(init, ctx)})`;
    if (init.kind === "Name" && (init.name === "zeros" || init.name === "ones")) return `init_fill(${shape}, ${init.name === "zeros" ? "0.0" : "1.0"})`;
    if (init.kind === "Call" && init.callee.kind === "Name") {
      const a = init.args.map((x) => this.expr(x.value, ctx));
      if (init.callee.name === "normal") return `init_normal(${shape}, ${a[0]})`;
      if (init.callee.name === "uniform") return `init_uniform(${shape}, ${a[0]})`;
      if (init.callee.name === "fill") return `init_fill(${shape}, ${a[0]})`;
    }
    return this.fail("this weight initialiser", ctx.uri, init.span);
  }

  // ------------------------------------------------------------------ forwards

  private bindShapeNames(params: readonly { name: { name: string }; type?: TypeExpr }[], ctx: Ctx, out: string[], body: Block): void {
    const used = namesUsed(body);
    for (const p of params) {
      const dims = p.type?.dims ?? [];
      const ell = dims.findIndex((d) => d.kind === "Ellipsis");
      dims.forEach((d, i) => {
        if (d.kind !== "Name" || d.name === "T" || ctx.locals.has(d.name) || !used.has(d.name)) return;
        if (ctx.decl.params.some((q) => q.name.name === d.name)) return;
        if (this.resolve(d.name, ctx.uri)) return;
        const idx = ell >= 0 && i > ell ? i - dims.length : i;
        const n = pyName(d.name);
        ctx.locals.set(d.name, n);
        out.push(`${n} = ${ctx.locals.get(p.name.name)}.shape[${idx}]`);
      });
    }
  }

  private moduleForward(decl: ModuleDecl, uri: string): string[] {
    const fwd = forwardOf(decl);
    if (!fwd) return this.fail(`\`${decl.name.name}\` without a forward`, uri, decl.name.span);
    const ctx: Ctx = { uri, decl, kind: "forward", locals: new Map() };
    const args = fwd.params.map((p) => {
      const n = pyName(p.name.name);
      ctx.locals.set(p.name.name, n);
      return n;
    });
    const out = [`def forward(self${args.map((a) => `, ${a}`).join("")}):`];
    const body: string[] = [];
    this.bindShapeNames(fwd.params, ctx, body, fwd.body);
    for (const s of fwd.body.stmts) {
      if (s.kind === "Let") {
        const n = pyName(s.name.name);
        body.push(`${n} = ${this.expr(s.value, ctx)}`);
        ctx.locals.set(s.name.name, n);
      } else if (s.kind === "Return") body.push(`return ${this.expr(s.value, ctx)}`);
      else this.fail(`\`${s.kind.toLowerCase()}\` in a forward`, uri, s.span);
    }
    return [...out, ...body.map((l) => `    ${l}`)];
  }

  private neuronForward(decl: NeuronDecl, uri: string): string[] {
    const step = stepOf(decl);
    if (!step) return this.fail(`\`${decl.name.name}\` without a step`, uri, decl.name.span);
    const ctx: Ctx = { uri, decl, kind: "step", locals: new Map() };
    for (const p of decl.params) ctx.locals.set(p.name.name, `self.${pyName(p.name.name)}`);
    const seqs = step.params.map((p) => `${pyName(p.name.name)}_seq`);
    const out = [`def forward(self${seqs.map((s) => `, ${s}`).join("")}):`];
    const body: string[] = [];
    const first = seqs[0]!;
    const states = decl.members.filter((m) => m.kind === "State");
    for (const s of states) body.push(`${pyName(s.name.name)} = torch.full_like(${first}[0], ${this.expr(s.init, ctx)})`);
    for (const s of states) ctx.locals.set(s.name.name, pyName(s.name.name));
    body.push("outputs, levels = [], []");
    body.push(`for t in range(${first}.shape[0]):`);
    const loop: string[] = [];
    step.params.forEach((p, i) => {
      const n = pyName(p.name.name);
      ctx.locals.set(p.name.name, n);
      loop.push(`${n} = ${seqs[i]}[t]`);
    });
    ctx.locals.set("t", "t");
    const stateNames = new Set(states.map((s) => s.name.name));
    for (const s of step.body.stmts) {
      if (s.kind === "Let") {
        const n = pyName(s.name.name);
        loop.push(`${n} = ${this.expr(s.value, ctx)}`);
        ctx.locals.set(s.name.name, n);
      } else if (s.kind === "Assign") {
        if (!stateNames.has(s.target.name)) this.fail(`assignment to \`${s.target.name}\``, uri, s.span);
        loop.push(`${pyName(s.target.name)} = ${this.expr(s.value, ctx)}`);
      } else if (s.kind === "Emit") {
        const e = s.value;
        const isLevels = (x: Expr) => this.factsAt(x.span, ctx).some((f) => f.levels);
        if (e.kind === "Binary" && e.op === "*" && e.right.kind !== "Name" && isLevels(e.right) && !isLevels(e)) {
          // emit a * <levels>: name the levels so they are recorded without recomputing them
          loop.push(`spikes = ${this.expr(e.right, ctx)}`);
          loop.push(`outputs.append(${wrapBin(this.floatOperand(e.left, ctx), e.left)} * spikes)`);
          loop.push("levels.append(spikes.detach())");
          continue;
        }
        loop.push(`outputs.append(${this.expr(e, ctx)})`);
        const lv = this.levelsOf(e, ctx);
        if (lv) loop.push(`levels.append(${lv})`);
      } else this.fail("`return` in a step", uri, s.span);
    }
    body.push(...loop.map((l) => `    ${l}`));
    body.push("self.keep(levels)", "return torch.stack(outputs)");
    return [...out, ...body.map((l) => `    ${l}`)];
  }

  /** The spike levels of what a step emits (for recording): the emit itself, or S in A * S. */
  private levelsOf(e: Expr, ctx: Ctx): string | undefined {
    const isLevels = (x: Expr) => this.factsAt(x.span, ctx).some((f) => f.levels);
    if (isLevels(e)) return `${wrap(this.expr(e, ctx))}.detach()`;
    if (e.kind === "Binary" && e.op === "*") {
      if (isLevels(e.right)) return `${wrap(this.expr(e.right, ctx))}.detach()`;
      if (isLevels(e.left)) return `${wrap(this.expr(e.left, ctx))}.detach()`;
    }
    return undefined;
  }

  // ------------------------------------------------------------------ expressions

  private factsAt(span: Span, ctx: Ctx): TypeFacts[] {
    return this.facts.get(`${ctx.uri}:${span.start}:${span.end}`) ?? [];
  }

  /** Whether the expression has a time axis here (undefined: never reached or both ways). */
  private timedAt(e: Expr, ctx: Ctx): { timed: boolean; rank: number } | "mixed" | undefined {
    if (ctx.kind !== "forward") return { timed: false, rank: this.factsAt(e.span, ctx)[0]?.rank ?? 0 };
    const f = this.factsAt(e.span, ctx);
    if (f.length === 0) return undefined;
    const timed = f[0]!.timed;
    const rank = f[0]!.rank;
    if (f.some((x) => x.timed !== timed || x.rank !== rank)) return f.every((x) => x.rank === rank) ? { timed: false, rank: -1 } : "mixed";
    return { timed, rank };
  }

  private isInt(e: Expr, ctx: Ctx): boolean {
    const f = this.factsAt(e.span, ctx);
    return f.length > 0 && f.every((x) => x.elem === "i32");
  }

  private floatOperand(e: Expr, ctx: Ctx): string {
    const c = this.expr(e, ctx);
    return this.isInt(e, ctx) ? `${wrap(c)}.float()` : c;
  }

  expr(e: Expr, ctx: Ctx): string {
    switch (e.kind) {
      case "Number":
        return /^[0-9]+$/.test(e.text) ? e.text : String(e.value);
      case "Bool":
        return e.value ? "True" : "False";
      case "String":
        return JSON.stringify(e.value);
      case "Name":
        return this.nameRef(e.name, e.span, ctx);
      case "Unary":
        if (e.operand.kind === "Number") return `-${this.expr(e.operand, ctx)}`;
        return `-${wrap(this.floatOperand(e.operand, ctx))}`;
      case "Binary":
        return this.binary(e, ctx);
      case "Call":
        return this.call(e, ctx);
      case "Index":
        return this.index(e, ctx);
      case "Member":
        // `word.table`: the same Parameter object (`self.word.table`), tied as in PyTorch.
        return `${this.expr(e.target, ctx)}.${pyName(e.name.name)}`;
      case "Repeat":
        return this.fail("`repeat` outside a field", ctx.uri, e.span);
      default:
        return this.fail("this expression", ctx.uri, e.span);
    }
  }

  private nameRef(name: string, span: Span, ctx: Ctx): string {
    const local = ctx.locals.get(name);
    if (local) return local;
    const decl = ctx.decl;
    if (decl) {
      if (decl.kind === "Neuron") {
        const m = decl.members.find((x) => (x.kind === "State" || x.kind === "Amplitude") && x.name.name === name);
        if (m?.kind === "Amplitude") return this.fail(`amplitude \`${name}\` without \`[t]\``, ctx.uri, span);
      } else {
        const m = decl.members.find((x) => (x.kind === "Field" || x.kind === "Weight" || x.kind === "Timesteps") && x.name.name === name);
        if (m) return `self.${pyName(name)}`;
        if (name === "T" && decl.members.some((x) => x.kind === "Timesteps")) return `self.${pyName(decl.members.find((x) => x.kind === "Timesteps")!.name.name)}`;
      }
      if (decl.params.some((p) => p.name.name === name)) return `self.${pyName(name)}`;
    }
    const loc = this.resolve(name, ctx.uri);
    if (loc) {
      if (loc.decl.kind === "Const") return this.constFor(loc);
      return this.classFor(loc);
    }
    if (name === "T") return "TIMESTEPS";
    return this.fail(`the name \`${name}\``, ctx.uri, span);
  }

  private binary(e: Extract<Expr, { kind: "Binary" }>, ctx: Ctx): string {
    const l = this.floatOperand(e.left, ctx);
    const r = this.floatOperand(e.right, ctx);
    if (ctx.kind === "forward") this.checkBroadcast(e, ctx);
    const op = e.op === "@" ? "@" : e.op;
    return `${wrapBin(l, e.left)} ${op} ${wrapBin(r, e.right)}`;
  }

  /** NumPy broadcasting over [T, ...] tensors is right only when per-step axes line up. */
  private checkBroadcast(e: Extract<Expr, { kind: "Binary" }>, ctx: Ctx): void {
    const a = this.factsAt(e.left.span, ctx);
    const b = this.factsAt(e.right.span, ctx);
    for (const x of a)
      for (const y of b) {
        const ok = x.timed === y.timed ? !x.timed || x.rank === y.rank || Math.min(x.rank, y.rank) === 0 : x.timed ? y.rank <= x.rank : x.rank <= y.rank;
        if (!ok) this.fail(`\`${e.op}\` between a tensor with a time axis and one with more per-step axes (broadcasting after the time axis)`, ctx.uri, e.span);
      }
  }

  private perStepAxis(x: Expr, axis: number, ctx: Ctx, span: Span): string {
    const t = this.timedAt(x, ctx);
    if (t === "mixed") return this.fail("an axis number on an input used with different ranks", ctx.uri, span);
    if (axis < 0) return String(axis);
    if (!t) return String(axis);
    if (t.rank === -1) return String(axis - this.factsAt(x.span, ctx)[0]!.rank);
    return String(t.timed ? axis + 1 : axis);
  }

  private call(e: Extract<Expr, { kind: "Call" }>, ctx: Ctx): string {
    if (e.callee.kind !== "Name") return this.fail("a call of a computed value", ctx.uri, e.callee.span);
    const name = e.callee.name;
    const args = e.args;
    const a = (i: number) => this.expr(args[i]!.value, ctx);
    const af = (i: number) => this.floatOperand(args[i]!.value, ctx);
    // fields and locals holding instances
    const local = ctx.locals.get(name);
    const decl = ctx.decl;
    const isField = decl && decl.kind !== "Neuron" && decl.members.some((m) => m.kind === "Field" && m.name.name === name);
    if (isField || (local && !BUILTIN_CALLS.has(name))) {
      const field = decl && decl.kind !== "Neuron" ? decl.members.find((m) => m.kind === "Field" && m.name.name === name) : undefined;
      const callee = isField ? `self.${pyName(name)}` : local!;
      const list = args.map((x) => this.expr(x.value, ctx)).join(", ");
      if (field?.kind === "Field" && field.value.kind === "Repeat") return `apply_stack(${callee}, ${list})`;
      return `${callee}(${list})`;
    }
    const loc = this.resolve(name, ctx.uri);
    if (loc && loc.decl.kind !== "Const") {
      const cls = this.classFor(loc);
      const ctorDecl = loc.decl as NeuronDecl | ModuleDecl;
      const list = args.map((x, i) => {
        const param = x.name ? ctorDecl.params.find((p) => p.name.name === x.name!.name) : ctorDecl.params[i];
        const v = param && isCtorValued(x.value, ctx) ? this.ctorArg(x.value, ctx) : this.expr(x.value, ctx);
        return x.name ? `${pyName(x.name.name)}=${v}` : v;
      });
      if (ctx.kind !== "init") return this.fail(`constructing \`${name}\` inside a forward`, ctx.uri, e.span);
      return `${cls}(${list.join(", ")})`;
    }
    switch (name) {
      case "abs":
      case "exp":
      case "log":
      case "sqrt":
      case "tanh":
      case "relu":
      case "erf":
      case "round":
      case "sign":
        if (ctx.kind === "init" || isNumberish(args[0]!.value, ctx)) {
          // constructor arithmetic on Python numbers (round is half to even in Python too)
          const py: Record<string, string> = { abs: "abs", round: "round", exp: "math.exp", log: "math.log", sqrt: "math.sqrt", tanh: "math.tanh", erf: "math.erf" };
          if (py[name]) return `${py[name]}(${a(0)})`;
          return `torch.${name}(torch.as_tensor(${a(0)}, dtype=torch.float32))`;
        }
        return `torch.${name}(${af(0)})`;
      case "heaviside":
        return `heaviside(${af(0)})`;
      case "detach":
        return `${wrap(af(0))}.detach()`;
      case "surrogate":
        return `surrogate(${af(0)}, ${af(1)})`;
      case "grad_scale":
        return `grad_scale(${af(0)}, ${a(1)})`;
      case "numel": {
        const t = this.timedAt(args[0]!.value, ctx);
        if (t === "mixed" || (t !== undefined && t.rank === -1)) return this.fail("`numel` of an input used with and without a time axis", ctx.uri, e.span);
        return t?.timed ? `${wrap(a(0))}[0].numel()` : `${wrap(a(0))}.numel()`;
      }
      case "gelu":
        return `gelu(${af(0)})`;
      case "at_least":
        return `at_least(${af(0)}, ${a(1)})`;
      case "clamp":
        return `torch.clamp(${af(0)}, ${a(1)}, ${a(2)})`;
      case "sum":
      case "mean":
      case "max": {
        const x = args[0]!.value;
        if (args.length === 1) {
          if (name === "mean" && ctx.calibrating) return `mean_f32(${af(0)})`;
          return `torch.${name === "max" ? "amax" : name}(${af(0)})`;
        }
        const axisExpr = args[1]!.value;
        const axis = axisExpr.kind === "Number" ? axisExpr.value : axisExpr.kind === "Unary" && axisExpr.operand.kind === "Number" ? -axisExpr.operand.value : undefined;
        if (axis === undefined) return this.fail(`\`${name}\` with a computed axis`, ctx.uri, axisExpr.span);
        return `torch.${name === "max" ? "amax" : name}(${af(0)}, dim=${this.perStepAxis(x, axis, ctx, e.span)})`;
      }
      case "softmax":
        return `torch.softmax(${af(0)}, dim=-1)`;
      case "layernorm":
        return `layernorm(${af(0)}, ${a(1)}, ${a(2)}${args[3] ? `, ${a(3)}` : ""})`;
      case "transpose": {
        if (args.length === 1) return `${wrap(a(0))}.transpose(-1, -2)`;
        const x = args[0]!.value;
        const t = this.timedAt(x, ctx);
        if (t === "mixed" || t?.rank === -1) return this.fail("`transpose` with an order on inputs with and without a time axis", ctx.uri, e.span);
        const order = args.slice(1).map((y) => this.expr(y.value, ctx));
        return `${wrap(a(0))}.permute(${t?.timed ? ["0", ...order.map((o) => `${o} + 1`)].join(", ") : order.join(", ")})`;
      }
      case "reshape": {
        const x = args[0]!.value;
        const t = this.timedAt(x, ctx);
        if (t === "mixed" || t?.rank === -1) return this.fail("`reshape` on inputs with and without a time axis", ctx.uri, e.span);
        const dims = args.slice(1).map((y) => dimCode(this.expr(y.value, ctx)));
        return `${wrap(a(0))}.reshape(${[...(t?.timed ? [`${wrap(a(0))}.shape[0]`] : []), ...dims].join(", ")})`;
      }
      case "split_heads":
        return `split_heads(${a(0)}, dim(${a(1)}))`;
      case "merge_heads":
        return `merge_heads(${a(0)})`;
      case "causal_mask":
        return `causal_mask(${a(0)}${args[1] ? `, ${a(1)}` : ""})`;
      case "positions":
        return `positions(${a(0)})`;
      case "gather":
        return `gather(${a(0)}, ${a(1)}${args[2] ? `, pad=${a(2)}` : ""})`;
      case "over_time":
        return `over_time(${a(0)}, ${a(1)})`;
      case "mean_time":
        return `mean_time(${a(0)})`;
      default:
        return this.fail(`the builtin \`${name}\``, ctx.uri, e.span);
    }
  }

  private index(e: Extract<Expr, { kind: "Index" }>, ctx: Ctx): string {
    // amplitude read: alpha[t]
    if (e.target.kind === "Name" && ctx.decl?.kind === "Neuron") {
      const amp = ctx.decl.members.find((m) => m.kind === "Amplitude" && m.name.name === (e.target as { name: string }).name);
      if (amp?.kind === "Amplitude") {
        const t = e.items[0];
        if (!t || t.kind === "Slice") return this.fail("an amplitude read without a step index", ctx.uri, e.span);
        const key = `amplitude:${amp.name.name}`;
        if (ctx.locals.has(key)) return `self.amplitude(${JSON.stringify(amp.name.name)}, ${this.expr(t, ctx)})`;
        // the first read in the step calibrates (on the first call), on the values it sees then
        ctx.locals.set(key, key);
        const init = this.expr(amp.init, { ...ctx, calibrating: true });
        return `self.amplitude(${JSON.stringify(amp.name.name)}, ${this.expr(t, ctx)}, lambda: ${init})`;
      }
    }
    const x = this.expr(e.target, ctx);
    const t = this.timedAt(e.target, ctx);
    if (t === "mixed" || t?.rank === -1) return this.fail("indexing an input used with and without a time axis", ctx.uri, e.span);
    const items = e.items.map((it) => (it.kind === "Slice" ? this.slice(it, ctx) : this.expr(it, ctx)));
    if (ctx.kind === "step" && e.target.kind === "Name" && ctx.decl.kind === "Neuron" && stepOf(ctx.decl)?.params.some((p) => p.name.name === (e.target as { name: string }).name))
      return x; // x[t] inside a step is the step's own value
    return `${wrap(x)}[${[...(t?.timed ? [":"] : []), ...items].join(", ")}]`;
  }

  private slice(s: SliceItem, ctx: Ctx): string {
    return `${s.start ? this.expr(s.start, ctx) : ""}:${s.end ? this.expr(s.end, ctx) : ""}`;
  }
}

// ------------------------------------------------------------------ helpers

function stepOf(d: NeuronDecl): StepDecl | undefined {
  return d.members.find((m): m is StepDecl => m.kind === "Step");
}

function forwardOf(d: ModuleDecl | NeuronDecl): ForwardDecl | undefined {
  return d.kind === "Neuron" ? undefined : d.members.find((m): m is ForwardDecl => m.kind === "Forward");
}

function isCtorParam(p: Param): boolean {
  return p.default?.kind === "Call";
}

function isCtorValued(e: Expr, ctx: Ctx): boolean {
  if (e.kind === "Call" && e.callee.kind === "Name" && !ctx.locals.has(e.callee.name) && !BUILTIN_CALLS.has(e.callee.name)) return true;
  return false;
}

function isNumberish(e: Expr, ctx: Ctx): boolean {
  if (e.kind === "Number") return true;
  if (e.kind === "Call" && e.callee.kind === "Name" && !ctx.locals.has(e.callee.name)) {
    if (e.callee.name === "numel") return true;
    if (["sqrt", "abs", "exp", "log"].includes(e.callee.name)) return e.args.length === 1 && isNumberish(e.args[0]!.value, ctx);
  }
  if (e.kind === "Binary" && e.op !== "@") return isNumberish(e.left, ctx) && isNumberish(e.right, ctx);
  if (e.kind === "Name") return ctx.decl?.params.some((p) => p.name.name === e.name) ?? false;
  return false;
}

function visit(e: Expr | Arg | SliceItem, f: (e: Expr) => void): void {
  if (e.kind === "Arg") return visit(e.value, f);
  if (e.kind === "Slice") {
    if (e.start) visit(e.start, f);
    if (e.end) visit(e.end, f);
    return;
  }
  f(e);
  switch (e.kind) {
    case "Unary":
      visit(e.operand, f);
      break;
    case "Binary":
      visit(e.left, f);
      visit(e.right, f);
      break;
    case "Call":
      visit(e.callee, f);
      e.args.forEach((a) => visit(a, f));
      break;
    case "Index":
      visit(e.target, f);
      e.items.forEach((i) => visit(i, f));
      break;
    case "Member":
      visit(e.target, f);
      break;
    case "Repeat":
      visit(e.count, f);
      visit(e.body, f);
      break;
    default:
  }
}

function someName(e: Expr, pred: (n: string) => boolean): boolean {
  let found = false;
  visit(e, (x) => {
    if (x.kind === "Name" && pred(x.name)) found = true;
  });
  return found;
}

function namesUsed(b: Block): Set<string> {
  const out = new Set<string>();
  for (const s of b.stmts) visit(s.value, (x) => x.kind === "Name" && out.add(x.name));
  return out;
}

function sameExpr(a: Expr, b: Expr): boolean {
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

function strip(e: unknown): unknown {
  if (Array.isArray(e)) return e.map(strip);
  if (e && typeof e === "object") return Object.fromEntries(Object.entries(e).filter(([k]) => k !== "span").map(([k, v]) => [k, strip(v)]));
  return e;
}

function wrap(code: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.]*(\(.*\))?$/.test(code) && balanced(code) ? code : `(${code})`;
}

function balanced(code: string): boolean {
  // `f(a)(b)` or `f(a) + g(b)` are not one call: check that the first '(' closes at the end
  const open = code.indexOf("(");
  if (open < 0) return true;
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === "(") depth++;
    else if (code[i] === ")" && --depth === 0) return i === code.length - 1;
  }
  return false;
}

/** Operands keep the spec's grouping: anything but a name, number or call is parenthesised. */
function wrapBin(code: string, e: Expr): string {
  return e.kind === "Binary" || e.kind === "Unary" ? `(${code})` : code;
}

/** A shape entry: whole-number literals as they are, anything else through dim(). */
function dimCode(code: string): string {
  return /^[0-9]+$/.test(code) ? code : `dim(${code})`;
}

function pyValue(v: ArgValue): string {
  return typeof v === "boolean" ? (v ? "True" : "False") : String(v);
}

export function exportPytorch(opts: PytorchExportOptions): PytorchExport {
  return new PytorchExporter(opts).export();
}
