/**
 * Constant folding and algebraic simplification, as a rule table. Every rule is exact in
 * float32 (bit for bit, -0 included); rules that are not (x + 0 -> x changes -0) are absent
 * on purpose.
 */
import type { Graph, IRNode } from "../ir/graph.js";
import { opDef } from "../ir/ops.js";
import { f32 } from "../engine/tensor.js";
import { dimEquals } from "../types/dims.js";
import type { PassResult } from "./pass.js";
import { mapStepGraphs, replaceUses, replaceUsesInStep } from "./rewrite.js";

type Get = (id: number) => IRNode | undefined;
/** A rule returns the id of a node that can stand for `n`, or a replacement node. */
type Rule = { readonly name: string; readonly apply: (n: IRNode, get: Get) => number | IRNode | undefined };

const constValue = (n: IRNode | undefined): number | undefined => (n?.op === "const" && n.type.elem === "f32" && n.type.shape.length === 0 ? (n.attrs.value as number) : undefined);
const sameType = (a: IRNode, b: IRNode) => a.type.timed === b.type.timed && a.type.elem === b.type.elem && a.type.shape.length === b.type.shape.length && a.type.shape.every((d, i) => dimEquals(d, b.type.shape[i]!));
const isBits = (v: number | undefined, want: number) => v !== undefined && Object.is(v, want);

function identity(op: string, pos: 0 | 1 | "either", unit: number): Rule["apply"] {
  return (n, get) => {
    if (n.op !== op) return undefined;
    for (const side of pos === "either" ? [0, 1] : [pos]) {
      const other = get(n.inputs[1 - side]!);
      if (isBits(constValue(get(n.inputs[side]!)), unit) && other && sameType(other, n)) return other.id;
    }
    return undefined;
  };
}

const RULES: readonly Rule[] = [
  // x * 1 -> x, 1 * x -> x
  { name: "mul-by-one", apply: identity("mul", "either", 1) },
  // x / 1 -> x
  { name: "div-by-one", apply: identity("div", 1, 1) },
  // x - 0 -> x   (exact, also for -0)
  { name: "sub-zero", apply: identity("sub", 1, 0) },
  // x + -0 -> x  (exact; x + 0 is not: -0 + 0 = +0)
  { name: "add-negative-zero", apply: identity("add", "either", -0) },
  // neg(neg(x)) -> x
  {
    name: "double-negation",
    apply: (n, get) => {
      const inner = get(n.inputs[0]!);
      return n.op === "neg" && inner?.op === "neg" ? inner.inputs[0] : undefined;
    },
  },
  // to_f32(x: f32) -> x
  { name: "f32-to-f32", apply: (n, get) => (n.op === "to_f32" && get(n.inputs[0]!)?.type.elem === "f32" ? n.inputs[0] : undefined) },
  // transpose(transpose(x, p), q) -> x  when q undoes p
  {
    name: "transpose-pair",
    apply: (n, get) => {
      const inner = get(n.inputs[0]!);
      if (n.op !== "transpose" || inner?.op !== "transpose") return undefined;
      const p = inner.attrs.perm as number[];
      const q = n.attrs.perm as number[];
      return q.every((qi, i) => p[qi] === i) ? inner.inputs[0] : undefined;
    },
  },
  // op(const, const, ...) -> const   (scalar elementwise ops, evaluated by the op table itself)
  {
    name: "fold-scalars",
    apply: (n, get) => {
      const def = opDef(n.op);
      if (!def.elementwise || n.inputs.length === 0) return undefined;
      const vals = n.inputs.map((i) => constValue(get(i)));
      if (vals.some((v) => v === undefined)) return undefined;
      const out = def.forward!(vals.map((v) => f32([], [v!])), { attrs: n.attrs });
      return { ...n, op: "const", inputs: [], attrs: { value: out.data[0]! } };
    },
  },
];

function foldNodes(nodes: readonly IRNode[]): { nodes: IRNode[]; alias: Map<number, number>; hits: Map<string, number> } {
  const byId = new Map<number, IRNode>();
  const alias = new Map<number, number>();
  const hits = new Map<string, number>();
  const out: IRNode[] = [];
  const get: Get = (id) => byId.get(alias.get(id) ?? id);
  for (const orig of nodes) {
    let n: IRNode = orig.inputs.some((i) => alias.has(i)) ? { ...orig, inputs: orig.inputs.map((i) => alias.get(i) ?? i) } : orig;
    for (const rule of RULES) {
      if (n.op === "const") break;
      const r = rule.apply(n, get);
      if (r === undefined) continue;
      hits.set(rule.name, (hits.get(rule.name) ?? 0) + 1);
      if (typeof r === "number") {
        alias.set(n.id, alias.get(r) ?? r);
        n = byId.get(alias.get(n.id)!)!;
        break;
      }
      n = r;
    }
    if (!alias.has(orig.id)) {
      byId.set(n.id, n);
      out.push(n);
    }
  }
  return { nodes: out, alias, hits };
}

export function constantFolding(g: Graph): PassResult {
  const total = new Map<string, number>();
  const add = (hits: Map<string, number>) => hits.forEach((v, k) => total.set(k, (total.get(k) ?? 0) + v));
  const top = foldNodes(g.nodes);
  add(top.hits);
  let out = replaceUses({ ...g, nodes: top.nodes }, top.alias);
  out = mapStepGraphs(out, (body) => {
    const r = foldNodes(body.nodes);
    add(r.hits);
    return replaceUsesInStep({ ...body, nodes: r.nodes }, r.alias);
  });
  return { graph: out, notes: [...total].map(([k, v]) => `${k}: ${v}`) };
}
