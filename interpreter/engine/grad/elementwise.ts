/**
 * Backward kernels of the elementwise ops (vector-Jacobian products).
 *
 * Numerics: each gradient element is computed in double from float32 operands and rounded
 * to float32 once, like the forward ops. Where an input was broadcast, its gradient is the
 * sum over the broadcast positions, accumulated in double in ascending flat order and
 * rounded once (`unbroadcast`): summing in double keeps weight gradients accurate when they
 * collect thousands of terms, and a fixed order keeps them deterministic.
 *
 * The gradients of the non-differentiable builtins are rules of the language
 * (docs/language.md, "Gradients"): round and sign pass the gradient straight through,
 * clamp passes it where lo <= x <= hi (ends included), heaviside uses a rectangular
 * surrogate of width 1 centred on 0.
 */
import { erf } from "../numerics.js";
import { broadcastLayout, broadcastOffsets } from "../ops/broadcast.js";
import { type F32Tensor, type Tensor, f32, numel, sameShape } from "../tensor.js";
import { allocF32, allocF64, f32From } from "../arena.js";

/** Half-width of heaviside's rectangular surrogate: d/dx heaviside(x) := 1 where |x| <= 1/2. */
const HEAVISIDE_HALF_WIDTH = 0.5;

/** The gradient of a value broadcast from `shape` to g's shape: sum over the broadcast positions. */
export function unbroadcast(g: F32Tensor, shape: readonly number[]): F32Tensor {
  if (sameShape(g.shape, shape)) return g;
  if (numel(shape) === 1) {
    // a scalar operand: the sum of every element, ascending, as the general loop adds them
    let s = 0;
    for (let i = 0; i < g.data.length; i++) s += g.data[i]!;
    return f32(shape, [s]);
  }
  const lay = broadcastLayout(shape, g.shape);
  if (lay) {
    // contiguous blocks or whole periods: the same sums in the same ascending order
    const acc = allocF64(numel(shape));
    const n = g.data.length;
    const size = lay.size;
    if (lay.kind === "block")
      for (let s0 = 0, k = 0; s0 < n; s0 += size, k++) {
        let s = acc[k]!;
        for (let i = s0; i < s0 + size; i++) s += g.data[i]!;
        acc[k] = s;
      }
    else for (let s0 = 0; s0 < n; s0 += size) for (let j = 0; j < size; j++) acc[j] = acc[j]! + g.data[s0 + j]!;
    return f32(shape, f32From(acc));
  }
  const off = broadcastOffsets(shape, g.shape);
  const acc = allocF64(numel(shape));
  for (let i = 0; i < g.data.length; i++) acc[off[i]!] = acc[off[i]!]! + g.data[i]!;
  return f32(shape, f32From(acc));
}

/** dL/dx of a unary op from x, its output y and dL/dy (same shapes). */
export function unaryGrad(op: string, x: Tensor, y: Tensor, g: F32Tensor): F32Tensor {
  const n = g.data.length;
  const out = allocF32(n);
  const xd = x.data;
  const yd = y.data;
  const gd = g.data;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) out[i] = -gd[i]!;
      break;
    case "abs":
      // d|x|/dx = sign(x), 0 at 0 (PyTorch's sgn)
      for (let i = 0; i < n; i++) out[i] = xd[i]! > 0 ? gd[i]! : xd[i]! < 0 ? -gd[i]! : 0;
      break;
    case "round":
    case "sign":
      // straight-through: the language's rule for round and sign
      out.set(gd);
      break;
    case "heaviside":
      for (let i = 0; i < n; i++) out[i] = Math.abs(xd[i]!) <= HEAVISIDE_HALF_WIDTH ? gd[i]! : 0;
      break;
    case "exp":
      for (let i = 0; i < n; i++) out[i] = gd[i]! * yd[i]!;
      break;
    case "log":
      for (let i = 0; i < n; i++) out[i] = gd[i]! / xd[i]!;
      break;
    case "sqrt":
      for (let i = 0; i < n; i++) out[i] = gd[i]! / (2 * yd[i]!);
      break;
    case "tanh":
      for (let i = 0; i < n; i++) out[i] = gd[i]! * (1 - yd[i]! * yd[i]!);
      break;
    case "relu":
      // PyTorch's threshold_backward: zero where the output is <= 0
      for (let i = 0; i < n; i++) out[i] = yd[i]! > 0 ? gd[i]! : 0;
      break;
    case "gelu":
      for (let i = 0; i < n; i++) {
        const v = xd[i]!;
        const cdf = 0.5 * (1 + erf(v * Math.SQRT1_2));
        const pdf = Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
        out[i] = gd[i]! * (cdf + v * pdf);
      }
      break;
    case "erf":
      for (let i = 0; i < n; i++) out[i] = (gd[i]! * 2 * Math.exp(-xd[i]! * xd[i]!)) / Math.sqrt(Math.PI);
      break;
    default:
      throw new Error(`internal: no gradient rule for unary op "${op}"`);
  }
  return f32(g.shape, out);
}

