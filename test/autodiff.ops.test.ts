/**
 * Each float op's backward rule (interpreter/ir/ops.ts, `grad`) against float64 central
 * differences of an independent float64 forward, on random shapes and values.
 *
 * For an op f and a random probe p, L(x) = Σ f(x)·p. The rule's dL/dx (from float32
 * forward values, each element rounded to float32) must match (L(x + h e) − L(x − h e)) / 2h
 * computed entirely in float64, per input element, within 1e-4 × max|dL/dx| (+ 1e-6).
 * Values are drawn away from the kinks of abs, relu, max/min, clamp and at_least, where the
 * derivative is a convention (documented in docs/language.md) rather than a limit.
 *
 * Layout ops and gather are linear maps that copy elements: their rule must be the exact
 * transpose, <J v, g> = <v, Jᵀ g> in float64 on float32 data, with J taken from the forward
 * kernel run on element indices (an integer tensor) rather than from the rule.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as K from "../interpreter/engine/ops/index.js";
import { erf } from "../interpreter/engine/numerics.js";
import { type F32Tensor, type Tensor, f32, i32, numel } from "../interpreter/engine/tensor.js";
import { OPS, opDef } from "../interpreter/ir/ops.js";
import { xorshift32 } from "../interpreter/verify/arbitraries.js";

type F64Fn = (xs: readonly Float64Array[]) => Float64Array;

interface Case {
  readonly op: string;
  readonly shapes: readonly (readonly number[])[];
  readonly attrs?: Record<string, unknown>;
  /** float64 forward on the flat inputs (shapes as given) */
  readonly f64: F64Fn;
  /** values allowed for input k (to stay off kinks and out of domains) */
  readonly ok?: (v: number, k: number) => boolean;
}

const dimArb = fc.integer({ min: 1, max: 4 });
const shapeArb = fc.array(dimArb, { minLength: 1, maxLength: 3 });

function bcastIndex(shape: readonly number[], out: readonly number[]): Int32Array {
  return K.broadcastOffsets(shape, out);
}

const unaryF64: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  tanh: Math.tanh,
  relu: (x) => (x > 0 ? x : 0),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  erf,
};
const unaryOk: Record<string, (x: number) => boolean> = {
  abs: (x) => Math.abs(x) > 0.05,
  relu: (x) => Math.abs(x) > 0.05,
  log: (x) => x > 0.1,
  sqrt: (x) => x > 0.1,
};
const binaryF64: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  // (the op table's "max" is the reduction: the language has no elementwise maximum builtin)
  min: Math.min,
  at_least: (a, b) => (a > b ? a : b),
};

function elementwiseCase(op: string, shapes: number[][]): Case {
  const out = K.broadcastShapes(...shapes);
  const n = numel(out);
  const idx = shapes.map((s) => bcastIndex(s, out));
  if (op in unaryF64) return { op, shapes, f64: ([x]) => x!.map(unaryF64[op]!), ok: unaryOk[op] ? (v) => unaryOk[op]!(v) : undefined };
  if (op === "clamp")
    return {
      op,
      shapes,
      f64: (xs) => Float64Array.from({ length: n }, (_, i) => Math.min(Math.max(xs[0]![idx[0]![i]!]!, xs[1]![idx[1]![i]!]!), xs[2]![idx[2]![i]!]!)),
      // bounds: lo in [-3, -0.5], hi in [0.5, 3]; x away from both
      ok: (v, k) => (k === 1 ? v < -0.5 : k === 2 ? v > 0.5 : true),
    };
  const f = binaryF64[op]!;
  return {
    op,
    shapes,
    f64: (xs) => Float64Array.from({ length: n }, (_, i) => f(xs[0]![idx[0]![i]!]!, xs[1]![idx[1]![i]!]!)),
    ok: op === "div" ? (v, k) => k === 0 || Math.abs(v) > 0.3 : undefined,
  };
}

