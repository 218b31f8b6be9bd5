/**
 * Backward kernels of the last-axis ops (softmax, layernorm), reductions, gather
 * and the layout ops. Same numerics as ./elementwise.ts: double accumulation, one float32
 * rounding per output element, fixed ascending order.
 */
import { normalizeAxis } from "../ops/checks.js";
import * as K from "../ops/index.js";
import { type F32Tensor, type Tensor, f32, numel, stridesOf } from "../tensor.js";
import { allocF32, allocF64, f32From } from "../arena.js";

/** softmax over the last axis, y its output: dL/dx = y ⊙ (g − Σ g⊙y) per row. */
export function softmaxGrad(y: Tensor, g: F32Tensor): F32Tensor {
  const n = y.shape[y.shape.length - 1]!;
  const rows = n === 0 ? 0 : y.data.length / n;
  const out = allocF32(y.data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let dot = 0;
    for (let i = 0; i < n; i++) dot += g.data[base + i]! * y.data[base + i]!;
    for (let i = 0; i < n; i++) out[base + i] = y.data[base + i]! * (g.data[base + i]! - dot);
  }
  return f32(y.shape, out);
}

/**
 * layernorm(x, gamma, beta, eps) over the last axis (biased variance), per row with
 * xhat = (x − mean)·inv, inv = 1/sqrt(var + eps), gh = g⊙gamma:
 *   dL/dx = inv · (gh − mean(gh) − xhat · mean(gh⊙xhat)),  dL/dgamma = Σ g⊙xhat,  dL/dbeta = Σ g.
 * The row statistics are recomputed in double from x.
 */
export function layernormGrad(x: Tensor, gamma: Tensor, g: F32Tensor, eps: number): [F32Tensor, F32Tensor, F32Tensor] {
  const d = x.shape[x.shape.length - 1]!;
  const rows = d === 0 ? 0 : x.data.length / d;
  const gx = allocF32(x.data.length);
  const gg = allocF64(d);
  const gbeta = allocF64(d);
  const xhat = allocF64(d);
  const gh = allocF64(d);
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x.data[base + i]!;
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x.data[base + i]! - mean) ** 2;
    v /= d;
    const inv = 1 / Math.sqrt(v + eps);
    let sgh = 0;
    let sghx = 0;
    for (let i = 0; i < d; i++) {
      xhat[i] = (x.data[base + i]! - mean) * inv;
      gh[i] = g.data[base + i]! * gamma.data[i]!;
      sgh += gh[i]!;
      sghx += gh[i]! * xhat[i]!;
      gg[i] = gg[i]! + g.data[base + i]! * xhat[i]!;
      gbeta[i] = gbeta[i]! + g.data[base + i]!;
    }
    for (let i = 0; i < d; i++) gx[base + i] = inv * (gh[i]! - sgh / d - (xhat[i]! * sghx) / d);
  }
  return [f32(x.shape, gx), f32([d], f32From(gg)), f32([d], f32From(gbeta))];
}

/**
 * sum / mean / max over one axis (or everything): the gradient spreads back over the
 * reduced positions (mean divides by their count; max gives it to the first maximum).
 */
export function reduceGrad(kind: "sum" | "mean" | "max", x: Tensor, y: Tensor, g: F32Tensor, axis: number | undefined): F32Tensor {
  const rank = x.shape.length;
  let outer: number, n: number, inner: number;
  if (axis === undefined) {
    outer = 1;
    n = x.data.length;
    inner = 1;
  } else {
    const ax = normalizeAxis(axis, rank, kind);
    outer = numel(x.shape.slice(0, ax));
    n = x.shape[ax]!;
    inner = numel(x.shape.slice(ax + 1));
  }
  const out = allocF32(x.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      const gv = g.data[o * inner + i]!;
      if (kind === "max") {
        const m = y.data[o * inner + i]!;
        for (let k = 0; k < n; k++) {
          const v = x.data[base + k * inner]!;
          if (v === m || (Number.isNaN(m) && Number.isNaN(v))) {
            out[base + k * inner] = gv;
            break;
          }
        }
      } else {
        const v = kind === "mean" ? gv / n : gv;
        for (let k = 0; k < n; k++) out[base + k * inner] = v;
      }
    }
  }
  return f32(x.shape, out);
}

/**
 * gather(table [N, D], ids): dL/dtable row r = Σ over the positions p with ids[p] = r of g[p]
 * (ascending p, in double). Rows equal to `pad` (an embedding's padding id) get none.
 */
export function gatherGrad(tableShape: readonly number[], ids: Tensor, g: F32Tensor, pad: number | undefined): F32Tensor {
  const [N, D] = tableShape as [number, number];
  const acc = allocF64(N * D);
  for (let p = 0; p < ids.data.length; p++) {
    const id = ids.data[p]!;
    if (id === pad) continue;
    for (let j = 0; j < D; j++) acc[id * D + j] = acc[id * D + j]! + g.data[p * D + j]!;
  }
  return f32([N, D], f32From(acc));
}

/** The inverse permutation: transpose(transpose(x, p), inversePerm(p)) = x. */
function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((a, i) => (inv[a] = i));
  return inv;
}

/** transpose(x, perm) backward: the gradient transposed back. */
export function transposeGrad(xShape: readonly number[], perm: readonly number[] | undefined, g: F32Tensor): F32Tensor {
  const rank = xShape.length;
  const p = perm && perm.length ? perm.map((a) => normalizeAxis(a, rank, "transpose")) : [...Array(rank).keys()].map((i) => (i === rank - 2 ? rank - 1 : i === rank - 1 ? rank - 2 : i));
  return K.transpose(g, inversePerm(p));
}

/** index(x, items) backward: the gradient written back into the selected positions of zeros. */
export function indexGrad(xShape: readonly number[], items: readonly K.IndexItem[], g: F32Tensor): F32Tensor {
  const rank = xShape.length;
  const starts: number[] = [];
  const counts: number[] = [];
  for (let ax = 0; ax < rank; ax++) {
    const size = xShape[ax]!;
    const it = items[ax];
    if (typeof it === "number") {
      starts.push(it < 0 ? it + size : it);
      counts.push(1);
    } else {
      const clampTo = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
      const s = clampTo(it?.start ?? 0);
      starts.push(s);
      counts.push(Math.max(0, clampTo(it?.end ?? size) - s));
    }
  }
  const strides = stridesOf(xShape);
  const out = allocF32(numel(xShape));
  const coord = new Array<number>(rank).fill(0);
  const n = numel(counts);
  for (let flat = 0; flat < n; flat++) {
    let dst = 0;
    for (let ax = 0; ax < rank; ax++) dst += (starts[ax]! + coord[ax]!) * strides[ax]!;
    out[dst] = g.data[flat]!;
    for (let ax = rank - 1; ax >= 0; ax--) {
      if (++coord[ax]! < counts[ax]!) break;
      coord[ax] = 0;
    }
  }
  return f32(xShape, out);
}
