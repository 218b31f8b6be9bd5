/**
 * Shape rules on symbolic dimensions, and unification of a declared signature against the
 * shapes a call passes. Rules return a result or a message; the elaborator turns messages
 * into diagnostics at the right expression.
 */
import { type Dim, type DimSymbol, dimEquals, dimToString, dimValue, divDim, subDim, symbolsOf, substDim } from "../types/dims.js";

export type ShapeResult = { ok: true; shape: Dim[] } | { ok: false; message: string };

export function shapeStr(shape: readonly Dim[], timed = false, timeName = "T"): string {
  const dims = shape.map(dimToString);
  if (timed) dims.unshift(timeName);
  return `[${dims.join(", ")}]`;
}

const isOne = (d: Dim) => dimValue(d) === 1;

/** NumPy broadcasting, right-aligned; a dimension 1 stretches. */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): ShapeResult {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i];
    const db = b[b.length - n + i];
    if (da === undefined) out.push(db!);
    else if (db === undefined) out.push(da);
    else if (dimEquals(da, db)) out.push(da);
    else if (isOne(da)) out.push(db);
    else if (isOne(db)) out.push(da);
    else
      return {
        ok: false,
        message: `shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast: axis ${i - n} is ${dimToString(da)} in one and ${dimToString(db)} in the other`,
      };
  }
  return { ok: true, shape: out };
}

/** [..., M, K] @ [..., K, N] -> [..., M, N] with broadcast batch axes. */
export function matmulShape(a: readonly Dim[], b: readonly Dim[]): ShapeResult | { ok: false; message: string; code: "SPK303" } {
  if (a.length < 2 || b.length < 2)
    return { ok: false, code: "SPK303", message: `\`@\` needs operands with at least 2 axes, found ${shapeStr(a)} and ${shapeStr(b)}` };
  const k1 = a[a.length - 1]!;
  const k2 = b[b.length - 2]!;
  if (!dimEquals(k1, k2))
    return {
      ok: false,
      message: `\`@\` inner dimensions differ: left ${shapeStr(a)} has ${dimToString(k1)} columns, right ${shapeStr(b)} has ${dimToString(k2)} rows`,
    };
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
  if (!batch.ok) return batch;
  return { ok: true, shape: [...batch.shape, a[a.length - 2]!, b[b.length - 1]!] };
}

/**
 * Binds flexible symbols so that `pattern` equals `actual`. Bindings accumulate in `subst`.
 * Returns false if some pair cannot be made equal.
 */
export function unifyDim(pattern: Dim, actual: Dim, subst: Map<number, Dim>): boolean {
  const p = resolve(pattern, subst);
  const a = resolve(actual, subst);
  if (dimEquals(p, a)) return true;
  const free = symbolsOf(p).filter((s) => s.flexible && !subst.has(s.id));
  if (free.length === 1) {
    // Solve c*v (+ rest) = actual for the one free variable when it appears linearly.
    const v = free[0]!;
    const term = p.terms.find((t) => t.factors.some(([s]) => s.id === v.id));
    if (term && term.factors.length === 1 && term.factors[0]![1] === 1) {
      const rest = { terms: p.terms.filter((t) => t !== term) };
      const coef = { terms: [{ num: term.num, den: term.den, factors: [] }] };
      const solved = divDim(subDim(a, rest), coef);
      if (solved) {
        subst.set(v.id, solved);
        return true;
      }
    }
  }
  const freeA = symbolsOf(a).filter((s) => s.flexible && !subst.has(s.id));
  if (freeA.length === 1 && a.terms.length === 1 && a.terms[0]!.factors.length === 1 && a.terms[0]!.num === 1 && a.terms[0]!.den === 1) {
    subst.set(freeA[0]!.id, p);
    return true;
  }
  return false;
}

function resolve(d: Dim, subst: ReadonlyMap<number, Dim>): Dim {
  let cur = d;
  for (let i = 0; i < 8; i++) {
    const next = substDim(cur, (s: DimSymbol) => subst.get(s.id));
    if (dimEquals(next, cur) && symbolsOf(next).every((s) => !subst.has(s.id))) return next;
    cur = next;
  }
  return cur;
}

export function resolveShape(shape: readonly Dim[], subst: ReadonlyMap<number, Dim>): Dim[] {
  return shape.map((d) => resolve(d, subst));
}

export function concreteShape(shape: readonly Dim[]): number[] | undefined {
  const out: number[] = [];
  for (const d of shape) {
    const v = dimValue(d);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}
