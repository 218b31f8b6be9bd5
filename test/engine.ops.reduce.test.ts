import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f32, numel } from "../interpreter/engine/tensor.js";
import { binary, max, mean, sum } from "../interpreter/engine/ops/index.js";

const vals = (t: { data: ArrayLike<number> }) => Array.from(t.data);

describe("sum / mean / max", () => {
  const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);

  it("reduce over an axis, negative axes and keepdims", () => {
    expect(sum(x, 0).shape).toEqual([3]);
    expect(vals(sum(x, 0))).toEqual([5, 7, 9]);
    expect(vals(sum(x, -1))).toEqual([6, 15]);
    expect(sum(x, 1, true).shape).toEqual([2, 1]);
    expect(vals(mean(x, 1))).toEqual([2, 5]);
    expect(vals(max(x, 0))).toEqual([4, 5, 6]);
    expect(max(x, -2, true).shape).toEqual([1, 3]);
  });

  it("reduce all elements to shape [] without an axis", () => {
    expect(sum(x).shape).toEqual([]);
    expect(vals(sum(x))).toEqual([21]);
    expect(vals(mean(x))).toEqual([3.5]);
    expect(vals(max(x))).toEqual([6]);
    expect(sum(x, undefined, true).shape).toEqual([1, 1]);
  });

  it("accumulate sequentially in float32", () => {
    const t = f32([3], [16777216, 1, 1]);
    expect(vals(sum(t))).toEqual([16777216]);
    expect(vals(sum(f32([3], [1, 1, 16777216])))).toEqual([16777218]);
    expect(vals(mean(f32([3], [0.1, 0.2, 0.3])))).toEqual([
      Math.fround(Math.fround(Math.fround(Math.fround(0.1) + Math.fround(0.2)) + Math.fround(0.3)) / 3),
    ]);
  });

  it("handle empty and special cases", () => {
    expect(vals(sum(f32([0])))).toEqual([0]);
    expect(vals(mean(f32([0])))[0]).toBeNaN();
    expect(() => max(f32([2, 0]), 1)).toThrow(RangeError);
    expect(() => max(f32([0, 3]), 0)).toThrow(RangeError);
    expect(max(f32([0, 3]), 1).shape).toEqual([0]);
    expect(vals(max(f32([3], [1, NaN, 2])))[0]).toBeNaN();
    expect(() => sum(x, 2)).toThrow(RangeError);
    expect(() => sum(x, -3)).toThrow(RangeError);
  });

  it("sum over a broadcast axis equals repeated sequential addition (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 6 }), (row, m) => {
        const n = row.length;
        // [1, n] * ones[m, 1] broadcasts to m copies of the row; multiplying by 1 is exact.
        const tiled = binary("mul", f32([1, n], row), f32([m, 1], new Array(m).fill(1)));
        const s = sum(tiled, 0);
        row.forEach((v, j) => {
          let acc = 0;
          for (let i = 0; i < m; i++) acc = Math.fround(acc + Math.fround(v));
          expect(s.data[j]).toBe(acc);
        });
        // Broadcasting identities: adding a zero [1] tensor / multiplying by a one [1] tensor keeps the sum.
        expect(sum(binary("mul", tiled, f32([1], [1]))).data[0]).toBe(sum(tiled).data[0]);
        expect(vals(mean(tiled, 0))).toEqual(vals(binary("div", s, f32([], [m]))));
      }),
    );
  });

  it("integer-valued sums are exact and independent of the reduction order (property)", () => {
    const shape = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(shape, fc.integer(), (s, seed) => {
        const n = numel(s);
        const data = fc.sample(fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: n, maxLength: n }), { numRuns: 1, seed })[0]!;
        const t = f32(s, data);
        const exact = data.reduce((a, b) => a + b, 0);
        expect(sum(t).data[0]).toBe(exact);
        let r = t;
        for (let ax = s.length - 1; ax >= 0; ax--) r = sum(r, ax);
        expect(r.shape).toEqual([]);
        expect(r.data[0]).toBe(exact);
        expect(max(t).data[0]).toBe(Math.max(...data));
      }),
    );
  });
});