function matmulF64(aShape: readonly number[], bShape: readonly number[]): F64Fn {
  return ([a, b]) => {
    const [M, Kd] = aShape.slice(-2) as [number, number];
    const N = bShape[bShape.length - 1]!;
    const batch = K.broadcastShapes(aShape.slice(0, -2), bShape.slice(0, -2));
    const oa = K.broadcastOffsets(aShape.slice(0, -2), batch);
    const ob = K.broadcastOffsets(bShape.slice(0, -2), batch);
    const nb = numel(batch);
    const out = new Float64Array(nb * M * N);
    for (let q = 0; q < nb; q++)
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0; k < Kd; k++) s += a![oa[q]! * M * Kd + m * Kd + k]! * b![ob[q]! * Kd * N + k * N + n]!;
          out[q * M * N + m * N + n] = s;
        }
    return out;
  };
}

function rowsF64(shape: readonly number[], f: (row: Float64Array) => Float64Array): (x: Float64Array) => Float64Array {
  const d = shape[shape.length - 1]!;
  return (x) => {
    const out = new Float64Array(x.length);
    for (let r = 0; r < x.length / d; r++) out.set(f(x.subarray(r * d, (r + 1) * d)), r * d);
    return out;
  };
}

const softmaxRow = (row: Float64Array) => {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((p, q) => p + q, 0);
  return e.map((v) => v / s);
};

function reduceF64(kind: "sum" | "mean" | "max", shape: readonly number[], axis: number | undefined): F64Fn {
  return ([x]) => {
    const rank = shape.length;
    const ax = axis === undefined ? undefined : (axis + rank) % rank;
    const outer = ax === undefined ? 1 : numel(shape.slice(0, ax));
    const n = ax === undefined ? x!.length : shape[ax]!;
    const inner = ax === undefined ? 1 : numel(shape.slice(ax + 1));
    const out = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const vals = Array.from({ length: n }, (_, k) => x![o * n * inner + k * inner + i]!);
        out[o * inner + i] = kind === "max" ? Math.max(...vals) : vals.reduce((p, q) => p + q, 0) / (kind === "mean" ? n : 1);
      }
    return out;
  };
}

/** Checks one case with random values from `seed`. */
function checkAgainstFiniteDifferences(c: Case, seed: number): void {
  const r = xorshift32(seed);
  const xs = c.shapes.map((s, k) => {
    const d = new Float32Array(numel(s));
    for (let i = 0; i < d.length; i++) {
      let v = 0;
      for (let tries = 0; tries < 1000; tries++) {
        v = Math.fround((r() * 2 - 1) * 3);
        if (!c.ok || c.ok(v, k)) break;
      }
      d[i] = v;
    }
    return f32(s, d);
  });
  // keep min/at_least off ties: nudge b away from a where they are close
  if (["min", "at_least"].includes(c.op)) {
    const out = K.broadcastShapes(...c.shapes);
    const ia = K.broadcastOffsets(c.shapes[0]!, out);
    const ib = K.broadcastOffsets(c.shapes[1]!, out);
    for (let i = 0; i < numel(out); i++) if (Math.abs(xs[0]!.data[ia[i]!]! - xs[1]!.data[ib[i]!]!) < 0.05) xs[1]!.data[ib[i]!] = Math.fround(xs[0]!.data[ia[i]!]! + 0.5);
  }
  if (c.op === "clamp") {
    const out = K.broadcastShapes(...c.shapes);
    const ix = K.broadcastOffsets(c.shapes[0]!, out);
    const il = K.broadcastOffsets(c.shapes[1]!, out);
    const ih = K.broadcastOffsets(c.shapes[2]!, out);
    for (let i = 0; i < numel(out); i++) {
      const x = xs[0]!.data[ix[i]!]!;
      if (Math.abs(x - xs[1]!.data[il[i]!]!) < 0.05 || Math.abs(x - xs[2]!.data[ih[i]!]!) < 0.05) xs[0]!.data[ix[i]!] = 0;
    }
  }
  const def = opDef(c.op);
  const ctx = { attrs: c.attrs ?? {} };
  const y = def.forward!(xs, ctx);
  const probe = f32(y.shape, Float32Array.from({ length: y.data.length }, () => Math.fround(r() * 2 - 1)));
  const grads = def.grad!(xs, y, probe, ctx);
  const x64 = xs.map((x) => Float64Array.from(x.data));
  const L = (inputs: readonly Float64Array[]) => c.f64(inputs).reduce((s, v, i) => s + v * probe.data[i]!, 0);
  xs.forEach((x, k) => {
    const g = grads[k];
    expect(g, `${c.op} input ${k} has a gradient`).toBeDefined();
    expect(g!.shape).toEqual(x.shape);
    const num = new Float64Array(x.data.length);
    for (let i = 0; i < num.length; i++) {
      const h = 1e-5 * Math.max(1, Math.abs(x64[k]![i]!));
      const plus = x64.map((a) => a.slice());
      const minus = x64.map((a) => a.slice());
      plus[k]![i]! += h;
      minus[k]![i]! -= h;
      num[i] = (L(plus) - L(minus)) / (2 * h);
    }
    const scale = Math.max(...Array.from(num, Math.abs), 1e-2);
    for (let i = 0; i < num.length; i++) expect(Math.abs(g!.data[i]! - num[i]!), `${c.op} input ${k}[${i}] shapes ${JSON.stringify(c.shapes)}`).toBeLessThan(1e-4 * scale + 1e-6);
  });
}

