import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f32, i32, numel } from "../interpreter/engine/tensor.js";
import type { Tensor } from "../interpreter/engine/tensor.js";
import {
  ShapeError, concat, index, meanTime, mergeHeads, overTime, reshape, splitHeads, toF32, transpose,
} from "../interpreter/engine/ops/index.js";
import type { IndexItem } from "../interpreter/engine/ops/index.js";

const vals = (t: { data: ArrayLike<number> }) => Array.from(t.data);
const iota = (shape: number[]) => f32(shape, Array.from({ length: numel(shape) }, (_, i) => i));
const smallShape = (minLength = 0, maxLength = 4) => fc.array(fc.integer({ min: 1, max: 4 }), { minLength, maxLength });

/** Element at multi-index `c` of a row-major tensor. */
function at(t: Tensor, c: number[]): number {
  let flat = 0;
  c.forEach((v, i) => (flat = flat * t.shape[i]! + v));
  return t.data[flat]!;
}

describe("transpose", () => {
  it("swaps the last two axes by default and copies", () => {
    const x = iota([2, 3]);
    const t = transpose(x);
    expect(t.shape).toEqual([3, 2]);
    expect(vals(t)).toEqual([0, 3, 1, 4, 2, 5]);
    expect(t.data).not.toBe(x.data);
    expect(vals(transpose(iota([2, 3, 4]), [2, 0, 1])).slice(0, 6)).toEqual([0, 4, 8, 12, 16, 20]);
    expect(() => transpose(iota([3]))).toThrow(ShapeError);
    expect(() => transpose(iota([2, 3]), [0, 0])).toThrow(ShapeError);
  });

  it("keeps i32", () => {
    const t = transpose(i32([2, 2], [1, 2, 3, 4]));
    expect(t.dtype).toBe("i32");
    expect(t.data).toBeInstanceOf(Int32Array);
    expect(vals(t)).toEqual([1, 3, 2, 4]);
  });

  it("twice is the identity; perm then its inverse too (property)", () => {
    const shapeAndPerm = smallShape(2, 5).chain((s) =>
      fc.tuple(fc.constant(s), fc.shuffledSubarray([...s.keys()], { minLength: s.length, maxLength: s.length })),
    );
    fc.assert(
      fc.property(shapeAndPerm, ([s, perm]) => {
        const x = iota(s);
        const back = transpose(transpose(x));
        expect(back.shape).toEqual(s);
        expect(vals(back)).toEqual(vals(x));
        const inv = new Array<number>(perm.length);
        perm.forEach((p, i) => (inv[p] = i));
        const y = transpose(x, perm);
        expect(y.shape).toEqual(perm.map((p) => s[p]));
        expect(vals(transpose(y, inv))).toEqual(vals(x));
      }),
    );
  });
});

describe("reshape", () => {
  it("keeps row-major order and infers one -1", () => {
    const x = iota([2, 3]);
    expect(reshape(x, [3, -1]).shape).toEqual([3, 2]);
    expect(vals(reshape(x, [6]))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(reshape(x, [-1]).shape).toEqual([6]);
    expect(reshape(iota([1]), []).shape).toEqual([]);
    expect(() => reshape(x, [4, -1])).toThrow(ShapeError);
    expect(() => reshape(x, [-1, -1])).toThrow(ShapeError);
    expect(() => reshape(x, [7])).toThrow(/\[2, 3\].*\[7\]/);
  });
});

describe("splitHeads / mergeHeads", () => {
  it("splits the last axis into heads", () => {
    const x = iota([2, 4]); // L = 2, d = 4
    const s = splitHeads(x, 2);
    expect(s.shape).toEqual([2, 2, 2]);
    // head 0: [[0, 1], [4, 5]]; head 1: [[2, 3], [6, 7]]
    expect(vals(s)).toEqual([0, 1, 4, 5, 2, 3, 6, 7]);
    expect(() => splitHeads(iota([2, 5]), 2)).toThrow(ShapeError);
    expect(() => mergeHeads(iota([2, 2]))).toThrow(ShapeError);
  });

  it("mergeHeads inverts splitHeads exactly (property)", () => {
    fc.assert(
      fc.property(smallShape(0, 2), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), (lead, L, h, e) => {
        const x = iota([...lead, L, h * e]);
        const s = splitHeads(x, h);
        expect(s.shape).toEqual([...lead, h, L, e]);
        const c = Array.from({ length: lead.length }, () => 0);
        expect(at(s, [...c, h - 1, L - 1, e - 1])).toBe(at(x, [...c, L - 1, (h - 1) * e + e - 1]));
        const m = mergeHeads(s);
        expect(m.shape).toEqual(x.shape);
        expect(vals(m)).toEqual(vals(x));
      }),
    );
  });
});

