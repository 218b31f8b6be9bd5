/**
 * The gradient engine (API documented in ./index.ts): a forward on the chosen execution
 * path, the forward values on the tape (./tape.ts), then the reverse pass (./backward.ts).
 *
 * The tape holds the reference's multi-step forward values. On the optimized path it takes
 * them from the executor's buffers (kept for the purpose) wherever the optimized graph still
 * has the node (neuron calls' outputs included), and computes the rest (nodes fused or merged
 * away) only when a backward rule reads it: every path computes the reference's bits, so the
 * mix is the reference's forward (the gradient property tests hold the paths to identical
 * gradients). On the reference path in step mode
 * the stepwise run's output is checked against the tape's, bit for bit: a divergence is an
 * internal error instead of a silently wrong gradient.
 */
import { BufferArena, allocF32, f32From, withArena } from "../engine/arena.js";
import { levelsInto } from "../engine/levels.js";
import { type F32Tensor, type Tensor, f32, numel } from "../engine/tensor.js";
import type { Graph, IRNode } from "../ir/graph.js";
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
  /**
   * Reuse every buffer from one run to the next (training: the same shapes every step). The
   * tape's and the backward's tensors come from a BufferArena planned by the first run, and
   * the results (output, grads, inputGrads) are buffers the engine owns and overwrites on
   * the next run, so a run after the first allocates no tensor storage. Default false:
   * results are fresh arrays the caller owns.
   */
  readonly reuseBuffers?: boolean;
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
  /** With reuseBuffers: the step's storage, and the results' buffers by name. */
  private readonly arena?: BufferArena;
  /** With reuseBuffers on the optimized path: the executor's temporaries. */
  private readonly scratch?: BufferArena;
  private readonly kept = new Map<string, Float32Array>();
  /** Nodes whose values the tape computed in this run (the backward read them; the executor does not hold them). */
  private readonly computed = new Set<number>();
  private replanned = false;

  constructor(
    readonly graph: Graph,
    readonly params: ParamStore,
    readonly options: GradientOptions = {},
  ) {
    if (options.optimize ?? true) this.executor = executorKeeping(graph, params, new Set());
    if (options.reuseBuffers) {
      this.arena = new BufferArena();
      if (this.executor) this.scratch = new BufferArena();
    }
  }

  /** Buffers this engine's arena has created (constant after the first run when nothing else changes). */
  get buffersCreated(): number {
    return (this.arena?.created ?? 0) + (this.scratch?.created ?? 0);
  }

  run(inputs: ReadonlyMap<string, Tensor>, seed: GradSeed): GradientResult {
    const mode = this.options.mode ?? "multi";
    const ex = this.executor;
    let stepwise: Tensor | undefined;
    if (ex) {
      // Parameters may have changed in place since the last run (a training step): the
      // executor must not reuse weight-only values it computed from the old ones.
      ex.paramsChanged();
      // The executor copies what it keeps into its planned buffers: the temporaries of its
      // reference fallbacks (a causal mask, ...) come from a scratch arena of their own.
      this.scratch?.reset();
      withArena(this.scratch, () => ex.run(inputs, { mode }));
    } else if (mode === "step") stepwise = new ReferenceInterpreter(this.graph, this.params).run(inputs, { mode }).output;
    // Outside the arena: the executor keeps its buffers (and weight-only values) across runs.
    this.arena?.reset();
    this.computed.clear();
    const r = withArena(this.arena, () => this.gradients(inputs, seed, stepwise));
    if (ex && this.arena && !this.replanned) {
      // Training runs again and again: once, after the first run, the executor is planned
      // again to keep the values the backward read but the fused graph did not hold, so
      // later runs compute none of the forward a second time.
      this.replanned = true;
      if (this.computed.size > 0) {
        ex.release();
        this.executor = executorKeeping(this.graph, this.params, this.computed);
      }
    }
    return r;
  }

  /** Nodes whose values the last run's tape had to compute itself (for tests and benchmarks). */
  get computedByTape(): ReadonlySet<number> {
    return this.computed;
  }

  private gradients(inputs: ReadonlyMap<string, Tensor>, seed: GradSeed, stepwise: Tensor | undefined): GradientResult {
    const ex = this.executor;
    const known = ex && { value: (node: IRNode) => ex.valueOf(node.id) ?? levelsAsFloats(ex.levelsOf(node.id)), neuron: (node: IRNode) => ex.neuronOutputs(node.id), computed: (node: IRNode) => void this.computed.add(node.id) };
    const tape = recordForward(this.graph, this.params, inputs, known, !(this.options.trainAmplitudes ?? false));
    const taped = tape.values.get(this.graph.output)!;
    if (stepwise && !sameBits(stepwise, taped)) throw new Error("internal: the step-mode forward differs from the multi-step forward the gradients are taken on");
    const output = this.result("output", taped);
    let loss: number | undefined;
    let gradOutput: Tensor;
    if (typeof seed === "function") ({ loss, gradOutput } = seed(output));
    else gradOutput = seed;
    if (gradOutput.shape.join() !== output.shape.join())
      throw new UserError(`the output gradient has shape [${gradOutput.shape.join(", ")}] but the output is [${output.shape.join(", ")}]`);
    if (output.dtype !== "f32") throw new UserError("the output is an integer tensor: it has no gradient");
    const g = f32(gradOutput.shape, f32From(gradOutput.data));
    const r = backward(this.graph, tape, this.params, g);
    const grads = new Map<string, Float32Array>();
    for (const [path, e] of this.params.entries) {
      if (e.spec.kind === "amplitude" && !this.options.trainAmplitudes) continue;
      grads.set(path, this.keep(`grad ${path}`, r.params.get(path), numel(e.spec.shape)));
    }
    const inputGrads = new Map<string, Float32Array>();
    for (const { name } of this.graph.inputs) {
      const x = inputs.get(name);
      if (x && x.dtype === "f32") inputGrads.set(name, this.keep(`input ${name}`, r.inputs.get(name), x.data.length));
    }
    return { output, loss, grads, inputGrads };
  }

  /** A result's storage: fresh, or (reuseBuffers) the engine's own buffer for `key`, overwritten. */
  private keep(key: string, data: Float32Array | undefined, n: number): Float32Array {
    if (!this.arena) return data ?? new Float32Array(n);
    let b = this.kept.get(key);
    if (!b || b.length !== n) this.kept.set(key, (b = new Float32Array(n)));
    if (data) b.set(data);
    else b.fill(0);
    return b;
  }

  /** The forward output handed to the caller: a copy (integer outputs always fresh). */
  private result(key: string, t: Tensor): Tensor {
    if (t.dtype === "i32" || !this.arena) return copy(t);
    return { dtype: "f32", shape: [...t.shape], data: this.keep(key, t.data as Float32Array, t.data.length) } as F32Tensor;
  }
}

