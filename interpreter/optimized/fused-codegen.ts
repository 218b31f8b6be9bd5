/**
 * A fused elementwise program compiled into one loop. Each input is read through its
 * broadcast index: the same element (full shape), element 0 (a scalar), or a precomputed
 * offset table (anything else), so the loop does no index arithmetic of its own.
 */
import type { FusedStep } from "../passes/fuse-elementwise.js";
import { compile, type ScalarEnv, scalarExpr } from "./scalar-code.js";

export type InputIndex = "same" | "scalar" | "table";

export type FusedKernel = (inputs: readonly (Float32Array | Int32Array)[], tables: readonly (Int32Array | undefined)[], out: Float32Array) => void;

const cache = new Map<string, FusedKernel>();

export function compileFused(program: readonly FusedStep[], index: readonly InputIndex[]): FusedKernel {
  const key = JSON.stringify([program, index]);
  const hit = cache.get(key);
  if (hit) return hit;
  const env: ScalarEnv = { functions: new Map() };
  const lines: string[] = [];
  const ref = (r: FusedStep["args"][number]) => ("in" in r ? `a${r.in}` : `t${r.tmp}`);
  program.forEach((step, j) => {
    const e = scalarExpr(step.op, step.args.map(ref), env);
    if (!e) throw new Error(`internal: op ${step.op} cannot be fused`);
    lines.push(`const t${j} = ${e};`);
  });
  const src = [
    "return function fused(ins, tables, out) {",
    ...index.map((_, k) => `  const x${k} = ins[${k}], o${k} = tables[${k}];`),
    "  for (let o = 0, n = out.length; o < n; o++) {",
    ...index.map((ix, k) => `    const a${k} = ${ix === "same" ? `x${k}[o]` : ix === "scalar" ? `x${k}[0]` : `x${k}[o${k}[o]]`};`),
    ...lines.map((l) => `    ${l}`),
    `    out[o] = t${program.length - 1};`,
    "  }",
    "};",
  ].join("\n");
  const k = compile<FusedKernel>(src, env);
  cache.set(key, k);
  return k;
}
