import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f32, i32, numel, scalar } from "../interpreter/engine/tensor.js";
import {
  ShapeError, binary, broadcastOffsets, broadcastShapes, clamp, unary,
} from "../interpreter/engine/ops/index.js";
import type { BinaryOp, UnaryOp } from "../interpreter/engine/ops/index.js";
import { F32_LOWEST } from "../interpreter/engine/numerics.js";

const vals = (t: { data: ArrayLike<number> }) => Array.from(t.data);

/*
 * Oracles written here, independent of the scalar functions in the module under test: float64
 * Math operations then one Math.fround. For + - * / of float32 operands that is the IEEE
 * float32 result (a double holds the exact sum or product of two float32s, and 53 >= 2·24 + 2
 * makes the double rounding of a quotient innocuous). Signed zeros and NaN follow torch.
 */
const isNeg0 = (x: number) => Object.is(x, -0);
const BINARY_ORACLE: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => Math.fround(a + b),
  sub: (a, b) => Math.fround(a - b),
  mul: (a, b) => Math.fround(a * b),
  div: (a, b) => Math.fround(a / b),
  // torch.maximum / minimum: NaN if either is NaN; +0 is larger than -0
  max: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a === 0 && b === 0 ? (isNeg0(a) && isNeg0(b) ? -0 : 0) : a > b ? a : b),
  min: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a === 0 && b === 0 ? (isNeg0(a) || isNeg0(b) ? -0 : 0) : a < b ? a : b),
  // C99 Annex F pow: pow(x, ±0) = 1 and pow(1, y) = 1 even for NaN; pow(-1, ±Inf) = 1
  pow: (a, b) => (b === 0 || a === 1 ? 1 : Number.isNaN(a) || Number.isNaN(b) ? NaN : a === -1 && !Number.isFinite(b) ? 1 : Math.fround(Math.pow(a, b))),
  // the reference's where(a > b, a, b): anything not greater (NaN included) gives b
  at_least: (a, b) => (a > b ? a : b),
};
const BINARY_OPS = Object.keys(BINARY_ORACLE) as BinaryOp[];

/**
 * Round half to even, by its definition: the nearest integer, and of two equally near the even
 * one; a zero result keeps the input's sign (torch.round(-0.4) = -0). x - floor(x) is exact
 * wherever a tie is possible (|x| >= 1/2).
 */
function roundHalfEvenOracle(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const d = x - f;
  const r = d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  return r === 0 && (x < 0 || isNeg0(x)) ? -0 : r;
}

const UNARY_ORACLE: Record<Exclude<UnaryOp, "erf" | "gelu">, (x: number) => number> = {
  neg: (x) => -x,
  abs: (x) => (x < 0 || isNeg0(x) ? -x : x),
  round: roundHalfEvenOracle,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  heaviside: (x) => (x >= 0 ? 1 : 0),
  exp: (x) => Math.fround(Math.exp(x)),
  log: (x) => Math.fround(Math.log(x)),
  sqrt: (x) => Math.fround(Math.sqrt(x)),
  tanh: (x) => Math.fround(Math.tanh(x)),
  relu: (x) => (Number.isNaN(x) ? NaN : x > 0 ? x : 0),
};
const UNARY_OPS: UnaryOp[] = [...(Object.keys(UNARY_ORACLE) as UnaryOp[]), "erf", "gelu"];

/** erf by its Maclaurin series (|x| < 3) or the continued fraction of erfc, in double. */
function erfOracle(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === 0) return x; // erf(±0) = ±0
  const a = Math.abs(x);
  if (a < 3) {
    let sum = 0;
    let term = a;
    for (let n = 0; n < 120 && term !== 0; n++) {
      sum += term / (2 * n + 1);
      term *= (-a * a) / (n + 1);
    }
    return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI);
  }
  let f = 0;
  for (let n = 80; n >= 1; n--) f = n / 2 / (a + f);
  return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f));
}

/** One float32 ulp at |v|. */
function ulp32(v: number): number {
  const a = Math.abs(v);
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** Edge cases: ±0, ±1, ±Inf, NaN, subnormals, the smallest normal, ties, the largest float32. */
const SPECIALS = [0, -0, 1, -1, Infinity, -Infinity, NaN, 2 ** -149, -(2 ** -140), 1.1754942106924411e-38, 0.5, -2.5, 3.4028234663852886e38];

/** float32 values with the edge cases mixed in often. */
const float32Arb = fc.oneof(
  { weight: 3, arbitrary: fc.float() },
  { weight: 1, arbitrary: fc.constantFrom(...SPECIALS) },
  { weight: 2, arbitrary: fc.float({ noNaN: true, min: -100, max: 100 }) },
);

/** An output shape, the second operand's shape broadcast into it, and two independently drawn operands. */
const binaryCase = fc
  .array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 })
  .chain((out) => fc.tuple(fc.constant(out), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }), fc.integer({ min: 0, max: out.length })))
  .chain(([out, ones, drop]) => {
    const bShape = out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
    const arr = (n: number) => fc.array(float32Arb, { minLength: n, maxLength: n });
    return fc.record({ out: fc.constant(out), bShape: fc.constant(bShape), drop: fc.constant(drop), a: arr(numel(out)), b: arr(numel(bShape)) });
  });