/** Spike levels the executor holds as int8 (a layout op on levels), read back as the floats the reference holds. */
function levelsAsFloats(v: { readonly data: Int8Array; readonly shape: readonly number[] } | undefined): Tensor | undefined {
  return v && f32(v.shape, levelsInto(v.data, allocF32(v.data.length)));
}

/**
 * The optimized executor the tape reads (keepValues: every node's buffer kept after a run),
 * on the optimized graph with the nodes `keep` materialised: passed to the passes as taps
 * (which they keep and never fuse away), dropped again before the executor sees the graph
 * (it would copy taps out on every run).
 */
function executorKeeping(graph: Graph, params: ParamStore, keep: ReadonlySet<number>): OptimizedExecutor {
  const mark = "\u0000backward reads ";
  const extra = [...keep].map((node) => ({ path: `${mark}%${node}`, node }));
  const opt = runPasses(extra.length ? { ...graph, taps: [...(graph.taps ?? []), ...extra] } : graph).graph;
  const taps = opt.taps?.filter((t) => !t.path.startsWith(mark));
  return new OptimizedExecutor({ ...opt, taps }, params, { keepValues: true });
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

/** A copy the caller owns (never from an arena). */
function copy(t: Tensor): Tensor {
  return t.dtype === "i32" ? { dtype: "i32", shape: [...t.shape], data: Int32Array.from(t.data) } : { dtype: "f32", shape: [...t.shape], data: Float32Array.from(t.data) };
}
