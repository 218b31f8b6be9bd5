/**
 * A neuron call forward with every step's node values kept (`neuronForward`, run by the
 * tape), and backpropagation through time over them: the step graph walked backward from
 * the last step to the first. At each step the seeds are the gradients of what the step emitted (value,
 * levels, scale) and of the states it wrote (coming back from the next step's reads).
 *
 * What flows where follows the op table's rules; the neuron's own structure adds:
 * - `state_read` at step t passes its gradient to the state's write at step t - 1
 *   (the initial state is a constant: nothing flows out of step 0's reads);
 * - `amplitude` collects its gradient per step (alpha[t]); its initialiser (the
 *   calibration `2 * mean(abs(u))`) sets the value once and carries no gradient;
 * - `step_input` collects the gradient of the neuron's input at step t.
 */
import { type F32Tensor, type Tensor, f32, sliceLeading, stackSteps } from "../engine/tensor.js";
import type { IRNode, NeuronAttrs, StepGraph } from "../ir/graph.js";
import { opDef } from "../ir/ops.js";
import { canonicalLevels, initialState, stepEvaluator } from "../reference/step.js";
import type { ParamStore } from "../runtime/params.js";
import { allocF32 } from "../engine/arena.js";
import { levelsInto } from "../engine/levels.js";
import { dimValue } from "../types/dims.js";
import type { NeuronKernel } from "../optimized/neuron-codegen.js";
import { GradAccumulator } from "./accumulate.js";
import { type CompiledNeuronBackward, compileNeuronBackward, compileNeuronForward } from "./neuron-compiled.js";

export interface NeuronGradSeeds {
  readonly value?: F32Tensor;
  readonly levels?: F32Tensor;
  readonly scale?: F32Tensor;
}

export interface ParamSink {
  /** Adds a gradient to a weight (whole tensor) used inside the step. */
  weight(path: string, g: F32Tensor): void;
  /** Adds a gradient to amplitude `path` at step t. */
  amplitude(path: string, t: number, g: number): void;
}

/**
 * Every node value of one step, evaluated on demand in the reference's runStep order (emit
 * value, levels, scale, then the states), so an amplitude not yet given is calibrated at
 * the same point and to the same value as the reference interpreter calibrates it.
 */
function evaluateStep(body: StepGraph, byId: ReadonlyMap<number, IRNode>, inputs: readonly Tensor[], state: ReadonlyMap<string, Tensor>, t: number, params: ParamStore): Map<number, Tensor> {
  const memo = new Map<number, Tensor>();
  const evaluate = stepEvaluator(byId, inputs, state, t, params, memo);
  evaluate(body.emit.value);
  if (body.emit.levels !== undefined) evaluate(body.emit.levels);
  if (body.emit.scale !== undefined) evaluate(body.emit.scale);
  for (const s of body.states) evaluate(s.write);
  return memo;
}

export interface NeuronForward {
  /** Each step's node values by body node id (empty when `compiled`). */
  readonly steps: readonly Map<number, Tensor>[];
  /** Set when the backward runs compiled per element (./neuron-compiled.ts), recomputing the steps itself: where it reads the amplitudes. */
  readonly compiled?: { readonly params: ParamStore };
  /** What the neuron emitted, stacked over time (levels canonical: -0 stored as 0). */
  readonly value: Tensor;
  readonly levels?: F32Tensor;
  readonly scale?: F32Tensor;
}

/** A neuron call's outputs another path computed (the optimized executor's buffers, whole time axis). */
export interface KnownNeuronOutputs {
  readonly value?: Float32Array;
  /** Canonical float levels, or int8 levels (NaN as NAN_LEVEL). */
  readonly levels?: Int8Array | Float32Array;
  readonly scale?: Float32Array;
}

/** Compiled kernels per neuron node (the graph is reused every training step). */
const compiledCache = new WeakMap<IRNode, { n: number; T: number; node: IRNode; forward: NeuronKernel; backward: Map<string, CompiledNeuronBackward | undefined> } | null>();

/** The body with each node's per-step shape as numbers in attrs.outShape, or undefined if one is symbolic. */
function shapedBody(body: StepGraph): StepGraph | undefined {
  const nodes: IRNode[] = [];
  for (const x of body.nodes) {
    const dims = x.type.shape.map((d) => dimValue(d));
    if (dims.some((d) => d === undefined)) return undefined;
    nodes.push({ ...x, attrs: { ...x.attrs, outShape: dims } });
  }
  return { ...body, nodes };
}