/** Shapes that broadcast to `out`: some axes set to 1, some leading axes dropped. */
const broadcastableTo = (out: number[]) =>
  fc.tuple(fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }), fc.integer({ min: 0, max: out.length })).map(([ones, drop]) =>
    out.map((d, i) => (ones[i] ? 1 : d)).slice(drop),
  );

const seedArb = fc.integer({ min: 1, max: 0x7fffffff });
const RUNS = { numRuns: 40 };

describe("backward rules against float64 central differences", () => {
  it.each(Object.keys(unaryF64))("unary %s", (op) => {
    fc.assert(fc.property(shapeArb, seedArb, (s, seed) => checkAgainstFiniteDifferences(elementwiseCase(op, [s]), seed)), RUNS);
  });

  it.each(Object.keys(binaryF64))("binary %s with broadcasting", (op) => {
    const arb = shapeArb.chain((out) => fc.tuple(fc.constant(out), broadcastableTo(out)));
    fc.assert(
      fc.property(arb, fc.boolean(), seedArb, ([out, other], swap, seed) => checkAgainstFiniteDifferences(elementwiseCase(op, swap ? [other, out] : [out, other]), seed)),
      RUNS,
    );
  });

  it("clamp (gradient to x, lo and hi)", () => {
    const arb = shapeArb.chain((out) => fc.tuple(fc.constant(out), broadcastableTo(out), broadcastableTo(out)));
    fc.assert(fc.property(arb, seedArb, ([out, lo, hi], seed) => checkAgainstFiniteDifferences(elementwiseCase("clamp", [out, lo, hi]), seed)), RUNS);
  });

  it("matmul with broadcast batch axes", () => {
    const arb = fc.tuple(dimArb, dimArb, dimArb, fc.array(dimArb, { maxLength: 2 }), fc.boolean());
    fc.assert(
      fc.property(arb, seedArb, ([M, Kd, N, batch, shareB], seed) => {
        const a = [...batch, M, Kd];
        const b = shareB ? [Kd, N] : [...batch.map((d, i) => (i === 0 ? 1 : d)), Kd, N];
        checkAgainstFiniteDifferences({ op: "matmul", shapes: [a, b], f64: matmulF64(a, b) }, seed);
      }),
      RUNS,
    );
  });

  it("softmax over the last axis", () => {
    fc.assert(fc.property(shapeArb, seedArb, (s, seed) => checkAgainstFiniteDifferences({ op: "softmax", shapes: [s], f64: ([x]) => rowsF64(s, softmaxRow)(x!) }, seed)), RUNS);
  });

  it("layernorm (x, gamma, beta)", () => {
    fc.assert(
      fc.property(shapeArb, fc.constantFrom(1e-12, 1e-5, 0.1), seedArb, (s, eps, seed) => {
        const d = s[s.length - 1]!;
        if (d < 2) return;
        const f64: F64Fn = ([x, g, b]) =>
          rowsF64(s, (row) => {
            const mean = row.reduce((p, q) => p + q, 0) / d;
            const v = row.reduce((p, q) => p + (q - mean) ** 2, 0) / d;
            const inv = 1 / Math.sqrt(v + Math.fround(eps));
            return row.map((q, i) => (q - mean) * inv * g![i]! + b![i]!);
          })(x!);
        checkAgainstFiniteDifferences({ op: "layernorm", shapes: [s, [d], [d]], attrs: { eps: Math.fround(eps) }, f64 }, seed);
      }),
      RUNS,
    );
  });

  it.each(["sum", "mean", "max"] as const)("%s over one axis or everything", (kind) => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: -4, max: 3 }), seedArb, (s, a, seed) => {
        const axis = a < -s.length || a >= s.length ? undefined : a;
        checkAgainstFiniteDifferences({ op: kind, shapes: [s], attrs: { axis: axis ?? null }, f64: reduceF64(kind, s, axis) }, seed);
      }),
      RUNS,
    );
  });
});

