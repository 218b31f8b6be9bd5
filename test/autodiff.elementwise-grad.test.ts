/**
 * mul and div backward (interpreter/engine/grad/elementwise.ts, which has direct loops for
 * operands of the output's size or a single element and offset tables otherwise) against
 * the rule written out per element: dL/da[i] = fround(g·b) (mul) or fround(g/b) (div),
 * dL/db[i] = fround(g·a) or fround(−g·a / b²), each then summed in double in ascending flat
 * order over the positions an operand was broadcast to, rounded once (an operand of the
 * output's shape takes them as they are). Bit for bit, with
 * ±0, subnormals, ±Infinity and NaN.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { binaryGrad } from "../interpreter/engine/grad/index.js";
import { type F32Tensor, f32 } from "../interpreter/engine/tensor.js";
import { expectOperandGrads } from "./grad-expect.js";

const SPECIAL = [0, -0, 1e-45, -3e-39, Infinity, -Infinity, NaN, 1, -2];
const valueArb = fc.oneof({ weight: 10, arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) }, { weight: 2, arbitrary: fc.constantFrom(...SPECIAL) });

/** out shape [2, 3]; an operand is the full shape, a scalar, [] or broadcast along an axis. */
const SHAPES: number[][] = [[2, 3], [1], [], [1, 3], [2, 1], [3]];
const offset = (shape: number[], i: number) => {
  const r = Math.floor(i / 3), c = i % 3;
  const s = [...Array(2 - shape.length).fill(1), ...shape];
  return (s[0] === 1 ? 0 : r) * s[1]! + (s[1] === 1 ? 0 : c);
};

function definition(op: "mul" | "div", aShape: number[], a: Float32Array, bShape: number[], b: Float32Array, g: Float32Array): [Float32Array, Float32Array] {
  const ga = new Float64Array(a.length), gb = new Float64Array(b.length);
  const dAs: number[] = [], dBs: number[] = [];
  for (let i = 0; i < 6; i++) {
    const x = a[offset(aShape, i)]!, y = b[offset(bShape, i)]!;
    const da = Math.fround(op === "mul" ? g[i]! * y : g[i]! / y);
    const db = Math.fround(op === "mul" ? g[i]! * x : (-g[i]! * x) / (y * y));
    dAs.push(da);
    dBs.push(db);
    ga[offset(aShape, i)]! += da;
    gb[offset(bShape, i)]! += db;
  }
  // an operand of the output's own shape takes its per-element values as they are (no sum: -0 stays -0)
  const own = (shape: number[], d: number[]) => (shape.length === 2 && shape[0] === 2 && shape[1] === 3 ? Float32Array.from(d) : undefined);
  return [own(aShape, dAs) ?? Float32Array.from(ga), own(bShape, dBs) ?? Float32Array.from(gb)];
}

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

describe("mul and div backward", () => {
  it("equal the per-element rule, summed over broadcast positions, bit for bit", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<"mul" | "div">("mul", "div"),
        fc.constantFrom(...SHAPES),
        fc.constantFrom(...SHAPES),
        fc.array(valueArb, { minLength: 6, maxLength: 6 }),
        fc.array(valueArb, { minLength: 6, maxLength: 6 }),
        fc.array(valueArb, { minLength: 6, maxLength: 6 }),
        (op, aShape, bShape, av, bv, gv) => {
          const a = Float32Array.from(av.slice(0, size(aShape))), b = Float32Array.from(bv.slice(0, size(bShape))), g = Float32Array.from(gv);
          expectOperandGrads(binaryGrad(op, f32(aShape, a), f32(bShape, b), f32([2, 3], g) as F32Tensor), [aShape, bShape], definition(op, aShape, a, bShape, b, g));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a broadcast operand's gradient is a sum that starts at +0: all −0 terms give +0", () => {
    const [, gb] = binaryGrad("mul", f32([2, 3], [1, 1, 1, 1, 1, 1]), f32([], [2]), f32([2, 3], [-0, -0, -0, -0, -0, -0]) as F32Tensor);
    expect(Object.is(gb.data[0], 0)).toBe(true);
  });
});