/**
 * dL/da and dL/db of a broadcasting binary op. max/min/at_least send the gradient to the
 * operand they selected; max and min split a tie evenly, as PyTorch's maximum/minimum do;
 * at_least (`where(a > b, a, b)`) gives it to b on a tie, as `where` does.
 */
export function binaryGrad(op: string, a: Tensor, b: Tensor, g: F32Tensor): [F32Tensor, F32Tensor] {
  const shape = g.shape;
  // add and sub pass g itself (negated for sub's b): no per-element work beyond unbroadcast
  if (op === "add") return [unbroadcast(g, a.shape), unbroadcast(g, b.shape)];
  if (op === "sub") return [unbroadcast(g, a.shape), unbroadcast(scaleGrad(g, -1), b.shape)];
  if (op === "mul" || op === "div") {
    const direct = mulDivGradDirect(op, a.data as Float32Array, b.data as Float32Array, g) ?? mulDivGradLaidOut(op, a, b, g);
    if (direct) return [unbroadcast(direct[0], a.shape), unbroadcast(direct[1], b.shape)];
  }
  // operands of the output's shape are read directly; broadcast ones through offsets
  const ia = sameShape(a.shape, shape) ? undefined : broadcastOffsets(a.shape, shape);
  const ib = sameShape(b.shape, shape) ? undefined : broadcastOffsets(b.shape, shape);
  const n = g.data.length;
  const ga = allocF32(n);
  const gb = allocF32(n);
  const ad = a.data;
  const bd = b.data;
  const gd = g.data;
  const xAt = (i: number) => ad[ia ? ia[i]! : i]!;
  const yAt = (i: number) => bd[ib ? ib[i]! : i]!;
  switch (op) {
    case "mul":
      for (let i = 0; i < n; i++) {
        ga[i] = gd[i]! * yAt(i);
        gb[i] = gd[i]! * xAt(i);
      }
      break;
    case "div":
      for (let i = 0; i < n; i++) {
        const x = xAt(i);
        const y = yAt(i);
        ga[i] = gd[i]! / y;
        gb[i] = (-gd[i]! * x) / (y * y);
      }
      break;
    case "max":
    case "min":
      for (let i = 0; i < n; i++) {
        const x = xAt(i);
        const y = yAt(i);
        const d = gd[i]!;
        const aWins = op === "max" ? x > y : x < y;
        const tie = x === y;
        ga[i] = tie ? d * 0.5 : aWins ? d : 0;
        gb[i] = tie ? d * 0.5 : aWins ? 0 : d;
      }
      break;
    case "at_least":
      for (let i = 0; i < n; i++) {
        const wins = xAt(i) > yAt(i);
        ga[i] = wins ? gd[i]! : 0;
        gb[i] = wins ? 0 : gd[i]!;
      }
      break;
    default:
      throw new Error(`internal: no gradient rule for binary op "${op}"`);
  }
  return [unbroadcast(f32(shape, ga), a.shape), unbroadcast(f32(shape, gb), b.shape)];
}

/**
 * mul and div when each operand has the output's size or a single element (the usual
 * cases: no offset tables), the same per-element values as binaryGrad's general loop;
 * undefined otherwise.
 */
