/**
 * Compile-time values of the elaborator: what a name or expression denotes while a spec is
 * checked and lowered. Tensors are IR nodes with their type; everything else (numbers,
 * constructors, instances) exists only at compile time.
 */
import type { ModuleDecl, NeuronDecl } from "../../grammar/ast.js";
import type { Dim } from "../types/dims.js";
import type { TensorType } from "../types/tensor-type.js";

/** A compile-time number: `value` when known, always a dimension-algebra term. */
export interface NumValue {
  readonly kind: "num";
  readonly value?: number;
  readonly dim: Dim;
}

export interface BoolValue {
  readonly kind: "bool";
  readonly value?: boolean;
}

export interface StringValue {
  readonly kind: "string";
  readonly value: string;
}

/** A layer or neuron with its constructor arguments bound, not yet placed in a field. */
export interface CtorValue {
  readonly kind: "ctor";
  readonly decl: NeuronDecl | ModuleDecl;
  readonly uri: string;
  readonly args: ReadonlyMap<string, Value>;
}

/** A field's instance: owns its parameters (under `path`) and, for neurons, its state. */
export interface InstanceValue {
  readonly kind: "instance";
  readonly ctor: CtorValue;
  readonly path: string;
}

/** `repeat n { ... }`: instances applied in sequence. */
export interface StackValue {
  readonly kind: "stack";
  readonly items: readonly InstanceValue[];
  readonly path: string;
  /**
   * Checking generically with a constant count: `items` holds one representative copy,
   * applied this many times (copies are identical, so n instances are not needed).
   */
  readonly applied?: number;
}

export interface TensorValue {
  readonly kind: "tensor";
  readonly node: number;
  readonly type: TensorType;
  /** For spikes: the node of the integer levels and of the per-step scale (when scaled). */
  readonly levels?: number;
  readonly scale?: number;
}

export interface BuiltinValue {
  readonly kind: "builtin";
  readonly name: string;
}

export interface InitValue {
  readonly kind: "init";
  readonly name: string;
  readonly args: readonly number[];
}

/** Something whose kind is not known while checking generically; suppresses follow-on errors. */
export interface UnknownValue {
  readonly kind: "unknown";
}

export type Value =
  | NumValue
  | BoolValue
  | StringValue
  | CtorValue
  | InstanceValue
  | StackValue
  | TensorValue
  | BuiltinValue
  | InitValue
  | UnknownValue
  | WeightValue;

export const UNKNOWN: UnknownValue = { kind: "unknown" };

export function describeValue(v: Value): string {
  switch (v.kind) {
    case "num":
      return "a number";
    case "bool":
      return "a boolean";
    case "string":
      return "a string";
    case "ctor":
      return `a ${v.decl.kind === "Neuron" ? "neuron" : v.decl.kind === "Model" ? "model" : "layer"} constructor \`${v.decl.name.name}(...)\``;
    case "instance":
      return `the ${v.ctor.decl.kind === "Neuron" ? "neuron" : "layer"} instance \`${v.path}\``;
    case "stack":
      return `the stack \`${v.path}\``;
    case "tensor":
      return "a tensor";
    case "builtin":
      return `the builtin \`${v.name}\``;
    case "init":
      return `the initialiser \`${v.name}\``;
    case "unknown":
      return "a value";
    case "weight":
      return `the weight \`${v.path}\``;
  }
}

/** A `weight` field: becomes a `param` node where a forward body uses it. */
export interface WeightValue {
  readonly kind: "weight";
  readonly path: string;
  readonly shape: readonly import("../types/dims.js").Dim[];
}