describe("overTime / meanTime", () => {
  it("repeats over a new leading axis and averages back", () => {
    const x = f32([2], [1, 0.1]);
    const r = overTime(x, 3);
    expect(r.shape).toEqual([3, 2]);
    expect(vals(r)).toEqual([1, Math.fround(0.1), 1, Math.fround(0.1), 1, Math.fround(0.1)]);
    const m = meanTime(r);
    expect(m.shape).toEqual([2]);
    const f = Math.fround(0.1);
    expect(vals(m)).toEqual([1, Math.fround(Math.fround(Math.fround(f + f) + f) / 3)]);
    expect(overTime(i32([1], [5]), 2).dtype).toBe("i32");
  });
});

describe("index", () => {
  it("supports integers, negative indices and slices", () => {
    const x = iota([3, 4]);
    expect(vals(index(x, [1]))).toEqual([4, 5, 6, 7]);
    expect(index(x, [1]).shape).toEqual([4]);
    expect(vals(index(x, [-1, -1]))).toEqual([11]);
    expect(index(x, [-1, -1]).shape).toEqual([]);
    expect(vals(index(x, [{ start: 1 }, { end: -2 }]))).toEqual([4, 5, 8, 9]);
    expect(index(x, [{}, 2]).shape).toEqual([3]);
    expect(index(x, [{ start: 3 }]).shape).toEqual([0, 4]);
    expect(index(x, [{ start: 2, end: 1 }]).shape).toEqual([0, 4]);
    expect(index(x, [{ start: -10, end: 10 }]).shape).toEqual([3, 4]);
    expect(() => index(x, [3])).toThrow(RangeError);
    expect(() => index(x, [-4])).toThrow(RangeError);
    expect(() => index(x, [0, 0, 0])).toThrow(RangeError);
  });

  it("matches a naive implementation (property)", () => {
    const item = (size: number): fc.Arbitrary<IndexItem> =>
      fc.oneof(
        fc.integer({ min: -size, max: size - 1 }),
        fc.record({ start: fc.integer({ min: -6, max: 6 }), end: fc.integer({ min: -6, max: 6 }) }, { requiredKeys: [] }),
      );
    const arb = smallShape(0, 4).chain((s) =>
      fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length }).chain((k) => fc.tuple(...s.slice(0, k).map(item)))),
    );
    fc.assert(
      fc.property(arb, ([s, items]) => {
        const x = iota(s);
        const got = index(x, items);
        // naive: enumerate the kept coordinates per axis, take the product in row-major order
        const perAxis: number[][] = s.map((size, ax) => {
          const it = items[ax];
          if (typeof it === "number") return [it < 0 ? it + size : it];
          const norm = (v: number) => Math.min(size, Math.max(0, v < 0 ? v + size : v));
          const st = norm(it?.start ?? 0);
          const en = norm(it?.end ?? size);
          const r: number[] = [];
          for (let i = st; i < en; i++) r.push(i);
          return r;
        });
        let coords: number[][] = [[]];
        for (const choices of perAxis) coords = coords.flatMap((c) => choices.map((v) => [...c, v]));
        if (perAxis.some((c) => c.length === 0)) coords = [];
        expect(vals(got)).toEqual(coords.map((c) => at(x, c)));
        const wantShape = perAxis.flatMap((c, ax) => (typeof items[ax] === "number" ? [] : [c.length]));
        expect(got.shape).toEqual(wantShape);
      }),
      { numRuns: 300 },
    );
  });
});

describe("toF32 / concat", () => {
  it("toF32 rounds i32 to the nearest float32", () => {
    const t = toF32(i32([3], [1, -7, 16777217]));
    expect(t.dtype).toBe("f32");
    expect(vals(t)).toEqual([1, -7, 16777216]);
  });

  it("concat joins along an axis", () => {
    const a = iota([2, 2]);
    const b = f32([2, 1], [9, 8]);
    const c = concat([a, b], -1);
    expect(c.shape).toEqual([2, 3]);
    expect(vals(c)).toEqual([0, 1, 9, 2, 3, 8]);
    expect(vals(concat([a, iota([1, 2])], 0))).toEqual([0, 1, 2, 3, 0, 1]);
    expect(() => concat([a, b], 0)).toThrow(/\[2, 2\].*\[2, 1\]/);
    expect(() => concat([a, i32([2, 2])], 0)).toThrow(TypeError);
  });

  it("concat of index slices restores the tensor (property)", () => {
    fc.assert(
      fc.property(smallShape(1, 3), fc.nat(), fc.nat(), (s, axSeed, cutSeed) => {
        const ax = axSeed % s.length;
        const cut = cutSeed % (s[ax]! + 1);
        const x = iota(s);
        const pre: IndexItem[] = Array.from({ length: ax }, () => ({}));
        const parts = [index(x, [...pre, { end: cut }]), index(x, [...pre, { start: cut }])];
        expect(vals(concat(parts, ax))).toEqual(vals(x));
      }),
    );
  });
});
