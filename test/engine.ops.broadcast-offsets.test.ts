/**
 * broadcastOffsets / broadcastOffsetsInto (engine/ops/broadcast.ts): for every output element,
 * the flat index of the input element broadcasting reads, against an oracle that decomposes
 * each output index into coordinates and recomposes the input's (size-1 axes read 0).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { broadcastOffsets, broadcastOffsetsInto } from "../interpreter/engine/ops/broadcast.js";

function oracle(inShape: readonly number[], outShape: readonly number[]): number[] {
  const n = outShape.reduce((a, b) => a * b, 1);
  const lead = outShape.length - inShape.length;
  const out: number[] = [];
  for (let flat = 0; flat < n; flat++) {
    const coord: number[] = [];
    let r = flat;
    for (let ax = outShape.length - 1; ax >= 0; ax--) {
      coord[ax] = r % outShape[ax]!;
      r = Math.floor(r / outShape[ax]!);
    }
    let off = 0;
    for (let i = 0; i < inShape.length; i++) off = off * inShape[i]! + (inShape[i] === 1 ? 0 : coord[lead + i]!);
    out.push(off);
  }
  return out;
}

const shapesArb = fc
  .array(fc.record({ size: fc.integer({ min: 0, max: 5 }), ones: fc.boolean() }), { minLength: 0, maxLength: 5 })
  .chain((axes) => fc.record({ axes: fc.constant(axes), drop: fc.integer({ min: 0, max: axes.length }) }))
  .map(({ axes, drop }) => ({ out: axes.map((a) => a.size), inp: axes.slice(drop).map((a) => (a.ones ? 1 : a.size)) }));

describe("broadcast offset tables", () => {
  it("map each output element to the input element it reads, for any shapes that broadcast (empty ones included)", () => {
    fc.assert(
      fc.property(shapesArb, ({ out, inp }) => {
        const want = oracle(inp, out);
        expect(Array.from(broadcastOffsets(inp, out))).toEqual(want);
        const into = new Int32Array(want.length + 3).fill(-7);
        broadcastOffsetsInto(inp, out, into);
        expect(Array.from(into.subarray(0, want.length))).toEqual(want);
        expect(Array.from(into.subarray(want.length))).toEqual([-7, -7, -7]);
      }),
      { numRuns: 500, seed: 17 },
    );
  });

  it("a decoding step's causal mask [1, L] over [T, B, H, 1, L]", () => {
    const got = broadcastOffsetsInto([1, 5], [4, 1, 3, 1, 5], new Int32Array(60));
    expect(Array.from(got)).toEqual(Array.from({ length: 60 }, (_, i) => i % 5));
  });
});
