/**
 * The central pass: a matmul whose operand is a neuron's spike levels becomes a
 * `spike_matmul`, and the levels on the way there (the neuron's output and any layout ops:
 * split_heads, transpose, merge_heads, reshape, index) are marked `int8`. The optimized
 * executor then has the neuron's fused step kernel write int8 levels straight into the
 * buffer the spike-accumulate kernel reads: no float spike tensor is ever made.
 *
 * A transpose right before the spike operand is absorbed into the kernel's form:
 *   Q @ transpose(S)  ->  spike_matmul{form: "nt"}(Q, S)     (attention scores)
 *   S @ W             ->  spike_matmul{side: "left"}(S, W)   (linear layers)
 *   A @ S             ->  spike_matmul{side: "right"}(A, S)  (attention-weighted values)
 * and so is a transpose of the float operand of a left spike operand (a linear layer's
 * `x @ transpose(W)`): the kernel reads W as declared, so no transposed copy of a weight
 * is ever made:
 *   S @ transpose(W)  ->  spike_matmul{side: "left", form: "nt"}(S, W)
 *
 * Only ternary levels ({-1, 0, 1} or a subset) become a spike operand: the kernels keep a
 * level's sign only (event lists, [+W | -W] tiles) and int8 holds -128..127. A matmul whose
 * other operand is a spike may still have a multi-level operand (levels {-2..2} of an
 * "elastic frequency" neuron, {0, 100, 200}, ...) on one side: that operand stays a float
 * operand, so the product is either a spike_matmul on the ternary side or stays a matmul.
 */
import type { Graph, IRNode } from "../ir/graph.js";
import type { PassResult } from "./pass.js";
import { consumers } from "./rewrite.js";

// cache_concat (incremental decoding) appends levels to a key/value cache: levels stay levels.
const LAYOUT = new Set(["split_heads", "merge_heads", "transpose", "reshape", "index", "cache_concat"]);

export function spikeAccumulate(g: Graph): PassResult {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const users = consumers(g.nodes);
  const isLevelsSource = (n: IRNode) => n.op === "neuron_out" && n.attrs.field === "levels" && isTernary(n);
  /** The chain from a neuron's levels to `id` through layout ops, or undefined. */
  const levelsChain = (id: number): IRNode[] | undefined => {
    const chain: IRNode[] = [];
    let cur = byId.get(id);
    while (cur && LAYOUT.has(cur.op)) {
      chain.push(cur);
      cur = byId.get(cur.inputs[0]!);
    }
    if (!cur || !isLevelsSource(cur)) return undefined;
    chain.push(cur);
    return chain;
  };
  const replaced = new Map<number, IRNode>();
  const int8 = new Set<number>();
  const absorbed = new Set<number>();
  let count = 0;
  for (const n of g.nodes) {
    if (n.op !== "matmul" || n.attrs.spike === "none") continue;
    const [a, b] = n.inputs as [number, number];
    const left = levelsChain(a);
    const rightRaw = byId.get(b);
    const rightT = rightRaw?.op === "transpose" && isLastTwoSwap(rightRaw) ? levelsChain(rightRaw.inputs[0]!) : undefined;
    const right = levelsChain(b);
    let node: IRNode | undefined;
    if (left && rightRaw?.op === "transpose" && isLastTwoSwap(rightRaw) && !levelsChain(rightRaw.inputs[0]!)) {
      node = { ...n, op: "spike_matmul", inputs: [a, rightRaw.inputs[0]!], attrs: { ...n.attrs, side: "left", form: "nt" } };
      left.forEach((x) => int8.add(x.id));
      if ((users.get(b) ?? []).length === 1) absorbed.add(b);
    } else if (left) {
      node = { ...n, op: "spike_matmul", attrs: { ...n.attrs, side: "left", form: "nn" } };
      left.forEach((x) => int8.add(x.id));
    } else if (rightT) {
      node = { ...n, op: "spike_matmul", inputs: [a, rightRaw!.inputs[0]!], attrs: { ...n.attrs, side: "right", form: "nt" } };
      rightT.forEach((x) => int8.add(x.id));
      if ((users.get(b) ?? []).length === 1) absorbed.add(b);
    } else if (right) {
      node = { ...n, op: "spike_matmul", attrs: { ...n.attrs, side: "right", form: "nn" } };
      right.forEach((x) => int8.add(x.id));
    }
    if (node) {
      replaced.set(n.id, node);
      count++;
    }
  }
  // A levels node read as floats by anything other than a spike_matmul or another int8
  // layout op stays float (correct, just not int8).
  let changed = true;
  while (changed) {
    changed = false;
    for (const id of int8) {
      const ok = (users.get(id) ?? []).every((u) => absorbed.has(u) || int8.has(u) || replaced.get(u)?.op === "spike_matmul");
      if (!ok) {
        int8.delete(id);
        changed = true;
      }
    }
  }
  const neurons = new Set<number>();
  const nodes = g.nodes.map((n) => {
    const r = replaced.get(n.id) ?? n;
    if (!int8.has(n.id)) return r;
    if (isLevelsSource(n)) neurons.add(n.inputs[0]!);
    return { ...r, attrs: { ...r.attrs, int8: true } };
  });
  const out = nodes.map((n) => (neurons.has(n.id) ? { ...n, attrs: { ...n.attrs, levelsInt8: true } } : n));
  return { graph: { ...g, nodes: out }, notes: [`${count} matmuls became spike-accumulates; ${neurons.size} neurons emit int8 levels; ${int8.size} int8 nodes`] };
}

/** Levels the spike kernels compute exactly: a statically known subset of {-1, 0, 1} (NaN levels are handled apart). */
function isTernary(n: IRNode): boolean {
  const v = n.type.values;
  return v.kind === "levels" && v.levels.every((x) => x >= -1 && x <= 1);
}

function isLastTwoSwap(n: IRNode): boolean {
  const p = n.attrs.perm as number[];
  const r = p.length;
  return r >= 2 && p.every((v, i) => (i < r - 2 ? v === i : i === r - 2 ? v === r - 1 : v === r - 2));
}