const bits = (xs: ArrayLike<number>) => Array.from(xs, (v) => (Object.is(v, -0) ? "-0" : Number.isNaN(v) ? "NaN" : v));

describe("broadcasting", () => {
  it("aligns shapes on the right", () => {
    expect(broadcastShapes([2, 3], [3])).toEqual([2, 3]);
    expect(broadcastShapes([2, 1], [1, 3])).toEqual([2, 3]);
    expect(broadcastShapes([4, 1, 5], [3, 1])).toEqual([4, 3, 5]);
    expect(broadcastShapes([], [2])).toEqual([2]);
    expect(broadcastShapes([0], [1])).toEqual([0]);
    expect(broadcastShapes()).toEqual([]);
  });

  it("throws ShapeError mentioning both shapes", () => {
    expect(() => broadcastShapes([2, 3], [4])).toThrow(ShapeError);
    expect(() => broadcastShapes([2, 3], [4])).toThrow("cannot broadcast shapes [2, 3] and [4]");
    expect(() => binary("add", f32([2, 3]), f32([2]))).toThrow(/\[2, 3\].*\[2\]/);
    expect(() => clamp(f32([3]), f32([2]), f32([1]))).toThrow(/\[3\].*\[2\].*\[1\]/);
  });

  it("maps output elements to input elements", () => {
    expect(Array.from(broadcastOffsets([2, 1], [2, 3]))).toEqual([0, 0, 0, 1, 1, 1]);
    expect(Array.from(broadcastOffsets([3], [2, 3]))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(Array.from(broadcastOffsets([], [2]))).toEqual([0, 0]);
    expect(() => broadcastOffsets([2], [3])).toThrow(ShapeError);
  });
});

describe("binary", () => {
  it("adds with broadcasting", () => {
    const c = binary("add", f32([2, 3], [1, 2, 3, 4, 5, 6]), f32([3], [10, 20, 30]));
    expect(c.shape).toEqual([2, 3]);
    expect(vals(c)).toEqual([11, 22, 33, 14, 25, 36]);
    const d = binary("mul", f32([2, 1], [2, 3]), f32([1, 3], [1, 10, 100]));
    expect(vals(d)).toEqual([2, 20, 200, 3, 30, 300]);
  });

  it("rounds each result to float32 once", () => {
    expect(binary("div", scalar(1), scalar(3)).data[0]).toBe(Math.fround(1 / 3));
    expect(binary("add", scalar(16777216), scalar(1)).data[0]).toBe(16777216);
    expect(binary("pow", scalar(2), scalar(0.5)).data[0]).toBe(Math.fround(Math.SQRT2));
  });

  it("follows IEEE / torch for special values", () => {
    expect(bits(binary("div", f32([3], [1, -1, 0]), f32([3], [0, 0, 0])).data)).toEqual([Infinity, -Infinity, "NaN"]);
    expect(bits(binary("max", f32([3], [-0, NaN, 1]), f32([3], [0, 1, NaN])).data)).toEqual([0, "NaN", "NaN"]);
    expect(bits(binary("min", f32([1], [-0]), f32([1], [0])).data)).toEqual(["-0"]);
    expect(bits(binary("pow", f32([3], [1, -1, 0]), f32([3], [NaN, Infinity, 0])).data)).toEqual([1, 1, 1]);
  });

  it("matches an independent per-coordinate definition, with independent operands and special values (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...BINARY_OPS), binaryCase, (op, { out, bShape, drop, a: aData, b: bData }) => {
        const a = f32(out, aData);
        const b = f32(bShape, bData);
        const c = binary(op, a, b);
        expect(c.shape).toEqual(out);
        const f = BINARY_ORACLE[op];
        const strides = out.map((_, i) => numel(out.slice(i + 1)));
        for (let flat = 0; flat < c.data.length; flat++) {
          const coord = strides.map((s, i) => Math.floor(flat / s) % out[i]!);
          let bi = 0;
          bShape.forEach((d, i) => (bi = bi * d + (d === 1 ? 0 : coord[i + drop]!)));
          const x = a.data[flat]!;
          const y = b.data[bi]!;
          expect(bits([c.data[flat]!]), `${op}(${x}, ${y})`).toEqual(bits([f(x, y)]));
        }
      }),
      { numRuns: 400 },
    );
  });

  it("matches the independent definition on every pair of special values", () => {
    const xs = SPECIALS.flatMap((a) => SPECIALS.map(() => a));
    const ys = SPECIALS.flatMap(() => SPECIALS);
    for (const op of BINARY_OPS) {
      const c = binary(op, f32([xs.length], xs), f32([ys.length], ys));
      xs.forEach((x, i) => expect(bits([c.data[i]!]), `${op}(${x}, ${ys[i]})`).toEqual(bits([BINARY_ORACLE[op](x, ys[i]!)])));
    }
  });

  it("the property's operands are independent and reach the special values", () => {
    const cases = fc.sample(binaryCase, { numRuns: 400, seed: 42 });
    const same = cases.filter((c) => c.a.length === c.b.length && c.a.every((v, i) => Object.is(v, c.b[i]))).length;
    expect(same / cases.length).toBeLessThan(0.05);
    const all = cases.flatMap((c) => [...c.a, ...c.b]);
    for (const v of [-0, Infinity, -Infinity]) expect(all.some((x) => Object.is(x, v)), String(v)).toBe(true);
    expect(all.some((x) => Number.isNaN(x))).toBe(true);
    expect(all.some((x) => x !== 0 && Math.abs(x) < 2 ** -126)).toBe(true); // subnormal
  });

  it("rejects i32 inputs (use toF32)", () => {
    expect(() => binary("add", i32([1], [1]), f32([1], [1]))).toThrow(/toF32/);
  });
});

