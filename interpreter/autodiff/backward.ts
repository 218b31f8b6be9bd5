/**
 * The reverse-mode pass over a graph: nodes in reverse topological order, each node's
 * gradient handed to its op's rule (interpreter/ir/ops.ts) and the results added to its
 * inputs' gradients. Time follows the forward's structure:
 * - a `batched` op on a timed value runs its rule once over the whole time axis, with the
 *   operands aligned as the forward aligned them (a static operand's gradient is summed over
 *   the steps by the rule's unbroadcast);
 * - a `per-step` op runs its rule per step; a static operand's gradient is the sum over the
 *   steps (in double, rounded once);
 * - `over_time` sums its gradient over the steps; `mean_time` hands each step g / T;
 * - a neuron backpropagates through its steps (./neuron.ts).
 *
 * The walk depends only on the graph and the forward values, so every execution path and
 * mode with the same forward values gets the same gradients, bit for bit.
 */
import { type F32Tensor, type Tensor, f32, numel, sliceLeading } from "../engine/tensor.js";
import type { Graph } from "../ir/graph.js";
import { opDef } from "../ir/ops.js";
import type { ParamStore } from "../runtime/params.js";
import { GradAccumulator } from "./accumulate.js";
import { neuronBackward, type ParamSink } from "./neuron.js";
import { alignForTime, alignsOverTime, type Tape, viewAs } from "./tape.js";
import { allocF32, allocF64, f32From } from "../engine/arena.js";

export interface BackwardResult {
  /** By parameter path: weights, and amplitudes (per step) when anything reached them. */
  readonly params: Map<string, Float32Array>;
  /** By input name (float inputs only; zeros if nothing reached them). */
  readonly inputs: Map<string, Float32Array>;
}

export function backward(graph: Graph, tape: Tape, params: ParamStore, gradOutput: F32Tensor): BackwardResult {
  const T = graph.timesteps;
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const acc = new GradAccumulator();
  const paramAcc = new Map<string, Float64Array>();
  const sink: ParamSink = {
    weight(path, g) {
      const a = paramAcc.get(path) ?? allocF64(g.data.length);
      for (let i = 0; i < a.length; i++) a[i] = a[i]! + g.data[i]!;
      paramAcc.set(path, a);
    },
    amplitude(path, t, g) {
      const a = paramAcc.get(path) ?? allocF64(numel(params.get(path).tensor.shape));
      a[t] = a[t]! + g;
      paramAcc.set(path, a);
    },
  };
  const inputGrads = new Map<string, Float32Array>();
  const neuronSeeds = new Map<number, { value?: F32Tensor; levels?: F32Tensor; scale?: F32Tensor }>();
  const value = (id: number): Tensor => tape.values.get(id)!;
  const timed = (id: number) => byId.get(id)!.type.timed;

  acc.add(graph.output, gradOutput);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    if (node.op === "neuron") {
      const seeds = neuronSeeds.get(node.id);
      if (!seeds) continue;
      const xs = node.inputs.map(value);
      const gs = neuronBackward(node, xs, tape.neurons.get(node.id)!, seeds, T, sink);
      gs.forEach((g, k) => g && acc.add(node.inputs[k]!, g));
      continue;
    }
    const g = acc.take(node.id);
    if (!g) continue;
    switch (node.op) {
      case "const":
      case "positions":
      case "causal_mask":
        break;
      case "input":
        if (node.type.elem === "f32") inputGrads.set(node.attrs.name as string, f32From(g.data));
        break;
      case "param":
        sink.weight(node.attrs.path as string, g);
        break;
      case "over_time": {
        // the same value at every step: the sum of the steps' gradients
        const n = g.data.length / T;
        const s = allocF64(n);
        for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) s[j] = s[j]! + g.data[t * n + j]!;
        acc.add(node.inputs[0]!, f32(g.shape.slice(1), f32From(s)));
        break;
      }
      case "mean_time": {
        const n = g.data.length;
        const out = allocF32(n * T);
        for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) out[t * n + j] = g.data[j]! / T;
        acc.add(node.inputs[0]!, f32([T, ...g.shape], out));
        break;
      }
      case "neuron_out": {
        const seeds = neuronSeeds.get(node.inputs[0]!) ?? {};
        const field = node.attrs.field as "value" | "levels" | "scale";
        const prev = seeds[field];
        neuronSeeds.set(node.inputs[0]!, { ...seeds, [field]: prev ? f32(g.shape, addArrays(prev.data, g.data)) : g });
        break;
      }
      default: {
        const def = opDef(node.op);
        if (!def.grad) throw new Error(`internal: op "${node.op}" has no gradient rule`);
        const xs = node.inputs.map(value);
        const isTimed = node.inputs.map(timed);
        const want = (k: number) => xs[k]!.dtype === "f32";
        if (!node.type.timed || def.time === "batched") {
          const aligned = node.type.timed && alignsOverTime(node) ? alignForTime(xs, isTimed) : xs;
          const gs = def.grad(aligned, value(node.id), g, { attrs: node.attrs });
          gs.forEach((gk, k) => {
            if (!gk || !want(k)) return;
            acc.add(node.inputs[k]!, gk.shape.length === xs[k]!.shape.length && gk.shape.every((d, j) => d === xs[k]!.shape[j]) ? (gk as F32Tensor) : (viewAs(gk, xs[k]!.shape) as F32Tensor));
          });
        } else {
          // per step: timed operands take their step's slice, static ones sum over the steps
          const y = value(node.id);
          const out: (Float32Array | Float64Array | undefined)[] = xs.map(() => undefined);
          for (let t = 0; t < T; t++) {
            const ins = xs.map((x, k) => (isTimed[k] ? sliceLeading(x, t) : x));
            const gs = def.grad(ins, sliceLeading(y, t), sliceLeading(g, t), { attrs: node.attrs });
            gs.forEach((gk, k) => {
              if (!gk || !want(k)) return;
              if (isTimed[k]) ((out[k] ??= allocF32(xs[k]!.data.length)) as Float32Array).set(gk.data, t * gk.data.length);
              else {
                const a = (out[k] ??= allocF64(gk.data.length)) as Float64Array;
                for (let j = 0; j < a.length; j++) a[j] = a[j]! + gk.data[j]!;
              }
            });
          }
          out.forEach((d, k) => d && acc.add(node.inputs[k]!, f32(xs[k]!.shape, d instanceof Float32Array ? d : f32From(d))));
        }
      }
    }
  }
  const out = new Map<string, Float32Array>();
  for (const [path, a] of paramAcc) out.set(path, f32From(a));
  return { params: out, inputs: inputGrads };
}

function addArrays(a: Float32Array, b: Float32Array | Int32Array): Float32Array {
  const out = allocF32(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}
