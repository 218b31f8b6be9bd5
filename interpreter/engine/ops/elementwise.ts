/**
 * Elementwise float32 ops with NumPy broadcasting.
 *
 * Owns: `binary`, `unary` and `clamp`. Every op reads float32 inputs (i32 must be converted
 * with `toF32` first), computes each element in double precision and rounds it to float32
 * once (`Math.fround`). Inputs are never modified; the result always has fresh storage.
 */

import type { F32Tensor, Tensor } from "../tensor.js";
import { f32, numel } from "../tensor.js";
import { erf, gelu, roundHalfEven } from "../numerics.js";
import { broadcastLayout, broadcastOffsets, broadcastShapes } from "./broadcast.js";
import { expectF32 } from "./checks.js";
import { allocF32 } from "../arena.js";

export type BinaryOp = "add" | "sub" | "mul" | "div" | "max" | "min" | "pow" | "at_least";

export type UnaryOp =
  | "neg" | "abs" | "round" | "sign" | "heaviside" | "exp" | "log" | "sqrt" | "tanh" | "relu" | "gelu" | "erf";

/**
 * C/IEEE `pow` (what torch.pow uses) on top of JS `**`: they differ only in that
 * pow(1, y) = 1 for every y (also NaN) and pow(-1, ±Infinity) = 1, where JS gives NaN.
 */
function powC(a: number, b: number): number {
  if (a === 1) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return a ** b;
}

/**
 * The scalar function of a binary op, in double precision (not yet rounded):
 * add a+b, sub a-b, mul a*b, div a/b (IEEE: x/0 = ±Infinity, 0/0 = NaN),
 * max Math.max(a, b), min Math.min(a, b) (both propagate NaN; max(-0, +0) = +0,
 * min(-0, +0) = -0, like torch.maximum/minimum), pow = C pow (a ** b, except pow(1, y) = 1
 * and pow(-1, ±Infinity) = 1),
 * at_least a > b ? a : b (the reference's `where(alpha > eps, alpha, eps)`: a NaN `a` gives
 * `b`, unlike max; at_least(-0, +0) = +0 and at_least(+0, -0) = -0, as `where` selects).
 */
export function binaryScalar(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case "add": return (a, b) => a + b;
    case "sub": return (a, b) => a - b;
    case "mul": return (a, b) => a * b;
    case "div": return (a, b) => a / b;
    case "max": return Math.max;
    case "min": return Math.min;
    case "pow": return powC;
    case "at_least": return (a, b) => (a > b ? a : b);
  }
}

/**
 * The scalar function of a unary op, in double precision (not yet rounded; the op rounds
 * the result to float32 once):
 * - neg: -x (neg(0) = -0). abs: |x|.
 * - round: `roundHalfEven` (ties to even, keeps -0 for negative inputs that round to zero).
 * - sign: (x > 0) - (x < 0): -1, 0 or 1; sign(±0) = +0 and sign(NaN) = 0, like torch.sign.
 * - heaviside: x >= 0 ? 1 : 0 (heaviside(-0) = 1, heaviside(NaN) = 0).
 * - exp, log, sqrt, tanh: `Math.exp`, `Math.log`, `Math.sqrt`, `Math.tanh` (V8's fdlibm
 *   ports; log(0) = -Infinity, log(x<0) = NaN, sqrt(x<0) = NaN).
 * - relu: x <= 0 ? 0 : x (relu(-0) = +0, relu(NaN) = NaN, like torch.relu).
 * - gelu: 0.5*x*(1 + erf(x/√2)), see `gelu` in numerics.ts. erf: `erf` in numerics.ts.
 */
export function unaryScalar(op: UnaryOp): (x: number) => number {
  switch (op) {
    case "neg": return (x) => -x;
    case "abs": return Math.abs;
    case "round": return roundHalfEven;
    case "sign": return (x) => Number(x > 0) - Number(x < 0);
    case "heaviside": return (x) => (x >= 0 ? 1 : 0);
    case "exp": return Math.exp;
    case "log": return Math.log;
    case "sqrt": return Math.sqrt;
    case "tanh": return Math.tanh;
    case "relu": return (x) => (x <= 0 ? 0 : x);
    case "gelu": return gelu;
    case "erf": return erf;
  }
}

/**
 * `op` applied elementwise to `a` and `b` broadcast together (NumPy rules, ShapeError
 * naming both shapes if incompatible): out[i] = fround(f(a[ia], b[ib])) with f from
 * `binaryScalar`. Both inputs must be f32. For add/sub/mul/div this is exactly the IEEE
 * float32 operation.
 */
export function binary(op: BinaryOp, a: Tensor, b: Tensor): F32Tensor {
  const x = expectF32(a, op);
  const y = expectF32(b, op);
  const f = binaryScalar(op);
  const shape = broadcastShapes(x.shape, y.shape);
  const out = allocF32(numel(shape));
  if (!binaryDirect(op, x.data, y.data, out) && !binaryLaidOut(f, x, y, shape, out)) {
    const ia = broadcastOffsets(x.shape, shape);
    const ib = broadcastOffsets(y.shape, shape);
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(f(x.data[ia[i]!]!, y.data[ib[i]!]!));
  }
  return f32(shape, out);
}

