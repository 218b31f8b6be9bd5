/**
 * The gradient engine (API documented in ./index.ts). Implementation in progress.
 */
import type { Tensor } from "../engine/tensor.js";
import type { Graph } from "../ir/graph.js";
import type { Mode } from "../reference/interpreter.js";
import type { ParamStore } from "../runtime/params.js";

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
  constructor(
    readonly graph: Graph,
    readonly params: ParamStore,
    readonly options: GradientOptions = {},
  ) {}

  run(_inputs: ReadonlyMap<string, Tensor>, _seed: GradSeed): GradientResult {
    throw new Error("internal: GradientEngine.run is not implemented yet");
  }
}

export function gradients(graph: Graph, params: ParamStore, inputs: ReadonlyMap<string, Tensor>, seed: GradSeed, options: GradientOptions = {}): GradientResult {
  return new GradientEngine(graph, params, options).run(inputs, seed);
}
