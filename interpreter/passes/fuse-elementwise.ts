/**
 * Elementwise fusion: a connected group of elementwise ops of one output shape, whose inner
 * results nobody else reads, becomes one `fused` node carrying a small program. The
 * optimized executor compiles the program into one loop (each op still rounded to float32,
 * in the same order, so results are bit-identical); e.g. a linear layer's
 * `mul(alpha, acc) + b` is one pass over memory instead of two.
 */
import type { Graph, IRNode } from "../ir/graph.js";
import { opDef } from "../ir/ops.js";
import type { PassResult } from "./pass.js";
import { consumers } from "./rewrite.js";

/** An argument of a program step: `{in: k}` external input k, `{tmp: j}` the j-th step's result. */
export type FusedRef = { readonly in: number } | { readonly tmp: number };
export interface FusedStep {
  readonly op: string;
  readonly args: readonly FusedRef[];
}

const fusible = (n: IRNode) => opDef(n.op).elementwise === true && n.op !== "to_f32" && n.attrs.int8 !== true;
const sameOut = (a: IRNode, b: IRNode) => JSON.stringify(a.attrs.outShape) === JSON.stringify(b.attrs.outShape) && a.type.timed === b.type.timed;

export function fuseElementwise(g: Graph): PassResult {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const users = consumers(g.nodes);
  const assigned = new Set<number>();
  const replacement = new Map<number, IRNode>();
  const sizes: number[] = [];
  // Values read from outside the graph (the output, recorded taps) must stay materialised.
  const readOutside = new Set([g.output, ...(g.taps ?? []).map((t) => t.node)]);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const root = g.nodes[i]!;
    if (!fusible(root) || assigned.has(root.id)) continue;
    const members = new Set([root.id]);
    const work = [root.id];
    while (work.length) {
      const m = byId.get(work.pop()!)!;
      for (const inp of m.inputs) {
        const p = byId.get(inp)!;
        if (members.has(p.id) || assigned.has(p.id) || !fusible(p) || !sameOut(p, root) || readOutside.has(p.id)) continue;
        if (!(users.get(p.id) ?? []).every((u) => members.has(u))) continue;
        members.add(p.id);
        work.push(p.id);
      }
    }
    if (members.size < 2) continue;
    const ordered = g.nodes.filter((n) => members.has(n.id));
    const externals: number[] = [];
    const tmpIndex = new Map<number, number>();
    const program: FusedStep[] = ordered.map((n, j) => {
      tmpIndex.set(n.id, j);
      return {
        op: n.op,
        args: n.inputs.map((x) => {
          if (tmpIndex.has(x)) return { tmp: tmpIndex.get(x)! };
          let k = externals.indexOf(x);
          if (k < 0) k = externals.push(x) - 1;
          return { in: k };
        }),
      };
    });
    for (const id of members) assigned.add(id);
    replacement.set(root.id, { ...root, op: "fused", inputs: externals, attrs: { outShape: root.attrs.outShape, program, ops: program.map((p) => p.op).join(",") } });
    sizes.push(members.size);
  }
  const nodes = g.nodes.map((n) => replacement.get(n.id) ?? n);
  const notes = sizes.length ? [`${sizes.length} fused groups covering ${sizes.reduce((a, b) => a + b, 0)} elementwise ops (largest ${Math.max(...sizes)})`] : [];
  return { graph: { ...g, nodes }, notes };
}
