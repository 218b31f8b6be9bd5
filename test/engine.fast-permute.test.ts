/**
 * The blocked last-two-axes transpose of engine/fast/permute.ts equals the generic strided
 * copy (the odometer walk) on any shape, batch axes included, bit for bit (-0, NaN).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { permuteInto, stridedCopy } from "../interpreter/engine/fast/permute.js";

describe("permuteInto, last two axes swapped", () => {
  it("equals the strided copy", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 70 }), { minLength: 2, maxLength: 4 }), (shape) => {
        const n = shape.reduce((a, b) => a * b, 1);
        fc.pre(n <= 200_000);
        const x = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -0 : i % 7 === 0 ? NaN : i));
        const r = shape.length;
        const perm = [...Array(r - 2).keys(), r - 1, r - 2];
        const a = new Float32Array(n);
        const b = new Float32Array(n);
        permuteInto(x, shape, perm, a);
        const strides: number[] = [];
        let acc = 1;
        for (let i = r - 1; i >= 0; i--) {
          strides[i] = acc;
          acc *= shape[i]!;
        }
        stridedCopy(x, 0, perm.map((p) => shape[p]!), perm.map((p) => strides[p]!), b);
        expect(a.every((v, i) => Object.is(v, b[i]))).toBe(true);
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});
