/**
 * What the gradient kernel tests hold a binary op's backward to: both operands' gradients have
 * their operand's shape and the definition's float32 bits (any NaN as one value: payloads are
 * not part of the semantics).
 */
import { expect } from "vitest";
import type { Tensor } from "../interpreter/engine/tensor.js";

const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length), (u, i) => (Number.isNaN(x[i]) ? "NaN" : u));

export function expectOperandGrads(got: readonly [Tensor, Tensor], shapes: readonly [readonly number[], readonly number[]], want: readonly [Float32Array, Float32Array]): void {
  const [ga, gb] = got;
  const [aShape, bShape] = shapes;
  const [wa, wb] = want;
  expect(ga.shape).toEqual(aShape);
  expect(gb.shape).toEqual(bShape);
  expect(bits(ga.data as Float32Array)).toEqual(bits(wa));
  expect(bits(gb.data as Float32Array)).toEqual(bits(wb));
}
