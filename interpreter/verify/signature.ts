/**
 * What `spikelm verify` must generate for an entry: its inputs' shapes, read from the
 * forward (or step) signature. Dimensions fixed by the constructor arguments (`inp`,
 * `d / heads`) are evaluated once; names the call binds (`B`, `L`), a `...` and the shape of
 * an untyped input are *free* sizes that each generated case chooses (small, shrinking
 * towards 1); the time axis is the model's `timesteps`, or free for a layer or neuron.
 */
import type { Expr, TypeExpr } from "../../grammar/ast.js";
import type { ArgValue } from "../compile.js";
import { resolveEntry } from "../compile.js";
import { Elaborator } from "../checker/elaborate.js";
import type { Program } from "../checker/program.js";
import { constDim } from "../types/dims.js";
import { UserError } from "../io/errors.js";

/** One input of the entry. `dims` excludes the time axis (`timed` says whether it has one). */
export interface InputSlot {
  readonly name: string;
  readonly dtype: "f32" | "i32";
  readonly timed: boolean;
  readonly dims: readonly DimSlot[];
}

/** A fixed length, or a free size named by the signature (`B`), `...`, or an untyped input (`N`). */
export type DimSlot = { readonly fixed: number } | { readonly free: string; readonly scale?: number };

export interface EntrySignature {
  readonly inputs: readonly InputSlot[];
  /** Free size names, in order of first use; `T` when the time steps come from the input. */
  readonly free: readonly string[];
  /** The time steps the model declares, if it does. */
  readonly timesteps?: number;
}

/** The free size standing for an untyped input's shape (a neuron's `step(x)`). */
const UNTYPED = "N";
/** The free size standing for `...` in a signature. */
const ELLIPSIS = "...";

/**
 * Reads the entry's signature. Throws a UserError for what verify cannot generate (an input
 * dimension that is not a whole number, or one written with a free name inside arithmetic).
 */