/** <J v, g> = <v, Jᵀ g> for a copying op whose forward on indices gives J. */
function checkTranspose(op: string, x: F32Tensor, attrs: Record<string, unknown>, extra: Tensor[] = [], seed = 1): void {
  const r = xorshift32(seed);
  const def = opDef(op);
  const ctx = { attrs };
  const y = def.forward!([x, ...extra], ctx);
  const g = f32(y.shape, Float32Array.from({ length: y.data.length }, () => Math.fround(r() * 2 - 1)));
  const gx = def.grad!([x, ...extra], y, g, ctx)[0]!;
  expect(gx.shape).toEqual(x.shape);
  // J from the forward on element indices: y[i] = x[src[i]]
  const idx = i32(x.shape, Int32Array.from({ length: x.data.length }, (_, i) => i));
  const src = def.forward!([idx, ...extra], ctx).data;
  const want = new Float64Array(x.data.length);
  for (let i = 0; i < src.length; i++) want[src[i]!] = want[src[i]!]! + g.data[i]!;
  for (let i = 0; i < want.length; i++) expect(gx.data[i]).toBe(Math.fround(want[i]!));
}

describe("layout ops and gather: the rule is the exact transpose of the forward", () => {
  const tensorArb = (minRank: number) =>
    fc.tuple(fc.array(dimArb, { minLength: minRank, maxLength: 4 }), seedArb).map(([s, seed]) => {
      const r = xorshift32(seed);
      return f32(s, Float32Array.from({ length: numel(s) }, () => Math.fround(r() * 2 - 1)));
    });

  it("transpose (default and explicit permutations)", () => {
    fc.assert(
      fc.property(tensorArb(2), fc.integer({ min: 0, max: 1000 }), (x, k) => {
        const rank = x.shape.length;
        const perm = [...Array(rank).keys()];
        for (let i = rank - 1; i > 0; i--) {
          const j = (k * (i + 7)) % (i + 1);
          [perm[i], perm[j]] = [perm[j]!, perm[i]!];
        }
        checkTranspose("transpose", x, { perm: k % 3 === 0 ? undefined : perm });
      }),
      RUNS,
    );
  });

  it("reshape, split_heads and merge_heads", () => {
    fc.assert(
      fc.property(tensorArb(2), fc.integer({ min: 1, max: 3 }), (x, h) => {
        checkTranspose("reshape", x, { shape: [numel(x.shape)] });
        const d = x.shape[x.shape.length - 1]!;
        if (d % h === 0) {
          checkTranspose("split_heads", x, { heads: h });
          checkTranspose("merge_heads", K.splitHeads(x, h), {});
        }
      }),
      RUNS,
    );
  });

  it("index with integers and slices", () => {
    fc.assert(
      fc.property(tensorArb(1), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: -3, max: 3 }), fc.integer({ min: -3, max: 4 })), { minLength: 1, maxLength: 4 }), (x, raw) => {
        const items = raw.slice(0, x.shape.length).map(([isInt, a, b], ax) => {
          const size = x.shape[ax]!;
          return isInt ? { index: ((a % size) + size) % size } : { start: a, end: b };
        });
        checkTranspose("index", x, { items });
      }),
      RUNS,
    );
  });

  it("gather: table rows collect the gradients of their ids; the padding id's row gets none", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 8 }), seedArb, (N, D, rawIds, seed) => {
        const r = xorshift32(seed);
        const table = f32([N, D], Float32Array.from({ length: N * D }, () => Math.fround(r() * 2 - 1)));
        const ids = i32([rawIds.length], rawIds.map((v) => v % N));
        checkTranspose("gather", table, {}, [ids], seed);
        const pad = ids.data[0]!;
        const y = K.gather(table, ids);
        const g = f32(y.shape, new Float32Array(y.data.length).fill(1));
        const gt = opDef("gather").grad!([table, ids], y, g, { attrs: { pad } })[0]!;
        expect(Array.from(gt.data.subarray(pad * D, (pad + 1) * D)).every((v) => v === 0)).toBe(true);
        const other = (pad + 1) % N;
        if (other !== pad && Array.from(ids.data).includes(other)) expect(gt.data[other * D]).not.toBe(0);
      }),
      RUNS,
    );
  });
});

