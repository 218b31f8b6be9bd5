/**
 * Graph-rewriting helpers shared by passes: consumer counts, replacing uses of a node, and
 * visiting nested step graphs. All return new data; nothing is mutated in place.
 */
import { Immer } from "immer";
import type { Graph, IRNode, NeuronAttrs, StepGraph } from "../ir/graph.js";

// Copy-on-write without deep-freezing the result: freezing walked the whole graph (every
// node, attrs and neuron body) on each produce, ~140 ms of a BERT-base optimize, and passes
// never mutate their input (they build new nodes and arrays).
const { produce } = new Immer({ autoFreeze: false });

export function consumers(nodes: readonly IRNode[]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const n of nodes) for (const i of n.inputs) m.set(i, [...(m.get(i) ?? []), n.id]);
  return m;
}

/** Points every use of a key node at its value node (chains resolved). */
function resolveAlias(map: ReadonlyMap<number, number>, id: number): number {
  let cur = id;
  for (let i = 0; i < 64 && map.has(cur); i++) cur = map.get(cur)!;
  return cur;
}

export function replaceUsesInNodes(nodes: readonly IRNode[], map: ReadonlyMap<number, number>): IRNode[] {
  return nodes.map((n) => (n.inputs.some((i) => map.has(i)) ? { ...n, inputs: n.inputs.map((i) => resolveAlias(map, i)) } : n));
}

export function replaceUses(g: Graph, map: ReadonlyMap<number, number>): Graph {
  if (map.size === 0) return g;
  return produce(g, (d) => {
    d.nodes = replaceUsesInNodes(g.nodes, map) as typeof d.nodes;
    d.output = resolveAlias(map, g.output);
    if (g.taps) d.taps = g.taps.map((t) => ({ ...t, node: resolveAlias(map, t.node) }));
    d.inputs = g.inputs.map((i) => ({ ...i, node: resolveAlias(map, i.node) })) as typeof d.inputs;
  });
}

export function replaceUsesInStep(body: StepGraph, map: ReadonlyMap<number, number>): StepGraph {
  if (map.size === 0) return body;
  const r = (id: number) => resolveAlias(map, id);
  return {
    nodes: replaceUsesInNodes(body.nodes, map),
    inputs: body.inputs,
    states: body.states.map((s) => ({ ...s, write: r(s.write) })),
    emit: {
      value: r(body.emit.value),
      levels: body.emit.levels === undefined ? undefined : r(body.emit.levels),
      scale: body.emit.scale === undefined ? undefined : r(body.emit.scale),
    },
  };
}

/** Applies `f` to every neuron's step graph. */
export function mapStepGraphs(g: Graph, f: (body: StepGraph, node: IRNode) => StepGraph): Graph {
  return produce(g, (d) => {
    d.nodes = g.nodes.map((n) => {
      if (n.op !== "neuron") return n;
      const attrs = n.attrs as unknown as NeuronAttrs;
      const body = f(attrs.body, n);
      return body === attrs.body ? n : { ...n, attrs: { ...n.attrs, body } };
    }) as typeof d.nodes;
  });
}

/** A stable key for attrs (nested step graphs excluded: neurons never merge by attrs alone). */
export function attrsKey(attrs: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(attrs).sort();
  return JSON.stringify(keys.map((k) => [k, k === "body" ? "<body>" : attrs[k]]));
}
