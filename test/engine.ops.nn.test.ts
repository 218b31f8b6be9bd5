import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f32, i32 } from "../interpreter/engine/tensor.js";
import { F32_LOWEST } from "../interpreter/engine/numerics.js";
import { ShapeError, binary, causalMask, gather, layernorm, positions, softmax } from "../interpreter/engine/ops/index.js";

const vals = (t: { data: ArrayLike<number> }) => Array.from(t.data);

describe("softmax", () => {
  it("follows the documented rounding sequence", () => {
    const x = [1, 2, 3];
    const e = x.map((v) => Math.fround(Math.exp(Math.fround(v - 3))));
    const s = e.reduce((a, b) => Math.fround(a + b), 0);
    expect(vals(softmax(f32([3], x)))).toEqual(e.map((v) => Math.fround(v / s)));
  });

  it("gives exactly 0 for masked entries", () => {
    const scores = f32([2, 3], [0.5, -1, 2, 3, 1, -2]);
    const masked = binary("add", scores, f32([1, 3], [0, F32_LOWEST, F32_LOWEST]));
    const p = softmax(masked);
    expect(p.data[1]).toBe(0);
    expect(p.data[2]).toBe(0);
    expect(p.data[0]).toBe(1);
    expect(p.data[4]).toBe(0);
    const q = softmax(f32([4], [F32_LOWEST, 0.3, F32_LOWEST, -0.7]));
    expect(q.data[0]).toBe(0);
    expect(q.data[2]).toBe(0);
    expect(q.data[1]! + q.data[3]!).toBeCloseTo(1, 6);
  });

  it("applies over the last axis of a causal mask", () => {
    const p = softmax(causalMask(3));
    expect(vals(p)).toEqual([1, 0, 0, 0.5, 0.5, 0, Math.fround(1 / 3), Math.fround(1 / 3), Math.fround(1 / 3)]);
  });

  it("gives the uniform distribution for a fully masked row (as PyTorch)", () => {
    expect(vals(softmax(f32([2], [F32_LOWEST, F32_LOWEST])))).toEqual([0.5, 0.5]);
  });

  it("rows sum to ~1, match a float64 softmax, and are shift invariant for exact shifts (property)", () => {
    // Multiples of 2^-10 in [-30, 30] plus an integer shift stay exact in float32, so the
    // shifted row minus its max is the same float32 as the row minus its max.
    const row = fc.array(fc.integer({ min: -30 * 1024, max: 30 * 1024 }).map((k) => k / 1024), { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(row, fc.integer({ min: -50, max: 50 }), (xs, shift) => {
        const p = softmax(f32([xs.length], xs));
        const total = vals(p).reduce((a, b) => a + b, 0);
        expect(Math.abs(total - 1)).toBeLessThan(1e-5);
        for (const v of p.data) expect(v >= 0 && v <= 1).toBe(true);
        const m = Math.max(...xs);
        const e = xs.map((x) => Math.exp(x - m));
        const z = e.reduce((a, b) => a + b, 0);
        e.forEach((v, i) => expect(Math.abs(p.data[i]! - v / z)).toBeLessThan(1e-6));
        expect(vals(softmax(f32([xs.length], xs.map((x) => x + shift))))).toEqual(vals(p));
      }),
    );
  });
});

describe("layernorm", () => {
  function layernorm64(x: number[], g: number[], b: number[], eps: number): number[] {
    const n = x.length;
    const m = x.reduce((a, v) => a + v, 0) / n;
    const v = x.reduce((a, xi) => a + (xi - m) ** 2, 0) / n;
    return x.map((xi, i) => ((xi - m) / Math.sqrt(v + eps)) * g[i]! + b[i]!);
  }

  it("follows the documented rounding sequence", () => {
    const x = [1, 2, 4, 9];
    const out = layernorm(f32([1, 4], x), f32([4], [1, 1, 1, 1]), f32([4], [0, 0, 0, 0]), 1e-12);
    // mean 4; deviations -3,-2,0,5; var = 38/4 = 9.5
    const inv = Math.fround(1 / Math.sqrt(Math.fround(9.5 + 1e-12)));
    expect(vals(out)).toEqual([-3, -2, 0, 5].map((d) => Math.fround(Math.fround(Math.fround(d * inv) * 1) + 0)));
  });

  it("matches a float64 computation within 1e-6 (property)", () => {
    const row = fc.array(fc.float({ noNaN: true, min: -10, max: 10 }), { minLength: 2, maxLength: 64 });
    fc.assert(
      fc.property(row, fc.integer(), fc.constantFrom(1e-12, 1e-5), (x, seed, eps) => {
        const d = x.length;
        // rows with (near) zero variance amplify float32 error without bound; skip them
        const m = x.reduce((a, v) => a + v, 0) / d;
        const v = x.reduce((a, xi) => a + (xi - m) ** 2, 0) / d;
        fc.pre(v > 1e-2);
        const [g, b] = fc.sample(
          fc.tuple(
            fc.array(fc.float({ noNaN: true, min: -2, max: 2 }), { minLength: d, maxLength: d }),
            fc.array(fc.float({ noNaN: true, min: -2, max: 2 }), { minLength: d, maxLength: d }),
          ),
          { numRuns: 1, seed },
        )[0]!;
        const got = layernorm(f32([d], x), f32([d], g), f32([d], b), eps);
        const want = layernorm64(x.map(Math.fround), g.map(Math.fround), b.map(Math.fround), eps);
        want.forEach((w, i) => expect(Math.abs(got.data[i]! - w)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(w))));
      }),
      { numRuns: 300 },
    );
  });

  it("normalises each row of a batch independently", () => {
    const out = layernorm(f32([2, 2], [1, 3, 10, 30]), f32([2], [1, 1]), f32([2], [0, 0]), 0);
    expect(vals(out)).toEqual([-1, 1, -1, 1]);
  });

  it("checks gamma and beta shapes", () => {
    expect(() => layernorm(f32([2, 3]), f32([2]), f32([3]), 1e-12)).toThrow(ShapeError);
    expect(() => layernorm(f32([2, 3]), f32([2]), f32([3]), 1e-12)).toThrow(/\[2\].*\[3\].*\[2, 3\]/);
  });
});

