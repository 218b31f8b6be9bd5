/**
 * The IR: an immutable graph of tensor ops, produced by the elaborator from checked ASTs
 * and rewritten by passes (with immer). Node ids are unique; `nodes` is in topological
 * order (every input precedes its user), which every pass must preserve.
 *
 * A neuron call is one `neuron` node whose `body` is a nested step graph (the neuron's
 * `step`, run once per time step, reading `step_input`, `state_read` and `step_index`
 * nodes); its outputs are read with `neuron_out` nodes, one per `field`: the emitted `value`
 * and, for a spike, its `levels` and per-step `scale`. Keeping the step body nested, rather
 * than unrolled over T, is what lets the same graph run whole-time-axis (multi-step) or one
 * step at a time (streaming).
 */
import type { Span } from "../../grammar/source.js";
import type { TensorType } from "../types/tensor-type.js";

export type InitSpec =
  | { readonly kind: "zeros" }
  | { readonly kind: "ones" }
  | { readonly kind: "uniform"; readonly bound: number }
  | { readonly kind: "normal"; readonly std: number }
  | { readonly kind: "fill"; readonly value: number };

export interface Origin {
  readonly uri: string;
  readonly span: Span;
}

export interface IRNode {
  readonly id: number;
  readonly op: string;
  readonly inputs: readonly number[];
  /** Op-specific attributes; plain data (numbers, strings, arrays, nested step graphs). */
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly type: TensorType;
  readonly origin?: Origin;
}

/** A learned tensor: a `weight`, or an `amplitude` (shape [T], calibrated on first use). */
export interface ParamSpec {
  readonly path: string;
  readonly kind: "weight" | "amplitude";
  readonly shape: readonly number[];
  readonly init: InitSpec;
  readonly origin?: Origin;
}

export interface StateSpec {
  readonly name: string;
  /** The state's value before the first step (a scalar broadcast to the input's shape). */
  readonly init: number;
  /** The `state_read` node in the body. */
  readonly read: number;
  /** The node holding the value at the end of the step (the next step's read). */
  readonly write: number;
}

export interface StepGraph {
  readonly nodes: readonly IRNode[];
  /** `step_input` nodes, one per step parameter. */
  readonly inputs: readonly number[];
  readonly states: readonly StateSpec[];
  /**
   * What the step emits. For a spike: the levels node and, when scaled, the per-step scale
   * node; `value` is the emitted expression itself (levels × scale), used when the spike is
   * consumed as a float.
   */
  readonly emit: { readonly value: number; readonly levels?: number; readonly scale?: number };
}

export interface NeuronAttrs {
  readonly path: string;
  readonly neuron: string;
  readonly body: StepGraph;
}

/** A recorded layer output (`--record PATH`): the node holding the output of the layer instance at `path`. */
export interface GraphTap {
  readonly path: string;
  readonly node: number;
}

export interface Graph {
  readonly nodes: readonly IRNode[];
  readonly inputs: readonly { readonly name: string; readonly node: number }[];
  readonly output: number;
  /**
   * Layer outputs the run must hand back besides `output`. Like `output`, passes keep these
   * nodes alive and materialised (never fused away) and remap them when they merge nodes.
   */
  readonly taps?: readonly GraphTap[];
  readonly params: readonly ParamSpec[];
  /** Number of time steps the graph was elaborated for. */
  readonly timesteps: number;
}

/** Mutable builder used by the elaborator; the result is frozen data. */
export class GraphBuilder {
  readonly nodes: IRNode[] = [];
  /** By id: a linear search per lookup made elaborating a deep model quadratic. */
  private readonly byId = new Map<number, IRNode>();
  constructor(private nextId: { value: number }) {}
  add(op: string, inputs: readonly number[], type: TensorType, attrs: Record<string, unknown> = {}, origin?: Origin): number {
    const id = this.nextId.value++;
    const node: IRNode = { id, op, inputs, attrs, type, origin };
    this.nodes.push(node);
    this.byId.set(id, node);
    return id;
  }
  get(id: number): IRNode | undefined {
    return this.byId.get(id);
  }
}
