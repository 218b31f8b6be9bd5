/**
 * The forward values the backward pass reads: every top-level node's value as a whole
 * time axis ([T, ...] for timed nodes), computed with the op table's forward exactly as the
 * reference interpreter's multi-step mode does (same kernels, same alignment, same order),
 * so the values are the reference's, bit for bit.
 *
 * A neuron call keeps every step's values (./neuron.ts), which its backward walks.
 */
import * as K from "../engine/ops/index.js";
import { type Tensor, sameShape, sliceLeading, stackSteps } from "../engine/tensor.js";
import { dimValue } from "../types/dims.js";
import type { Graph, IRNode } from "../ir/graph.js";
import { constTensor, opDef } from "../ir/ops.js";
import type { ParamStore } from "../runtime/params.js";
import { type KnownNeuronOutputs, type NeuronForward, neuronForward } from "./neuron.js";

/** Node values by id; a neuron node's entry is its call's forward (every step's values). */
export interface Tape {
  readonly values: Map<number, Tensor>;
  readonly neurons: Map<number, NeuronForward>;
}

/** Reshapes operands so the time axis and the per-step axes broadcast separately (as the reference interpreter does). */
export function alignForTime(inputs: readonly Tensor[], timed: readonly boolean[]): Tensor[] {
  const perStepRank = inputs.map((x, i) => x.shape.length - (timed[i] ? 1 : 0));
  const R = Math.max(...perStepRank);
  return inputs.map((x, i) => {
    const pad = new Array<number>(R - perStepRank[i]!).fill(1);
    const shape = timed[i] ? [x.shape[0]!, ...pad, ...x.shape.slice(1)] : [1, ...pad, ...x.shape];
    return shape.length === x.shape.length && shape.every((d, k) => d === x.shape[k]) ? x : viewAs(x, shape);
  });
}

/** The same storage under another shape of the same size: no copy (ops never write their inputs). */
export function viewAs<T extends Tensor>(x: T, shape: readonly number[]): T {
  if (isDeferred(x)) return deferred(x.dtype, shape, () => x.data) as T;
  return { ...x, shape: [...shape] };
}

/** Whether a batched op's operands are aligned over time before its forward (and backward). */
export const alignsOverTime = (node: IRNode): boolean => opDef(node.op).elementwise === true || node.op === "matmul";

/**
 * Values another execution path already computed for nodes of this graph (the optimized
 * executor's buffers, by node id), or undefined: `value` for an op's node, `neuron` for a
 * neuron call's outputs (levels as int8 or floats). Only used where the tape would otherwise
 * compute the value itself; they must be the same bits (every path computes the reference's
 * bits, and the gradient tests hold them to it).
 */
export interface KnownValues {
  value(node: IRNode): Tensor | undefined;
  neuron?(node: IRNode): KnownNeuronOutputs | undefined;
  /** Called when the tape computes a value it was not given (a backward rule read it). */
  computed?(node: IRNode): void;
}

/**
 * A node value the tape has not computed yet: its shape is known, its data is computed on
 * first read. The backward rules that read only an operand's shape (add's, a layout op's)
 * then cost nothing for a node the optimized graph fused away; only the values some rule
 * reads are computed. `data` is an own getter, so a copy by spread computes it (never a
 * tensor without data); `viewAs` keeps a deferred value deferred.
 */
const DEFERRED = Symbol("deferred");

function deferred(dtype: Tensor["dtype"], shape: readonly number[], compute: () => Tensor["data"]): Tensor {
  let data: Tensor["data"] | undefined;
  return {
    dtype,
    shape: [...shape],
    [DEFERRED]: true,
    get data() {
      return (data ??= compute());
    },
  } as unknown as Tensor;
}

const isDeferred = (x: Tensor): boolean => DEFERRED in x;

/**
 * `compiledNeurons`: neuron calls run their compiled step and leave their backward to the
 * compiled per-element walk where that applies (./neuron-compiled.ts; not when amplitudes are
 * trained: their gradients are sums the compiled walk does not form).
 */
export function recordForward(graph: Graph, params: ParamStore, inputs: ReadonlyMap<string, Tensor>, known?: KnownValues, compiledNeurons = false): Tape {
  const T = graph.timesteps;
  const values = new Map<number, Tensor>();
  const neurons = new Map<number, NeuronForward>();
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const get = (id: number) => values.get(id)!;
  for (const node of graph.nodes) {
    let v: Tensor | undefined;
    switch (node.op) {
      case "const":
        v = constTensor(node.attrs.value as number, node.type.elem);
        break;
      case "input":
        v = inputs.get(node.attrs.name as string);
        if (!v) throw new Error(`internal: input "${String(node.attrs.name)}" missing`);
        break;
      case "param":
        v = params.get(node.attrs.path as string).tensor;
        break;
      case "over_time":
        v = K.overTime(get(node.inputs[0]!), T);
        break;
      case "mean_time":
        v = K.meanTime(get(node.inputs[0]!));
        break;
      case "cache_concat":
        throw new Error("internal: gradients of incremental-decoding graphs are not supported");
      case "neuron":
        neurons.set(node.id, neuronForward(node, node.inputs.map(get), T, params, compiledNeurons, known?.neuron?.(node)));
        continue;
      case "neuron_out": {
        const nv = neurons.get(node.inputs[0]!)!;
        const f = node.attrs.field as string;
        v = f === "levels" ? nv.levels : f === "scale" ? nv.scale : nv.value;
        if (!v) throw new Error(`internal: neuron has no ${f}`);
        break;
      }
      default: {
        const shape = wholeShape(node, T);
        const k = known?.value(node);
        if (k && sameShape(k.shape, shape)) {
          v = k;
          break;
        }
        const xs = node.inputs.map(get);
        // With known values (the optimized path), what the executor does not hold is
        // computed only if the backward reads it; otherwise now.
        if (known && !shape.includes(-1)) {
          v = deferred(node.type.elem, shape, () => {
            known.computed?.(node);
            const r = forwardOf(node, xs, byId, T);
            if (r.dtype !== node.type.elem || !sameShape(r.shape, shape)) throw new Error(`internal: %${node.id} (${node.op}) computed ${r.dtype} [${r.shape.join(", ")}], its type says ${node.type.elem} [${shape.join(", ")}]`);
            return r.data;
          });
        } else v = forwardOf(node, xs, byId, T);
      }
    }
    values.set(node.id, v);
  }
  return { values, neurons };
}

/** An op node's value from its inputs' values, as the reference interpreter's multi-step mode computes it. */
function forwardOf(node: IRNode, xs: readonly Tensor[], byId: ReadonlyMap<number, IRNode>, T: number): Tensor {
  const def = opDef(node.op);
  const timed = node.inputs.map((i) => byId.get(i)!.type.timed);
  if (!node.type.timed) return def.forward!(xs, { attrs: node.attrs });
  if (def.time === "batched") return def.forward!(alignsOverTime(node) ? alignForTime(xs, timed) : xs, { attrs: node.attrs });
  const steps: Tensor[] = [];
  for (let t = 0; t < T; t++) steps.push(def.forward!(xs.map((x, i) => (timed[i] ? sliceLeading(x, t) : x)), { attrs: node.attrs }));
  return stackSteps(steps);
}

/** A node's value shape over the whole time axis: [T, ...per-step shape] when timed. */
function wholeShape(node: IRNode, T: number): number[] {
  const per = node.type.shape.map((d) => dimValue(d) ?? -1);
  return node.type.timed ? [T, ...per] : per;
}