export function entrySignature(file: string, entry: string, args: Readonly<Record<string, ArgValue>>, program?: Program): EntrySignature {
  const { decl, uri, program: prog } = resolveEntry(file, entry, program);
  const elab = new Elaborator(prog, { concrete: true, timeDim: constDim(1) });
  const ctor = new Map<string, number | boolean | undefined>();
  for (const p of decl.params) {
    const given = args[p.name.name];
    if (given !== undefined) ctor.set(p.name.name, given);
    else if (p.default) {
      const v = elab.evalConst(p.default, { uri, vars: new Map(), path: "" } as never);
      ctor.set(p.name.name, v.kind === "num" || v.kind === "bool" ? v.value : undefined);
    } else throw new UserError(`\`${decl.name.name}\` needs a value for \`${p.name.name}\`: pass --arg ${p.name.name}=<value>`);
  }
  const free: string[] = [];
  const useFree = (name: string) => {
    if (!free.includes(name)) free.push(name);
  };
  // A name is bound when it is a constructor argument or a file-level constant.
  const bound = (name: string): number | undefined => {
    if (ctor.has(name)) {
      const v = ctor.get(name);
      return typeof v === "number" ? v : undefined;
    }
    const entryScope = prog.scope(uri).get(name);
    if (entryScope?.decl.kind !== "Const") return undefined;
    const v = elab.evalConst({ kind: "Name", name, span: entryScope.decl.name.span }, { uri, vars: new Map(), path: "" } as never);
    return v.kind === "num" ? v.value : undefined;
  };
  const isBound = (name: string) => ctor.has(name) || prog.scope(uri).get(name)?.decl.kind === "Const";

  const evalFixed = (e: Expr, input: string): number => {
    const v = evalNumber(e, bound);
    if (v === undefined || !Number.isInteger(v) || v < 0)
      throw new UserError(`input \`${input}\` of \`${decl.name.name}\`: a dimension evaluates to ${v === undefined ? "something that is not a number" : v}, not a whole number >= 0 (check the --arg values)`);
    return v;
  };

  const stepParams = decl.kind === "Neuron";
  const inputs: InputSlot[] = [];
  const params = elab.forwardParams(decl);
  for (const p of params) {
    const type: TypeExpr | undefined = p.kind === "TypedParam" ? p.type : undefined;
    const name = p.name.name;
    if (!type) {
      // A neuron's step input, or an untyped forward input: one free axis (neurons are elementwise over it).
      useFree(UNTYPED);
      inputs.push({ name, dtype: "f32", timed: stepParams, dims: [{ free: UNTYPED }] });
      continue;
    }
    const dimExprs = [...type.dims];
    const first = dimExprs[0];
    const timed = stepParams || (first !== undefined && first.kind === "Name" && first.name === "T");
    if (timed && !stepParams) dimExprs.shift();
    const dims: DimSlot[] = [];
    for (const d of dimExprs) {
      if (d.kind === "Ellipsis") {
        useFree(ELLIPSIS);
        dims.push({ free: ELLIPSIS });
        continue;
      }
      const names = namesIn(d).filter((n) => !isBound(n));
      if (names.length === 0) dims.push({ fixed: evalFixed(d, name) });
      else if (d.kind === "Name") {
        useFree(d.name);
        dims.push({ free: d.name });
      } else if (names.length === 1 && d.kind === "Binary" && d.op === "*") {
        // `2 * L`: a multiple of a free size
        const [a, b] = [d.left, d.right];
        const freeSide = a.kind === "Name" && !isBound(a.name) ? a : b.kind === "Name" && !isBound(b.name) ? b : undefined;
        const other = freeSide === a ? b : a;
        if (!freeSide || freeSide.kind !== "Name" || namesIn(other).some((n) => !isBound(n))) throw unsupported(decl.name.name, name);
        useFree(freeSide.name);
        dims.push({ free: freeSide.name, scale: evalFixed(other, name) });
      } else throw unsupported(decl.name.name, name);
    }
    inputs.push({ name, dtype: type.dtype === "int" ? "i32" : "f32", timed, dims });
  }

  let timesteps: number | undefined;
  const ts = decl.kind === "Model" ? decl.members.find((m) => m.kind === "Timesteps") : undefined;
  if (ts && ts.kind === "Timesteps") {
    const v = evalNumber(ts.value, bound);
    if (v !== undefined && Number.isInteger(v) && v >= 1) timesteps = v;
  }
  if (timesteps === undefined && inputs.some((i) => i.timed)) free.unshift("T");
  return { inputs, free, timesteps };
}

function unsupported(entry: string, input: string): UserError {
  return new UserError(`input \`${input}\` of \`${entry}\`: verify can generate dimensions that are numbers, constructor arguments, names bound by the call (\`B\`, \`L\`) or a number times one; this one combines names in another way`);
}

function namesIn(e: Expr): string[] {
  if (e.kind === "Name") return [e.name];
  if (e.kind === "Binary") return [...namesIn(e.left), ...namesIn(e.right)];
  if (e.kind === "Unary") return namesIn(e.operand);
  return [];
}

function evalNumber(e: Expr, bound: (name: string) => number | undefined): number | undefined {
  switch (e.kind) {
    case "Number":
      return e.value;
    case "Name":
      return bound(e.name);
    case "Unary": {
      const v = evalNumber(e.operand, bound);
      return v === undefined ? undefined : -v;
    }
    case "Binary": {
      const a = evalNumber(e.left, bound);
      const b = evalNumber(e.right, bound);
      if (a === undefined || b === undefined) return undefined;
      switch (e.op) {
        case "+":
          return a + b;
        case "-":
          return a - b;
        case "*":
          return a * b;
        case "/":
          return a / b;
        default:
          return undefined;
      }
    }
    default:
      return undefined;
  }
}

/** The concrete shape of an input (time axis first when timed) for the chosen free sizes. */
export function inputShape(slot: InputSlot, sizes: Readonly<Record<string, number>>, T: number): number[] {
  const dims = slot.dims.map((d) => ("fixed" in d ? d.fixed : (sizes[d.free] ?? 1) * (d.scale ?? 1)));
  return slot.timed ? [T, ...dims] : dims;
}
