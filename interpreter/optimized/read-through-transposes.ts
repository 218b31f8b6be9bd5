/**
 * The executor's plan for `x @ transpose(W)` with W a 2-D operand without a time axis (a
 * weight, a tied embedding table): the matmul reads W as stored (`form: "nt"`, run by
 * engine/fast/matmul-nt.ts) and the transpose, when nothing else reads it, is not planned at
 * all, so no transposed copy of the weight is ever made or held (a tied masked-LM decoder's
 * is the whole vocabulary table).
 *
 * Only the executor's buffer plan is rewritten, not the IR: `explain`, the reference
 * interpreter and the gradient rules still see the plain matmul. An executor that keeps
 * every value for the gradient tape does not use it (the tape reads the transposed operand).
 */
import type { Graph, IRNode } from "../ir/graph.js";

function swapsTwoAxes(n: IRNode): boolean {
  const p = n.attrs.perm as number[] | undefined;
  return p !== undefined && p.length === 2 && p[0] === 1 && p[1] === 0;
}

export function readThroughTransposes(g: Graph): Graph {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const rewritten = new Map<number, IRNode>();
  for (const n of g.nodes) {
    if (n.op !== "matmul") continue;
    const t = byId.get(n.inputs[1]!);
    if (t?.op !== "transpose" || !swapsTwoAxes(t)) continue;
    const w = byId.get(t.inputs[0]!);
    if (!w || w.type.timed || w.type.shape.length !== 2) continue;
    rewritten.set(n.id, { ...n, inputs: [n.inputs[0]!, w.id], attrs: { ...n.attrs, form: "nt" } });
  }
  if (rewritten.size === 0) return g;
  const nodes = g.nodes.map((n) => rewritten.get(n.id) ?? n);
  const read = new Set<number>([g.output, ...(g.taps ?? []).map((t) => t.node)]);
  for (const n of nodes) for (const i of n.inputs) read.add(i);
  return { ...g, nodes: nodes.filter((n) => n.op !== "transpose" || read.has(n.id)) };
}
