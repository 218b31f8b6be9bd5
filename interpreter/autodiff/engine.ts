/**
 * The gradient engine (API documented in ./index.ts): a forward on the chosen execution
 * path, the forward values on the tape (./tape.ts), then the reverse pass (./backward.ts).
 *
 * The tape holds the reference's multi-step forward values. On the optimized path it takes
 * them from the executor's buffers (kept for the purpose) wherever the optimized graph still
 * has the node, and computes only the rest (neuron steps, nodes fused or merged away): every
 * path computes the reference's bits, so the mix is the reference's forward (the gradient
 * property tests hold the paths to identical gradients). On the reference path in step mode
 * the stepwise run's output is checked against the tape's, bit for bit: a divergence is an
 * internal error instead of a silently wrong gradient.
 */
import { type F32Tensor, type Tensor, f32, i32, numel } from "../engine/tensor.js";
import type { Graph } from "../ir/graph.js";
import { OptimizedExecutor } from "../optimized/executor.js";
import { optimize as runPasses } from "../passes/pass.js";
import { type Mode, ReferenceInterpreter } from "../reference/interpreter.js";
import type { ParamStore } from "../runtime/params.js";
import { UserError } from "../io/errors.js";
import { backward } from "./backward.js";
import { recordForward } from "./tape.js";

export interface GradientOptions {
  /** Also compute the LSQ amplitude gradients (the reference freezes amplitudes). Default false. */
  readonly trainAmplitudes?: boolean;
  /** Forward on the optimized executor (default true) or the reference interpreter. */
  readonly optimize?: boolean;
  /** Forward mode; gradients are identical in both. Default "multi". */
  readonly mode?: Mode;
}

/** A loss on the forward output: its value and dL/doutput (shaped like the output). */
export type LossFn = (output: Tensor) => { readonly loss: number; readonly gradOutput: Tensor };

/** What the backward starts from: dL/doutput, or a loss function of the output. */
export type GradSeed = Tensor | LossFn;

export interface GradientResult {
  readonly output: Tensor;
  readonly loss?: number;
  /** dL/dparam by parameter path (weights always; amplitudes with trainAmplitudes). */
  readonly grads: ReadonlyMap<string, Float32Array>;
  /** dL/dinput by input name, for float inputs. */
  readonly inputGrads: ReadonlyMap<string, Float32Array>;
}

export class GradientEngine {
  private executor?: OptimizedExecutor;

  constructor(
    readonly graph: Graph,
    readonly params: ParamStore,
    readonly options: GradientOptions = {},
  ) {
    // keepValues: the backward reads the forward's values from the executor's buffers
    if (options.optimize ?? true) this.executor = new OptimizedExecutor(runPasses(graph).graph, params, { keepValues: true });
  }

  run(inputs: ReadonlyMap<string, Tensor>, seed: GradSeed): GradientResult {
    const mode = this.options.mode ?? "multi";
    const ex = this.executor;
    let stepwise: Tensor | undefined;
    if (ex) {
      // Parameters may have changed in place since the last run (a training step): the
      // executor must not reuse weight-only values it computed from the old ones.
      ex.paramsChanged();
      ex.run(inputs, { mode });
    } else if (mode === "step") stepwise = new ReferenceInterpreter(this.graph, this.params).run(inputs, { mode }).output;
    const tape = recordForward(this.graph, this.params, inputs, ex ? (node) => ex.valueOf(node.id) : undefined);
    const taped = tape.values.get(this.graph.output)!;
    if (stepwise && !sameBits(stepwise, taped)) throw new Error("internal: the step-mode forward differs from the multi-step forward the gradients are taken on");
    const output = copy(taped);
    let loss: number | undefined;
    let gradOutput: Tensor;
    if (typeof seed === "function") ({ loss, gradOutput } = seed(output));
    else gradOutput = seed;
    if (gradOutput.shape.join() !== output.shape.join())
      throw new UserError(`the output gradient has shape [${gradOutput.shape.join(", ")}] but the output is [${output.shape.join(", ")}]`);
    if (output.dtype !== "f32") throw new UserError("the output is an integer tensor: it has no gradient");
    const g = f32(gradOutput.shape, Float32Array.from(gradOutput.data));
    const r = backward(this.graph, tape, this.params, g);
    const grads = new Map<string, Float32Array>();
    for (const [path, e] of this.params.entries) {
      if (e.spec.kind === "amplitude" && !this.options.trainAmplitudes) continue;
      grads.set(path, r.params.get(path) ?? new Float32Array(numel(e.spec.shape)));
    }
    const inputGrads = new Map<string, Float32Array>();
    for (const { name } of this.graph.inputs) {
      const x = inputs.get(name);
      if (x && x.dtype === "f32") inputGrads.set(name, r.inputs.get(name) ?? new Float32Array(x.data.length));
    }
    return { output, loss, grads, inputGrads };
  }
}

export function gradients(graph: Graph, params: ParamStore, inputs: ReadonlyMap<string, Tensor>, seed: GradSeed, options: GradientOptions = {}): GradientResult {
  return new GradientEngine(graph, params, options).run(inputs, seed);
}

function sameBits(a: Tensor, b: Tensor): boolean {
  if (a.shape.join() !== b.shape.join() || a.data.length !== b.data.length) return false;
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(a.data[i]) && Number.isNaN(b.data[i]))) return false;
  return true;
}

function copy(t: Tensor): Tensor {
  return t.dtype === "i32" ? i32(t.shape, Int32Array.from(t.data)) : (f32(t.shape, Float32Array.from(t.data)) as F32Tensor);
}
