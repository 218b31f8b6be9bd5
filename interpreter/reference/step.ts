/**
 * One time step of a neuron: evaluates the nested step graph on this step's inputs and
 * state. Evaluation is on demand from the step's results, because an amplitude's
 * initialiser (`k * 2 * mean(abs(u))`) must run only on the step that calibrates it.
 */
import { type F32Tensor, type Tensor, f32, numel } from "../engine/tensor.js";
import type { IRNode, StepGraph } from "../ir/graph.js";
import { constTensor, opDef } from "../ir/ops.js";
import type { ParamStore } from "../runtime/params.js";
import { dimValue } from "../types/dims.js";
import { allocF32 } from "../engine/arena.js";

export interface StepResult {
  readonly value: Tensor;
  readonly levels?: F32Tensor;
  readonly scale?: number;
  readonly state: Map<string, Tensor>;
}

export function initialState(body: StepGraph, inputs: readonly Tensor[]): Map<string, Tensor> {
  const state = new Map<string, Tensor>();
  const byId = new Map(body.nodes.map((n) => [n.id, n]));
  for (const s of body.states) {
    const read = byId.get(s.read)!;
    const shape = read.type.shape.map((d) => dimValue(d) ?? 1);
    const widest = inputs.reduce<readonly number[]>((acc, x) => (x.shape.length > acc.length ? x.shape : acc), []);
    const use = shape.length === widest.length ? widest : shape;
    state.set(s.name, f32(use, allocF32(numel(use)).fill(s.init)));
  }
  return state;
}

/** -0 is 0 for a spike level: levels are integers, and every path must store the same bits. */
export function canonicalLevels(t: Tensor): F32Tensor {
  const out = allocF32(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = t.data[i]! + 0;
  return f32(t.shape, out);
}

/**
 * The value of a step node (by id) on this step's inputs and state, evaluated on demand and
 * memoised in `memo`: an amplitude not yet given is calibrated when first asked for.
 */
export function stepEvaluator(
  byId: ReadonlyMap<number, IRNode>,
  inputs: readonly Tensor[],
  state: ReadonlyMap<string, Tensor>,
  t: number,
  params: ParamStore,
  memo = new Map<number, Tensor>(),
): (id: number) => Tensor {
  const evaluate = (id: number): Tensor => {
    const hit = memo.get(id);
    if (hit) return hit;
    const node = byId.get(id);
    if (!node) throw new Error(`internal: step node ${id} missing`);
    let v: Tensor;
    switch (node.op) {
      case "step_input":
        v = inputs[node.attrs.index as number]!;
        break;
      case "step_index":
        v = f32([], [t]);
        break;
      case "state_read":
        v = state.get(node.attrs.name as string)!;
        break;
      case "const":
        v = constTensor(node.attrs.value as number, node.type.elem);
        break;
      case "param":
        v = params.get(node.attrs.path as string).tensor;
        break;
      case "amplitude": {
        const entry = params.get(node.attrs.path as string);
        if (!entry.calibrated![t]) {
          const init = evaluate(node.inputs[0]!);
          entry.tensor.data[t] = init.data[0]!;
          entry.calibrated![t] = true;
        }
        v = f32([], [entry.tensor.data[t]!]);
        break;
      }
      default:
        v = opDef(node.op).forward!(node.inputs.map(evaluate), { attrs: node.attrs });
    }
    memo.set(id, v);
    return v;
  };
  return evaluate;
}

export function runStep(body: StepGraph, inputs: readonly Tensor[], state: ReadonlyMap<string, Tensor>, t: number, params: ParamStore): StepResult {
  const evaluate = stepEvaluator(new Map<number, IRNode>(body.nodes.map((n) => [n.id, n])), inputs, state, t, params);
  const value = evaluate(body.emit.value);
  const levels = body.emit.levels !== undefined ? canonicalLevels(evaluate(body.emit.levels)) : undefined;
  const scale = body.emit.scale !== undefined ? evaluate(body.emit.scale).data[0] : undefined;
  const next = new Map<string, Tensor>();
  for (const s of body.states) next.set(s.name, evaluate(s.write));
  return { value, levels, scale, state: next };
}
