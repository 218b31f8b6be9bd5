/**
 * The matmul backward kernel (interpreter/engine/grad/matmul.ts, blocked for speed) against
 * the rule written as its definition, on both implementations (JavaScript loops and
 * WebAssembly SIMD): one triple loop per operand, every product and sum in
 * double in the documented order (ascending n for dL/da; ascending batch then m for dL/db,
 * skipping a[m, k] = 0), rounded to float32 once. Bit for bit, on random shapes (odd sizes
 * hit the blocks' remainders), batch broadcasting either way, sparse spike-like operands and
 * special values (±0, subnormals, ±Infinity, NaN).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { matmulGrad } from "../interpreter/engine/grad/index.js";
import { matmulGradOn } from "../interpreter/engine/grad/matmul.js";
import { initGradKernels } from "../interpreter/engine/grad/matmul-wasm.js";
import { type F32Tensor, f32 } from "../interpreter/engine/tensor.js";
import { expectOperandGrads } from "./grad-expect.js";

function definition(aShape: number[], a: Float32Array, bShape: number[], b: Float32Array, g: Float32Array): [Float32Array, Float32Array] {
  const M = aShape.at(-2)!, K = aShape.at(-1)!, N = bShape.at(-1)!;
  const ba = aShape.slice(0, -2), bb = bShape.slice(0, -2);
  const R = Math.max(ba.length, bb.length);
  const pa = [...Array(R - ba.length).fill(1), ...ba], pb = [...Array(R - bb.length).fill(1), ...bb];
  const batch = pa.map((d, i) => Math.max(d, pb[i]!));
  const nb = batch.reduce((x, y) => x * y, 1);
  // flat batch index -> each operand's batch index (size-1 axes repeat)
  const offset = (shape: number[], bi: number) => {
    let o = 0, rest = bi, stride = 1;
    for (let ax = R - 1; ax >= 0; ax--) {
      const c = rest % batch[ax]!;
      rest = Math.floor(rest / batch[ax]!);
      o += (shape[ax] === 1 ? 0 : c) * stride;
      stride *= shape[ax]!;
    }
    return o;
  };
  const ga = new Float64Array(a.length), gb = new Float64Array(b.length);
  for (let bi = 0; bi < nb; bi++) {
    const oa = offset(pa, bi) * M * K, ob = offset(pb, bi) * K * N, og = bi * M * N;
    for (let m = 0; m < M; m++)
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += g[og + m * N + n]! * b[ob + k * N + n]!;
        ga[oa + m * K + k] = ga[oa + m * K + k]! + s;
      }
  }
  for (let bi = 0; bi < nb; bi++) {
    const oa = offset(pa, bi) * M * K, ob = offset(pb, bi) * K * N, og = bi * M * N;
    for (let m = 0; m < M; m++)
      for (let k = 0; k < K; k++) {
        const v = a[oa + m * K + k]!;
        if (v === 0) continue;
        for (let n = 0; n < N; n++) gb[ob + k * N + n] = gb[ob + k * N + n]! + v * g[og + m * N + n]!;
      }
  }
  return [Float32Array.from(ga), Float32Array.from(gb)];
}

const SPECIAL = [0, -0, 1e-45, -3e-39, Infinity, -Infinity, NaN, 1, -1];

const valueArb = (sparsity: number, special: boolean) =>
  fc.oneof(
    { weight: Math.round(100 * sparsity), arbitrary: fc.constant(0) },
    { weight: 100 - Math.round(100 * sparsity), arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) },
    { weight: special ? 5 : 0, arbitrary: fc.constantFrom(...SPECIAL) },
  );

const caseArb = fc
  .record({
    M: fc.integer({ min: 1, max: 7 }),
    K: fc.integer({ min: 1, max: 19 }),
    N: fc.integer({ min: 1, max: 19 }),
    batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    aBroadcast: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    bBroadcast: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    bDropsBatch: fc.boolean(),
    sparsity: fc.constantFrom(0, 0.5, 0.9),
    special: fc.boolean(),
    seed: fc.integer(),
  })
  .chain((c) => {
    const aShape = [...c.batch.map((d, i) => (c.aBroadcast[i] ? 1 : d)), c.M, c.K];
    const bShape = [...(c.bDropsBatch ? [] : c.batch.map((d, i) => (c.bBroadcast[i] && !c.aBroadcast[i] ? 1 : d))), c.K, c.N];
    const gShape = [...c.batch.map((d, i) => (c.aBroadcast[i] && c.bDropsBatch ? 1 : d)), c.M, c.N];
    const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
    return fc.record({
      aShape: fc.constant(aShape),
      bShape: fc.constant(bShape),
      gShape: fc.constant(gShape),
      a: fc.array(valueArb(c.sparsity, c.special), { minLength: size(aShape), maxLength: size(aShape) }),
      b: fc.array(valueArb(0, c.special), { minLength: size(bShape), maxLength: size(bShape) }),
      g: fc.array(valueArb(0, c.special), { minLength: size(gShape), maxLength: size(gShape) }),
    });
  });


describe("matmul backward kernel", () => {
  it.each(["js", "wasm"] as const)("%s: equals the rule's definition bit for bit (shapes, broadcasting, sparse and special values)", async (backend) => {
    if (backend === "wasm") expect(await initGradKernels()).toBe(true);
    fc.assert(
      fc.property(caseArb, ({ aShape, bShape, gShape, a, b, g }) => {
        const A = Float32Array.from(a), B = Float32Array.from(b), G = Float32Array.from(g);
        expectOperandGrads(matmulGradOn(backend, f32(aShape, A), f32(bShape, B), f32(gShape, G) as F32Tensor), [aShape, bShape], definition(aShape, A, bShape, B, G));
      }),
      { numRuns: 400 },
    );
  });

  it("sums a broadcast operand's gradient over the batch (a worked example)", () => {
    // a [2, 1, 2] (batch 2) @ w [2, 1] (shared): dL/dw = Σ_batch aᵀ g
    const [ga, gw] = matmulGrad(f32([2, 1, 2], [1, 2, 3, 0]), f32([2, 1], [5, 7]), f32([2, 1, 1], [10, 100]) as F32Tensor);
    expect(Array.from(ga.data)).toEqual([50, 70, 500, 700]);
    expect(Array.from(gw.data)).toEqual([1 * 10 + 3 * 100, 2 * 10 + 0 * 100]);
  });
});
