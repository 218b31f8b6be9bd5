/**
 * The checker's type of a tensor: element type, whether it carries the time axis, its
 * per-step shape (the time axis is not listed; `timed` says it is there, leading), and the
 * set of values it can hold (the "spike type").
 */
import { type Dim, dimToString } from "./dims.js";

export type ElemType = "f32" | "i32";

/**
 * What values a tensor can hold.
 * - `real`: any float.
 * - `int`: integer-valued floats (the result of `round`), unbounded.
 * - `levels`: a small finite set of integers, e.g. {0,1} or {-1,0,1}: a spike.
 * - `scaled`: levels times a per-step scalar amplitude: `alpha[t] * s`. `scaleName` is what
 *   hover shows; the IR carries the levels and scale tensors separately so a matmul can
 *   accumulate the levels and scale once.
 */
export type ValueSet =
  | { readonly kind: "real" }
  | { readonly kind: "int" }
  | { readonly kind: "levels"; readonly levels: readonly number[] }
  | { readonly kind: "scaled"; readonly levels: readonly number[]; readonly scaleName: string };

export const REAL: ValueSet = { kind: "real" };
export const INT: ValueSet = { kind: "int" };

/** Level sets larger than this are widened to `int`: they are no longer spike-like. */
export const MAX_LEVELS = 16;

export function levels(values: Iterable<number>): ValueSet {
  const set = [...new Set([...values].map((v) => (Object.is(v, -0) ? 0 : v)))].sort((a, b) => a - b);
  if (set.length > MAX_LEVELS || set.some((v) => !Number.isInteger(v))) return set.every(Number.isInteger) ? INT : REAL;
  return { kind: "levels", levels: set };
}

export interface TensorType {
  readonly elem: ElemType;
  readonly timed: boolean;
  readonly shape: readonly Dim[];
  readonly values: ValueSet;
}

export function isSpike(v: ValueSet): v is Extract<ValueSet, { kind: "levels" | "scaled" }> {
  return (v.kind === "levels" && v.levels.every((x) => x >= -1 && x <= 1)) || v.kind === "scaled";
}

function valueSetToString(v: ValueSet): string {
  switch (v.kind) {
    case "real":
      return "";
    case "int":
      return "int-valued";
    case "levels":
      return `spike{${v.levels.join(",")}}`;
    case "scaled":
      return `spike{${v.levels.join(",")}}·${v.scaleName}`;
  }
}

function shapeToString(t: Pick<TensorType, "timed" | "shape">, timeName = "T"): string {
  const dims = t.shape.map(dimToString);
  if (t.timed) dims.unshift(timeName);
  return `[${dims.join(", ")}]`;
}

/** `f32[T, B, L, 64]` and, for spikes, ` spike{-1,0,1}·alpha`. */
export function typeToString(t: TensorType, timeName = "T"): string {
  const base = `${t.elem === "i32" ? "int" : "f32"}${shapeToString(t, timeName)}`;
  const vs = valueSetToString(t.values);
  return vs ? `${base} ${vs}` : base;
}