describe("unary", () => {
  const u = (op: UnaryOp, xs: number[]) => bits(unary(op, f32([xs.length], xs)).data);

  it("computes the documented scalar functions", () => {
    expect(u("neg", [1, 0, -2])).toEqual([-1, "-0", 2]);
    expect(u("abs", [-1.5, -0, 2])).toEqual([1.5, 0, 2]);
    expect(u("round", [0.5, 1.5, 2.5, -0.5, -1.5, NaN])).toEqual([0, 2, 2, "-0", -2, "NaN"]);
    expect(u("sign", [-3, -0, 0, 4, NaN])).toEqual([-1, 0, 0, 1, 0]);
    expect(u("heaviside", [-1, -0, 0, 0.1, NaN])).toEqual([0, 1, 1, 1, 0]);
    expect(u("relu", [-1, -0, 2, NaN])).toEqual([0, 0, 2, "NaN"]);
    expect(u("exp", [0, 1])).toEqual([1, Math.fround(Math.E)]);
    expect(u("log", [1, 0, -1])).toEqual([0, -Infinity, "NaN"]);
    expect(u("sqrt", [4, 2, -1])).toEqual([2, Math.fround(Math.SQRT2), "NaN"]);
    expect(u("tanh", [0, 100])).toEqual([0, 1]);
    expect(u("gelu", [0, 1])).toEqual([0, 0.8413447737693787]);
    expect(u("erf", [0, 0.5])).toEqual([0, Math.fround(0.5204998778130465)]);
  });

  it("matches an independent definition of every op, special values included (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...UNARY_OPS), fc.array(float32Arb, { maxLength: 20 }), (op, xs) => {
        const out = unary(op, f32([xs.length], xs));
        Float32Array.from(xs).forEach((x, i) => {
          const got = out.data[i]!;
          if (op === "erf" || op === "gelu") {
            // An independent series / continued-fraction erf, good to ~1e-12: within one float32
            // ulp, plus for gelu the ~1e-16 absolute error of 1 + erf in double times |x|/2
            // (the op's definition cancels there, as PyTorch's formula does).
            const want = op === "erf" ? erfOracle(x) : 0.5 * x * (1 + erfOracle(x / Math.SQRT2));
            if (Number.isNaN(want)) return expect(got, `${op}(${x})`).toBeNaN();
            if (!Number.isFinite(want)) return expect(got, `${op}(${x})`).toBe(want);
            const tol = ulp32(want) + (op === "gelu" ? Math.abs(x) * 2e-16 : 0);
            return expect(Math.abs(got - want), `${op}(${x}) = ${got}, want ${want}`).toBeLessThanOrEqual(tol);
          }
          expect(bits([got]), `${op}(${x})`).toEqual(bits([UNARY_ORACLE[op](x)]));
        });
      }),
      { numRuns: 300 },
    );
  });

  it("keeps the shape, including rank 0", () => {
    expect(unary("neg", scalar(2)).shape).toEqual([]);
    expect(unary("neg", f32([2, 0])).shape).toEqual([2, 0]);
  });
});

describe("clamp", () => {
  it("is min(max(x, lo), hi) with broadcasting", () => {
    const x = f32([2, 3], [-5, 0, 5, -0.4, 0.6, 2]);
    const c = clamp(x, scalar(-1), f32([3], [1, 1, 0.5]));
    expect(vals(c)).toEqual([-1, 0, 0.5, Math.fround(-0.4), Math.fround(0.6), 0.5]);
    expect(bits(clamp(f32([1], [NaN]), scalar(-1), scalar(1)).data)).toEqual(["NaN"]);
    expect(vals(clamp(f32([1], [F32_LOWEST]), scalar(-1), scalar(1)))).toEqual([-1]);
  });
});
