/**
 * Shape specialisation: every dimension becomes a number. The elaborator already works with
 * concrete arguments and input shapes when compiling an entry, so this pass verifies that
 * nothing symbolic is left and records each node's concrete shape in `attrs.shape`, which
 * buffer planning and kernel selection read.
 */
import type { Graph, IRNode } from "../ir/graph.js";
import { dimToString, dimValue } from "../types/dims.js";
import type { PassResult } from "./pass.js";
import { mapStepGraphs } from "./rewrite.js";

function specialise(n: IRNode, T: number): IRNode {
  const dims = n.type.shape.map((d) => {
    const v = dimValue(d);
    if (v === undefined || !Number.isInteger(v)) throw new Error(`internal: node %${n.id} (${n.op}) has a symbolic dimension ${dimToString(d)} after elaboration`);
    return v;
  });
  const full = n.type.timed ? [T, ...dims] : dims;
  return { ...n, attrs: { ...n.attrs, outShape: full } };
}

export function shapeSpecialisation(g: Graph): PassResult {
  const T = g.timesteps;
  let count = 0;
  let out: Graph = { ...g, nodes: g.nodes.map((n) => (count++, specialise(n, T))) };
  out = mapStepGraphs(out, (body) => ({ ...body, nodes: body.nodes.map((n) => (count++, specialise(n, 1))) }));
  return { graph: out, notes: [`${count} node shapes fixed (T = ${T})`] };
}
