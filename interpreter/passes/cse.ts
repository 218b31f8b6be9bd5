/**
 * Common-subexpression elimination: two nodes with the same op, inputs and attributes are
 * one node (e.g. each use of a weight made its own `param` node). Neurons never merge here:
 * each instance owns its parameters and state.
 */
import type { Graph, IRNode } from "../ir/graph.js";
import type { PassResult } from "./pass.js";
import { attrsKey, mapStepGraphs, replaceUses, replaceUsesInNodes, replaceUsesInStep } from "./rewrite.js";

const NEVER_MERGE = new Set(["neuron", "input", "step_input", "state_read", "amplitude"]);

function findDuplicates(nodes: readonly IRNode[]): Map<number, number> {
  const seen = new Map<string, number>();
  const alias = new Map<number, number>();
  for (const n of nodes) {
    if (NEVER_MERGE.has(n.op)) continue;
    const inputs = n.inputs.map((i) => alias.get(i) ?? i);
    const key = `${n.op}|${inputs.join(",")}|${attrsKey(n.attrs)}|${n.type.timed}|${n.type.elem}`;
    const prev = seen.get(key);
    if (prev !== undefined) alias.set(n.id, prev);
    else seen.set(key, n.id);
  }
  return alias;
}

export function cse(g: Graph): PassResult {
  const alias = findDuplicates(g.nodes);
  let out = replaceUses(g, alias);
  let stepMerged = 0;
  out = mapStepGraphs(out, (body) => {
    const a = findDuplicates(body.nodes);
    stepMerged += a.size;
    const b = replaceUsesInStep(body, a);
    return a.size ? { ...b, nodes: replaceUsesInNodes(b.nodes, a).filter((n) => !a.has(n.id)) } : body;
  });
  const byOp = new Map<string, number>();
  for (const id of alias.keys()) {
    const op = g.nodes.find((n) => n.id === id)!.op;
    byOp.set(op, (byOp.get(op) ?? 0) + 1);
  }
  const notes = alias.size || stepMerged ? [`merged ${alias.size} duplicate nodes (${[...byOp].map(([k, v]) => `${v} ${k}`).join(", ")}) and ${stepMerged} in step bodies`] : [];
  return { graph: out, notes };
}
