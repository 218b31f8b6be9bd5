/**
 * A readable text form of the IR, one node per line, used by `spikelm explain` and in test
 * failure messages:
 *
 *   %12 = matmul %10, %11 {spike: "left"} : f32[T, 2, 8, 64]   // tiny.spk:10:12
 *
 * Nested step graphs are printed indented under their neuron.
 */
import type { Graph, IRNode, NeuronAttrs, StepGraph } from "./graph.js";
import { typeToString } from "../types/tensor-type.js";

function attrText(node: IRNode): string {
  const entries = Object.entries(node.attrs).filter(([k]) => k !== "body");
  if (entries.length === 0) return "";
  return ` {${entries.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")}}`;
}

function nodeLine(n: IRNode, indent: string): string {
  const ins = n.inputs.map((i) => `%${i}`).join(", ");
  return `${indent}%${n.id} = ${n.op}${ins ? ` ${ins}` : ""}${attrText(n)} : ${typeToString(n.type)}`;
}

function printStep(body: StepGraph, indent: string, out: string[]): void {
  for (const n of body.nodes) out.push(nodeLine(n, indent));
  const states = body.states.map((s) => `${s.name}: %${s.read} -> %${s.write}`).join(", ");
  out.push(`${indent}emit %${body.emit.value}${body.emit.levels !== undefined ? ` levels %${body.emit.levels}` : ""}${body.emit.scale !== undefined ? ` scale %${body.emit.scale}` : ""}${states ? `; state ${states}` : ""}`);
}

export function printGraph(g: Graph): string {
  const out: string[] = [];
  out.push(`graph (T = ${g.timesteps}, ${g.nodes.length} nodes, ${g.params.length} parameters)`);
  for (const n of g.nodes) {
    out.push(nodeLine(n, "  "));
    if (n.op === "neuron") printStep((n.attrs as unknown as NeuronAttrs).body, "      ", out);
  }
  out.push(`  return %${g.output}`);
  return out.join("\n");
}

export function countNodes(g: Graph): number {
  let n = 0;
  for (const node of g.nodes) {
    n++;
    if (node.op === "neuron") n += (node.attrs as unknown as NeuronAttrs).body.nodes.length;
  }
  return n;
}