describe("causalMask, gather, positions", () => {
  it("causalMask is 0 on/below the diagonal and F32_LOWEST above", () => {
    const m = causalMask(3);
    expect(m.shape).toEqual([3, 3]);
    expect(vals(m)).toEqual([0, F32_LOWEST, F32_LOWEST, 0, 0, F32_LOWEST, 0, 0, 0]);
    expect(causalMask(0).shape).toEqual([0, 0]);
  });

  it("gather looks rows up by id", () => {
    const table = f32([3, 2], [0, 1, 10, 11, 20, 21]);
    const out = gather(table, i32([2, 2], [2, 0, 1, 1]));
    expect(out.shape).toEqual([2, 2, 2]);
    expect(vals(out)).toEqual([20, 21, 0, 1, 10, 11, 10, 11]);
    expect(gather(table, i32([], [1])).shape).toEqual([2]);
  });

  it("gather names the bad id and N", () => {
    const table = f32([3, 2]);
    expect(() => gather(table, i32([2], [0, 3]))).toThrow(RangeError);
    expect(() => gather(table, i32([2], [0, 3]))).toThrow(/id 3 .*3 rows/);
    expect(() => gather(table, i32([1], [-1]))).toThrow(/id -1/);
    expect(() => gather(table, f32([1], [0]))).toThrow(TypeError);
  });

  it("positions are 0..L-1 for the last axis", () => {
    const p = positions(i32([2, 4]));
    expect(p.dtype).toBe("i32");
    expect(p.shape).toEqual([4]);
    expect(vals(p)).toEqual([0, 1, 2, 3]);
  });
});
