/**
 * Example input shapes for an entry when the user gives no --input: each forward parameter's
 * declared dims, with constructor parameters at their values, the time axis at T, and every
 * other name (B, L, ...) a small number. The PyTorch export needs them only to settle which
 * expressions carry a time axis; the module it writes takes any B and L.
 */
import type { Expr, ModuleDecl, NeuronDecl } from "../../grammar/ast.js";
import type { ArgValue } from "../../interpreter/compile.js";
import type { Tensor } from "../../interpreter/engine/tensor.js";
import { UserError } from "../../interpreter/io/errors.js";

export function synthesizeInputs(decl: NeuronDecl | ModuleDecl, args: Readonly<Record<string, ArgValue>>, timesteps?: number): Map<string, Pick<Tensor, "shape" | "dtype">> {
  const values = new Map<string, number>();
  for (const p of decl.params) {
    const g = args[p.name.name];
    if (typeof g === "number") values.set(p.name.name, g);
    else if (p.default) {
      const v = evalNum(p.default, values);
      if (v !== undefined) values.set(p.name.name, v);
    }
  }
  let T = timesteps;
  if (T === undefined && decl.kind === "Model") {
    const ts = decl.members.find((m) => m.kind === "Timesteps");
    if (ts && ts.kind === "Timesteps") T = evalNum(ts.value, values);
  }
  T ??= 4;
  const free = [2, 3, 5, 7, 11];
  const named = new Map<string, number>();
  const out = new Map<string, Pick<Tensor, "shape" | "dtype">>();
  const params =
    decl.kind === "Neuron"
      ? (decl.members.find((m) => m.kind === "Step") as { params: { name: { name: string }; type?: { dims: readonly (Expr | { kind: "Ellipsis" })[]; dtype?: string } }[] } | undefined)?.params ?? []
      : (decl.members.find((m) => m.kind === "Forward") as { params: { name: { name: string }; type?: { dims: readonly (Expr | { kind: "Ellipsis" })[]; dtype?: string } }[] } | undefined)?.params ?? [];
  for (const p of params) {
    const dims = p.type?.dims ?? [];
    const shape: number[] = decl.kind === "Neuron" ? [T, 2, 3] : [];
    for (const d of dims) {
      if (d.kind === "Ellipsis") shape.push(2);
      else if (d.kind === "Name" && d.name === "T") shape.push(T);
      else {
        const v = evalNum(d as Expr, values);
        if (v !== undefined) shape.push(v);
        else if (d.kind === "Name") {
          if (!named.has(d.name)) named.set(d.name, free[named.size % free.length]!);
          shape.push(named.get(d.name)!);
        } else throw new UserError(`cannot guess the shape of input \`${p.name.name}\` of \`${decl.name.name}\`: give an example with --input FILE`);
      }
    }
    out.set(p.name.name, { shape, dtype: p.type?.dtype === "int" ? "i32" : "f32" });
  }
  return out;
}

function evalNum(e: Expr, vars: ReadonlyMap<string, number>): number | undefined {
  switch (e.kind) {
    case "Number":
      return e.value;
    case "Name":
      return vars.get(e.name);
    case "Unary": {
      const v = evalNum(e.operand, vars);
      return v === undefined ? undefined : -v;
    }
    case "Binary": {
      const a = evalNum(e.left, vars);
      const b = evalNum(e.right, vars);
      if (a === undefined || b === undefined) return undefined;
      return e.op === "+" ? a + b : e.op === "-" ? a - b : e.op === "*" ? a * b : e.op === "/" ? a / b : undefined;
    }
    default:
      return undefined;
  }
}