describe("rules of the optimized graph's ops equal the rules of what they replace", () => {
  it("fused programs: the steps' rules in reverse, bit for bit", () => {
    fc.assert(
      fc.property(shapeArb, seedArb, (s, seed) => {
        const r = xorshift32(seed);
        const t = (shape: number[]) => f32(shape, Float32Array.from({ length: numel(shape) }, () => Math.fround(r() * 4 - 2)));
        const [a, b, c] = [t(s), t(s.slice(1)), t(s)];
        // tanh(a * b + c) - a, as a program and op by op
        const program = [
          { op: "mul", args: [{ in: 0 }, { in: 1 }] },
          { op: "add", args: [{ tmp: 0 }, { in: 2 }] },
          { op: "tanh", args: [{ tmp: 1 }] },
          { op: "sub", args: [{ tmp: 2 }, { in: 0 }] },
        ];
        const fused = opDef("fused");
        const y = fused.forward!([a, b, c], { attrs: { program } });
        const g = t(y.shape as number[]);
        const [ga, gb, gc] = fused.grad!([a, b, c], y, g, { attrs: { program } }) as F32Tensor[];
        const m = K.binary("mul", a, b);
        const p = K.binary("add", m, c);
        const h = K.unary("tanh", p);
        const [gh, gaDirect] = opDef("sub").grad!([h, a], y, g, { attrs: {} }) as F32Tensor[];
        const [gp] = opDef("tanh").grad!([p], h, gh!, { attrs: {} }) as F32Tensor[];
        const [gm, gc2] = opDef("add").grad!([m, c], p, gp!, { attrs: {} }) as F32Tensor[];
        const [ga2, gb2] = opDef("mul").grad!([a, b], m, gm!, { attrs: {} }) as F32Tensor[];
        // the program adds a's two gradients in reverse step order: the sub's first, then the mul's
        const gaWant = Float32Array.from(gaDirect!.data, (v, i) => v + ga2!.data[i]!);
        expect(Array.from(ga!.data)).toEqual(Array.from(gaWant));
        expect(Array.from(gb!.data)).toEqual(Array.from(gb2!.data));
        expect(Array.from(gc!.data)).toEqual(Array.from(gc2!.data));
      }),
      RUNS,
    );
  });

  it("spike_matmul (forms nn and nt) equals matmul's rule", () => {
    fc.assert(
      fc.property(dimArb, dimArb, dimArb, seedArb, (M, Kd, N, seed) => {
        const r = xorshift32(seed);
        const levels = f32([2, M, Kd], Float32Array.from({ length: 2 * M * Kd }, () => Math.floor(r() * 3) - 1));
        const w = f32([Kd, N], Float32Array.from({ length: Kd * N }, () => Math.fround(r() * 2 - 1)));
        const g = f32([2, M, N], Float32Array.from({ length: 2 * M * N }, () => Math.fround(r() * 2 - 1)));
        const sm = opDef("spike_matmul");
        const y = sm.forward!([levels, w], { attrs: { form: "nn" } });
        const want = opDef("matmul").grad!([levels, w], y, g, { attrs: {} });
        const got = sm.grad!([levels, w], y, g, { attrs: { form: "nn" } });
        want.forEach((t, k) => expect(Array.from(got[k]!.data)).toEqual(Array.from(t!.data)));
        const wt = K.transpose(w);
        const gotNt = sm.grad!([levels, wt], y, g, { attrs: { form: "nt" } });
        expect(Array.from(gotNt[0]!.data)).toEqual(Array.from(want[0]!.data));
        expect(Array.from(gotNt[1]!.data)).toEqual(Array.from(K.transpose(want[1]! as F32Tensor).data));
      }),
      RUNS,
    );
  });
});

describe("the op table", () => {
  it("every op that is not a source or time structure has a gradient rule", () => {
    const missing = [...OPS.values()].filter((d) => d.time !== "special" && !d.grad).map((d) => d.name);
    expect(missing).toEqual([]);
  });
});