/** The compiled backward of a call whose forward compiled, for the seeds it is given. */
function backwardFor(node: IRNode, T: number, n: number, seeds: { value: boolean; levels: boolean }): CompiledNeuronBackward | undefined {
  const c = compiledCache.get(node);
  const key = `${T}:${n}:${seeds.value}:${seeds.levels}`;
  if (!c) return undefined;
  if (!c.backward.has(key)) c.backward.set(key, compileNeuronBackward(c.node, T, n, seeds));
  return c.backward.get(key);
}

/**
 * The call's forward on the compiled step, with the compiled backward ready, when both
 * compile (./neuron-compiled.ts says when), every amplitude is calibrated and every input is
 * float; otherwise undefined.
 */
function compiledForward(node: IRNode, xs: readonly Tensor[], T: number, params: ParamStore, known?: KnownNeuronOutputs): NeuronForward | undefined {
  const body = (node.attrs as unknown as NeuronAttrs).body;
  const emitted = body.nodes.find((x) => x.id === body.emit.value);
  const perStep = emitted?.type.shape.map((d) => dimValue(d));
  if (!perStep || perStep.some((d) => d === undefined) || xs.some((x) => x.dtype !== "f32")) return undefined;
  const n = (perStep as number[]).reduce((a, b) => a * b, 1);
  let c = compiledCache.get(node);
  if (c === undefined || (c && (c.n !== n || c.T !== T))) {
    c = null;
    // the compilers read each node's concrete per-step shape (what shape specialisation records)
    const shaped = shapedBody(body);
    if (shaped) {
      const sNode = { ...node, attrs: { ...node.attrs, body: shaped } } as IRNode;
      const forward = compileNeuronForward(shaped, n);
      // whether the backward compiles does not depend on which seeds it gets (./neuron-compiled.ts)
      const backward = forward && forward.params.length === 0 ? compileNeuronBackward(sNode, T, n, { value: true, levels: true }) : undefined;
      if (forward && backward) c = { n, T, node: sNode, forward, backward: new Map([[`${T}:${n}:true:true`, backward]]) };
    }
    compiledCache.set(node, c);
  }
  if (!c) return undefined;
  const amps: Float32Array[] = [];
  for (const path of c.forward.amplitudes) {
    const e = params.get(path);
    if (!e.calibrated?.every(Boolean)) return undefined;
    amps.push(e.tensor.data as Float32Array);
  }
  const shape = [T, ...(perStep as number[])];
  // The compiled backward recomputes the steps it needs itself: the tape needs only what the call emitted.
  const have = known && outputsFrom(known, body, T * n, T);
  if (have) return { steps: [], compiled: { params }, value: f32(shape, have.value), levels: have.levels && f32(shape, have.levels), scale: have.scale && f32([T], have.scale) };
  const value = allocF32(T * n);
  const levels = body.emit.levels !== undefined ? allocF32(T * n) : undefined;
  const scale = body.emit.scale !== undefined ? allocF32(T) : undefined;
  const states = body.states.map((st) => allocF32(n).fill(st.init));
  c.forward.run({ inputs: xs.map((x) => x.data as Float32Array), states, amplitudes: amps, params: [], levels, value, scale }, n, 0, T);
  return {
    steps: [],
    compiled: { params },
    value: f32([T, ...(perStep as number[])], value),
    levels: levels ? f32([T, ...(perStep as number[])], levels) : undefined,
    scale: scale ? f32([T], scale) : undefined,
  };
}

/** Every output the body emits, from `known` (int8 levels read back as floats), or undefined if one is missing. */
function outputsFrom(known: KnownNeuronOutputs, body: StepGraph, total: number, T: number): { value: Float32Array; levels?: Float32Array; scale?: Float32Array } | undefined {
  const { value, levels, scale } = known;
  if (value?.length !== total) return undefined;
  if (body.emit.levels !== undefined && levels?.length !== total) return undefined;
  if (body.emit.scale !== undefined && scale?.length !== T) return undefined;
  return {
    value,
    levels: body.emit.levels === undefined ? undefined : levels instanceof Int8Array ? levelsInto(levels, allocF32(total)) : levels,
    scale: body.emit.scale === undefined ? undefined : scale,
  };
}

/**
 * One neuron call over T steps (the reference interpreter's multi-step loop), keeping every
 * step's values; with `compiled`, on the compiled step where it applies (same values), and
 * then not at all when `known` holds every output the call emits.
 */
