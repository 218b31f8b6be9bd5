/** Dead-code elimination: keep what the output (or a neuron's results) needs. */
import { Immer } from "immer";
import type { Graph, IRNode, StepGraph } from "../ir/graph.js";
import type { PassResult } from "./pass.js";
import { mapStepGraphs } from "./rewrite.js";

// Copy-on-write without deep-freezing the result: freezing walked the whole graph (every
// node, attrs and neuron body) on each produce, ~140 ms of a BERT-base optimize, and passes
// never mutate their input (they build new nodes and arrays).
const { produce } = new Immer({ autoFreeze: false });

function live(nodes: readonly IRNode[], roots: readonly number[]): Set<number> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const keep = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (keep.has(id)) continue;
    keep.add(id);
    for (const i of byId.get(id)?.inputs ?? []) stack.push(i);
  }
  return keep;
}

function dceStep(body: StepGraph): StepGraph {
  const roots = [body.emit.value, ...(body.emit.levels !== undefined ? [body.emit.levels] : []), ...(body.emit.scale !== undefined ? [body.emit.scale] : []), ...body.states.map((s) => s.write), ...body.inputs];
  const keep = live(body.nodes, roots);
  const nodes = body.nodes.filter((n) => keep.has(n.id));
  return nodes.length === body.nodes.length ? body : { ...body, nodes };
}

export function dce(g: Graph): PassResult {
  const keep = live(g.nodes, [g.output, ...(g.taps ?? []).map((t) => t.node), ...g.inputs.map((i) => i.node)]);
  const removed = g.nodes.filter((n) => !keep.has(n.id));
  let out = produce(g, (d) => {
    d.nodes = g.nodes.filter((n) => keep.has(n.id)) as typeof d.nodes;
  });
  let stepRemoved = 0;
  out = mapStepGraphs(out, (body) => {
    const b = dceStep(body);
    stepRemoved += body.nodes.length - b.nodes.length;
    return b;
  });
  const byOp = new Map<string, number>();
  for (const n of removed) byOp.set(n.op, (byOp.get(n.op) ?? 0) + 1);
  const notes = removed.length || stepRemoved ? [`removed ${removed.length} nodes (${[...byOp].map(([k, v]) => `${v} ${k}`).join(", ") || "none"}) and ${stepRemoved} step-body nodes`] : [];
  return { graph: out, notes };
}