/**
 * One operand of the output's size, the other repeated in blocks (a per-step amplitude
 * [T, 1, 1, 1]) or periodically (a bias [1, 1, d]): direct indexing, the same f and rounding
 * as the general loop; false for other layouts.
 */
function binaryLaidOut(f: (a: number, b: number) => number, x: F32Tensor, y: F32Tensor, shape: readonly number[], out: Float32Array): boolean {
  const n = out.length;
  const fullA = x.data.length === n;
  if (!fullA && y.data.length !== n) return false;
  const other = broadcastLayout((fullA ? y : x).shape, shape);
  if (!other) return false;
  const full = (fullA ? x : y).data;
  const rep = (fullA ? y : x).data;
  const size = other.size;
  if (other.kind === "block") {
    for (let s = 0, k = 0; s < n; s += size, k++) {
      const r = rep[k]!;
      if (fullA) for (let i = s; i < s + size; i++) out[i] = f(full[i]!, r);
      else for (let i = s; i < s + size; i++) out[i] = f(r, full[i]!);
    }
  } else {
    for (let s = 0; s < n; s += size) {
      if (fullA) for (let j = 0; j < size; j++) out[s + j] = f(full[s + j]!, rep[j]!);
      else for (let j = 0; j < size; j++) out[s + j] = f(rep[j]!, full[s + j]!);
    }
  }
  return true;
}

/**
 * The common cases without offset tables, same values: both operands of the output's size
 * (none was broadcast: an operand broadcast along an axis has fewer elements), or one of
 * them a single element. add/sub/mul/div are written out (one loop per op, so each stays
 * monomorphic); false for anything else.
 */
function binaryDirect(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array): boolean {
  const n = out.length;
  const mode = a.length === n && b.length === n ? 0 : a.length === n && b.length === 1 ? 1 : a.length === 1 && b.length === n ? 2 : -1;
  if (mode < 0 || (op !== "add" && op !== "sub" && op !== "mul" && op !== "div")) return false;
  const sa = a[0]!;
  const sb = b[0]!;
  switch (op) {
    case "add":
      if (mode === 0) for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
      else if (mode === 1) for (let i = 0; i < n; i++) out[i] = a[i]! + sb;
      else for (let i = 0; i < n; i++) out[i] = sa + b[i]!;
      return true;
    case "sub":
      if (mode === 0) for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!;
      else if (mode === 1) for (let i = 0; i < n; i++) out[i] = a[i]! - sb;
      else for (let i = 0; i < n; i++) out[i] = sa - b[i]!;
      return true;
    case "mul":
      if (mode === 0) for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!;
      else if (mode === 1) for (let i = 0; i < n; i++) out[i] = a[i]! * sb;
      else for (let i = 0; i < n; i++) out[i] = sa * b[i]!;
      return true;
    case "div":
      if (mode === 0) for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!;
      else if (mode === 1) for (let i = 0; i < n; i++) out[i] = a[i]! / sb;
      else for (let i = 0; i < n; i++) out[i] = sa / b[i]!;
      return true;
  }
}

/** `op` applied to every element: out[i] = fround(f(a[i])) with f from `unaryScalar`. a must be f32. */
export function unary(op: UnaryOp, a: Tensor): F32Tensor {
  const x = expectF32(a, op);
  const f = unaryScalar(op);
  const out = allocF32(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(f(x.data[i]!));
  return f32(x.shape, out);
}

/**
 * clamp(x, lo, hi) = fround(Math.min(Math.max(x, lo), hi)) elementwise, with x, lo and hi
 * broadcast together (ShapeError naming all three shapes). NaN in any input gives NaN; if
 * lo > hi the result is hi (as in torch.clamp). All inputs must be f32.
 */
export function clamp(x: Tensor, lo: Tensor, hi: Tensor): F32Tensor {
  const t = expectF32(x, "clamp");
  const l = expectF32(lo, "clamp");
  const h = expectF32(hi, "clamp");
  const shape = broadcastShapes(t.shape, l.shape, h.shape);
  if (l.data.length === 1 && h.data.length === 1 && t.data.length === numel(shape)) {
    // scalar bounds (a neuron's window): no offset tables, same values
    const lo1 = l.data[0]!;
    const hi1 = h.data[0]!;
    const out = allocF32(t.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(t.data[i]!, lo1), hi1);
    return f32(shape, out);
  }
  const it = broadcastOffsets(t.shape, shape);
  const il = broadcastOffsets(l.shape, shape);
  const ih = broadcastOffsets(h.shape, shape);
  const out = allocF32(numel(shape));
  for (let i = 0; i < out.length; i++)
    out[i] = Math.fround(Math.min(Math.max(t.data[it[i]!]!, l.data[il[i]!]!), h.data[ih[i]!]!));
  return f32(shape, out);
}