export function neuronForward(node: IRNode, xs: readonly Tensor[], T: number, params: ParamStore, compiled = false, known?: KnownNeuronOutputs): NeuronForward {
  if (compiled) {
    const fast = compiledForward(node, xs, T, params, known);
    if (fast) return fast;
  }
  const body = (node.attrs as unknown as NeuronAttrs).body;
  const byId = new Map(body.nodes.map((n) => [n.id, n]));
  const steps: Map<number, Tensor>[] = [];
  let state: ReadonlyMap<string, Tensor> = initialState(body, xs.map((x) => sliceLeading(x, 0)));
  for (let t = 0; t < T; t++) {
    const memo = evaluateStep(body, byId, xs.map((x) => sliceLeading(x, t)), state, t, params);
    steps.push(memo);
    const next = new Map<string, Tensor>();
    for (const s of body.states) next.set(s.name, memo.get(s.write)!);
    state = next;
  }
  const e = body.emit;
  return {
    steps,
    value: stackSteps(steps.map((m) => m.get(e.value)!)),
    levels: e.levels !== undefined ? (stackSteps(steps.map((m) => canonicalLevels(m.get(e.levels!)!))) as F32Tensor) : undefined,
    scale: e.scale !== undefined ? f32([T], steps.map((m) => m.get(e.scale!)!.data[0]!)) : undefined,
  };
}

/**
 * dL/dx for each of the neuron's inputs ([T, ...] like them, undefined where nothing flows),
 * adding weight and amplitude gradients to `sink`; `fwd` is the call's forward.
 */
export function neuronBackward(node: IRNode, xs: readonly Tensor[], fwd: NeuronForward, seeds: NeuronGradSeeds, T: number, sink: ParamSink): (F32Tensor | undefined)[] {
  const body = (node.attrs as unknown as NeuronAttrs).body;
  if (fwd.compiled) {
    // Compiled only where amplitudes are not trained; the scale is then a per-step scalar whose
    // gradient reaches nothing but amplitudes and constants (scalars depend only on scalars in
    // a compiled body), so a scale seed changes no gradient returned here.
    const c = backwardFor(node, T, fwd.value.data.length / T, { value: seeds.value !== undefined, levels: seeds.levels !== undefined });
    if (!c) throw new Error("internal: a neuron's backward compiled for its forward but not for its seeds");
    const grads = xs.map((x, k) => (c.inputsWithGrad[k] ? allocF32(x.data.length) : undefined));
    const amps = c.amplitudes.map((p) => fwd.compiled!.params.get(p).tensor.data as Float32Array);
    c.run(xs.map((x) => x.data as Float32Array), amps, seeds.value?.data, seeds.levels?.data, grads, fwd.value.data.length / T);
    return grads.map((d, k) => (d ? f32(xs[k]!.shape, d) : undefined));
  }
  const steps = fwd.steps;
  const inputGrads: (Float32Array | undefined)[] = xs.map(() => undefined);
  let carried = new Map<string, F32Tensor>();
  for (let t = T - 1; t >= 0; t--) {
    const memo = steps[t]!;
    const acc = new GradAccumulator();
    if (seeds.value) acc.add(body.emit.value, sliceLeading(seeds.value, t));
    if (seeds.levels && body.emit.levels !== undefined) acc.add(body.emit.levels, sliceLeading(seeds.levels, t));
    if (seeds.scale && body.emit.scale !== undefined) acc.add(body.emit.scale, sliceLeading(seeds.scale, t));
    for (const s of body.states) {
      const g = carried.get(s.name);
      if (g) acc.add(s.write, g);
    }
    const nextCarried = new Map<string, F32Tensor>();
    for (let i = body.nodes.length - 1; i >= 0; i--) {
      const n = body.nodes[i]!;
      const g = acc.take(n.id);
      if (!g || !memo.has(n.id)) continue;
      switch (n.op) {
        case "step_input": {
          const k = n.attrs.index as number;
          const x = xs[k]!;
          const per = g.data.length;
          if (x.dtype !== "f32") break;
          const buf = (inputGrads[k] ??= allocF32(x.data.length));
          if (per !== x.data.length / T) throw new Error("internal: step input gradient has the wrong size");
          buf.set(g.data, t * per);
          break;
        }
        case "state_read":
          if (t > 0) nextCarried.set(n.attrs.name as string, g);
          break;
        case "amplitude": {
          let s = 0;
          for (let j = 0; j < g.data.length; j++) s += g.data[j]!;
          sink.amplitude(n.attrs.path as string, t, s);
          break;
        }
        case "param":
          sink.weight(n.attrs.path as string, g);
          break;
        case "const":
        case "step_index":
          break;
        default: {
          const rule = opDef(n.op).grad;
          if (!rule) throw new Error(`internal: op "${n.op}" has no gradient rule`);
          const ins = n.inputs.map((id) => memo.get(id)!);
          const gs = rule(ins, memo.get(n.id)!, g, { attrs: n.attrs });
          gs.forEach((gi, k) => {
            if (gi && ins[k]!.dtype === "f32") acc.add(n.inputs[k]!, gi as F32Tensor);
          });
        }
      }
    }
    carried = nextCarried;
  }
  return inputGrads.map((d, k) => (d ? f32(xs[k]!.shape, d) : undefined));
}
