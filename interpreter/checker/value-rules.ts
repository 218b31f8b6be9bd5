/**
 * Value-set ("spike type") rules: which values an elementwise op's result can hold, given
 * its operands'. One row per op; anything without a row is `real`.
 *
 *   heaviside(x)                  -> {0,1}
 *   sign(x)                       -> {-1,0,1}
 *   round(x)                      -> int
 *   clamp(int, lo, hi)            -> {lo..hi}         (constant integer bounds)
 *   levels (+ - *) levels         -> pairwise results (e.g. 1 - s: {0,1,2})
 *   per-step scalar * levels      -> levels · scale   (a scaled spike; handled by the elaborator,
 *                                                       which also knows the scale's node)
 */
import { INT, MAX_LEVELS, REAL, type ValueSet, levels } from "../types/tensor-type.js";

const map = (v: ValueSet, f: (x: number) => number): ValueSet =>
  v.kind === "levels" ? levels(v.levels.map(f)) : v.kind === "int" ? INT : REAL;

const integerPreserving = (v: ValueSet): ValueSet => (v.kind === "levels" || v.kind === "int" ? INT : REAL);

export const unaryValueRules: Record<string, (v: ValueSet) => ValueSet> = {
  neg: (v) => map(v, (x) => -x),
  abs: (v) => map(v, Math.abs),
  round: (v) => (v.kind === "levels" ? v : INT),
  sign: (v) => (v.kind === "levels" ? map(v, Math.sign) : levels([-1, 0, 1])),
  heaviside: (v) => (v.kind === "levels" ? map(v, (x) => (x >= 0 ? 1 : 0)) : levels([0, 1])),
  relu: (v) => map(v, (x) => Math.max(0, x)),
};

function pairwise(a: ValueSet, b: ValueSet, f: (x: number, y: number) => number): ValueSet {
  if (a.kind === "levels" && b.kind === "levels") {
    const out: number[] = [];
    for (const x of a.levels) for (const y of b.levels) out.push(f(x, y));
    return levels(out);
  }
  if ((a.kind === "levels" || a.kind === "int") && (b.kind === "levels" || b.kind === "int")) return INT;
  return REAL;
}

export const binaryValueRules: Record<string, (a: ValueSet, b: ValueSet) => ValueSet> = {
  add: (a, b) => pairwise(a, b, (x, y) => x + y),
  sub: (a, b) => pairwise(a, b, (x, y) => x - y),
  mul: (a, b) => pairwise(a, b, (x, y) => x * y),
  max: (a, b) => pairwise(a, b, Math.max),
  min: (a, b) => pairwise(a, b, Math.min),
  at_least: (a, b) => pairwise(a, b, (x, y) => (x > y ? x : y)),
};

export function clampValues(x: ValueSet, lo: number | undefined, hi: number | undefined): ValueSet {
  const clampTo = (v: number) => Math.min(Math.max(v, lo ?? -Infinity), hi ?? Infinity);
  if (x.kind === "levels") return levels(x.levels.map(clampTo));
  // A range wider than a level set can hold is just `int`; listing `clamp(x, -1e9, 1)` first
  // would build a billion-element array.
  if (x.kind === "int" && lo !== undefined && hi !== undefined && Number.isInteger(lo) && Number.isInteger(hi) && hi >= lo && hi - lo < MAX_LEVELS) {
    const out: number[] = [];
    for (let v = Math.ceil(lo); v <= hi; v++) out.push(v);
    return levels(out);
  }
  return integerPreserving(x) === INT && x.kind !== "real" ? INT : REAL;
}

/** The value set of a scalar constant. */
export function constValues(v: number): ValueSet {
  return Number.isInteger(v) ? levels([v]) : REAL;
}
