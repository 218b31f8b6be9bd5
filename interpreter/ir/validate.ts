/**
 * IR validity as a rule table, checked between passes by the tests: each rule looks at one
 * node in its graph and returns a complaint or nothing.
 */
import type { Graph, IRNode, NeuronAttrs } from "./graph.js";
import { OPS } from "./ops.js";

interface Ctx {
  readonly seen: ReadonlySet<number>;
  readonly byId: ReadonlyMap<number, IRNode>;
}

const RULES: readonly { readonly name: string; readonly check: (n: IRNode, c: Ctx) => string | undefined }[] = [
  { name: "known-op", check: (n) => (OPS.has(n.op) ? undefined : `unknown op ${n.op}`) },
  { name: "topological", check: (n, c) => n.inputs.filter((i) => !c.seen.has(i)).map((i) => `input %${i} is not defined before use`)[0] },
  // (`max` is the reduction, one input: not listed)
  { name: "binary-arity", check: (n) => (["add", "sub", "mul", "div", "min", "at_least", "matmul", "spike_matmul"].includes(n.op) && n.inputs.length !== 2 ? `${n.op} needs 2 inputs, has ${n.inputs.length}` : undefined) },
  { name: "projection-of-neuron", check: (n, c) => (n.op === "neuron_out" && c.byId.get(n.inputs[0]!)?.op !== "neuron" ? "neuron_out must read a neuron" : undefined) },
  { name: "projection-field", check: (n) => (n.op === "neuron_out" && !["value", "levels", "scale"].includes(n.attrs.field as string) ? `bad field ${String(n.attrs.field)}` : undefined) },
  { name: "int8-only-levels", check: (n) => (n.attrs.int8 === true && !(n.type.values.kind === "levels") ? "int8 storage on a tensor that is not spike levels" : undefined) },
  { name: "spike-matmul-form", check: (n) => (n.op === "spike_matmul" && !["nn", "nt"].includes(n.attrs.form as string) ? "spike_matmul needs form nn or nt" : undefined) },
];

export function validateGraph(g: Graph): string[] {
  const problems: string[] = [];
  const check = (nodes: readonly IRNode[], where: string) => {
    const seen = new Set<number>();
    const byId = new Map(nodes.map((n) => [n.id, n]));
    for (const n of nodes) {
      for (const r of RULES) {
        const p = r.check(n, { seen, byId });
        if (p) problems.push(`${where}%${n.id} ${n.op}: ${r.name}: ${p}`);
      }
      seen.add(n.id);
      if (n.op === "neuron") {
        const body = (n.attrs as unknown as NeuronAttrs).body;
        check(body.nodes, `${where}%${n.id}/`);
        const ids = new Set(body.nodes.map((x) => x.id));
        for (const s of body.states) if (!ids.has(s.read) || !ids.has(s.write)) problems.push(`${where}%${n.id}: state ${s.name} refers to a missing node`);
        if (!ids.has(body.emit.value)) problems.push(`${where}%${n.id}: emit refers to a missing node`);
      }
    }
  };
  check(g.nodes, "");
  if (!g.nodes.some((n) => n.id === g.output)) problems.push(`output %${g.output} is not a node`);
  for (const t of g.taps ?? []) if (!g.nodes.some((n) => n.id === t.node)) problems.push(`tap ${t.path} %${t.node} is not a node`);
  return problems;
}