function mulDivGradDirect(op: "mul" | "div", a: Float32Array, b: Float32Array, g: F32Tensor): [F32Tensor, F32Tensor] | undefined {
  const gd = g.data;
  const n = gd.length;
  if ((a.length !== n && a.length !== 1) || (b.length !== n && b.length !== 1)) return undefined;
  const ga = allocF32(n);
  const gb = allocF32(n);
  const sa = a.length === 1;
  const sb = b.length === 1;
  if (op === "mul") {
    if (!sa && !sb)
      for (let i = 0; i < n; i++) {
        ga[i] = gd[i]! * b[i]!;
        gb[i] = gd[i]! * a[i]!;
      }
    else if (!sa) {
      const y = b[0]!;
      for (let i = 0; i < n; i++) {
        ga[i] = gd[i]! * y;
        gb[i] = gd[i]! * a[i]!;
      }
    } else {
      const x = a[0]!;
      for (let i = 0; i < n; i++) {
        ga[i] = gd[i]! * (sb ? b[0]! : b[i]!);
        gb[i] = gd[i]! * x;
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      const x = sa ? a[0]! : a[i]!;
      const y = sb ? b[0]! : b[i]!;
      ga[i] = gd[i]! / y;
      gb[i] = (-gd[i]! * x) / (y * y);
    }
  }
  return [f32(g.shape, ga), f32(g.shape, gb)];
}

/**
 * mul and div with one operand of the output's size and the other repeated in blocks or
 * periodically (ops/broadcast.ts broadcastLayout): the general loop's per-element values,
 * read by direct indexing; undefined for other layouts.
 */
function mulDivGradLaidOut(op: "mul" | "div", a: Tensor, b: Tensor, g: F32Tensor): [F32Tensor, F32Tensor] | undefined {
  const gd = g.data;
  const n = gd.length;
  const fullA = a.data.length === n;
  if (!fullA && b.data.length !== n) return undefined;
  const lay = broadcastLayout((fullA ? b : a).shape, g.shape);
  if (!lay) return undefined;
  const ad = a.data as Float32Array;
  const bd = b.data as Float32Array;
  const ga = allocF32(n);
  const gb = allocF32(n);
  const size = lay.size;
  // index of the repeated operand's element for output i, walked without division
  const one = (i: number, x: number, y: number) => {
    if (op === "mul") {
      ga[i] = gd[i]! * y;
      gb[i] = gd[i]! * x;
    } else {
      ga[i] = gd[i]! / y;
      gb[i] = (-gd[i]! * x) / (y * y);
    }
  };
  if (lay.kind === "block") {
    for (let s = 0, k = 0; s < n; s += size, k++) {
      if (fullA) {
        const y = bd[k]!;
        for (let i = s; i < s + size; i++) one(i, ad[i]!, y);
      } else {
        const x = ad[k]!;
        for (let i = s; i < s + size; i++) one(i, x, bd[i]!);
      }
    }
  } else {
    for (let s = 0; s < n; s += size) {
      if (fullA) for (let j = 0; j < size; j++) one(s + j, ad[s + j]!, bd[j]!);
      else for (let j = 0; j < size; j++) one(s + j, ad[j]!, bd[s + j]!);
    }
  }
  return [f32(g.shape, ga), f32(g.shape, gb)];
}

/** clamp(x, lo, hi): x gets the gradient where lo <= x <= hi (ends included); lo where x < lo; hi where x > hi. */
export function clampGrad(x: Tensor, lo: Tensor, hi: Tensor, g: F32Tensor): [F32Tensor, F32Tensor, F32Tensor] {
  const shape = g.shape;
  // the usual case (a neuron's window): x of the output's shape, scalar bounds; the bounds'
  // gradients are sums, accumulated in double in ascending order as unbroadcast would
  if (lo.data.length === 1 && hi.data.length === 1 && sameShape(x.shape, shape)) {
    const l = lo.data[0]!;
    const h = hi.data[0]!;
    const gx = allocF32(g.data.length);
    let sl = 0;
    let sh = 0;
    for (let i = 0; i < gx.length; i++) {
      const v = x.data[i]!;
      if (v < l) sl += g.data[i]!;
      else if (v > h) sh += g.data[i]!;
      else if (v >= l && v <= h) gx[i] = g.data[i]!;
    }
    return [f32(shape, gx), f32(lo.shape, [sl]), f32(hi.shape, [sh])];
  }
  const ix = broadcastOffsets(x.shape, shape);
  const il = broadcastOffsets(lo.shape, shape);
  const ih = broadcastOffsets(hi.shape, shape);
  const n = g.data.length;
  const gx = allocF32(n);
  const gl = allocF32(n);
  const gh = allocF32(n);
  for (let i = 0; i < n; i++) {
    const v = x.data[ix[i]!]!;
    const l = lo.data[il[i]!]!;
    const h = hi.data[ih[i]!]!;
    const d = g.data[i]!;
    if (v < l) gl[i] = d;
    else if (v > h) gh[i] = d;
    else if (v >= l && v <= h) gx[i] = d;
  }
  return [unbroadcast(f32(shape, gx), x.shape), unbroadcast(f32(shape, gl), lo.shape), unbroadcast(f32(shape, gh), hi.shape)];
}

/** Elementwise sum of two gradients of one shape, rounded once (accumulating a node's users). */
export function addGrad(a: F32Tensor, b: F32Tensor): F32Tensor {
  const out = allocF32(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i]! + b.data[i]!;
  return f32(a.shape, out);
}

/** Multiplies a gradient by a constant (grad_scale), rounded once per element. */
export function scaleGrad(g: F32Tensor, k: number): F32Tensor {
  const out = allocF32(g.data.length);
  for (let i = 0; i < out.length; i++) out[i] = g.data[i]! * k;
  return f32(g.shape, out);
}

