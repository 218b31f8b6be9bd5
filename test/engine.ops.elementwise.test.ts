import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f32, i32, numel, scalar } from "../interpreter/engine/tensor.js";
import {
  ShapeError, binary, binaryScalar, broadcastOffsets, broadcastShapes, clamp, unary, unaryScalar,
} from "../interpreter/engine/ops/index.js";
import type { BinaryOp, UnaryOp } from "../interpreter/engine/ops/index.js";
import { F32_LOWEST } from "../interpreter/engine/numerics.js";

const vals = (t: { data: ArrayLike<number> }) => Array.from(t.data);
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

  it("matches the naive per-coordinate definition (property)", () => {
    const ops: BinaryOp[] = ["add", "sub", "mul", "div", "max", "min", "pow"];
    const shapes = fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }).chain((out) =>
      fc.tuple(
        fc.constant(out),
        fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
        fc.integer({ min: 0, max: out.length }),
      ),
    );
    fc.assert(
      fc.property(fc.constantFrom(...ops), shapes, fc.integer(), (op, [out, ones, drop], seed) => {
        const bShape = out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
        const sample = (n: number) =>
          fc.sample(fc.array(fc.float({ noNaN: true, min: -100, max: 100 }), { minLength: n, maxLength: n }), { numRuns: 1, seed })[0]!;
        const a = f32(out, sample(numel(out)));
        const b = f32(bShape, sample(numel(bShape)));
        const c = binary(op, a, b);
        expect(c.shape).toEqual(out);
        const f = binaryScalar(op);
        const strides = out.map((_, i) => numel(out.slice(i + 1)));
        for (let flat = 0; flat < c.data.length; flat++) {
          const coord = strides.map((s, i) => Math.floor(flat / s) % out[i]!);
          let bi = 0;
          bShape.forEach((d, i) => (bi = bi * d + (d === 1 ? 0 : coord[i + drop]!)));
          expect(Object.is(c.data[flat], Math.fround(f(a.data[flat]!, b.data[bi]!)))).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
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

  it("rounds every op's double result to float32 once (property)", () => {
    const ops: UnaryOp[] = ["neg", "abs", "round", "sign", "heaviside", "exp", "log", "sqrt", "tanh", "relu", "gelu", "erf"];
    fc.assert(
      fc.property(fc.constantFrom(...ops), fc.array(fc.float(), { maxLength: 20 }), (op, xs) => {
        const out = unary(op, f32([xs.length], xs));
        const f = unaryScalar(op);
        xs.forEach((x, i) => expect(Object.is(out.data[i], Math.fround(f(Math.fround(x))))).toBe(true));
      }),
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
