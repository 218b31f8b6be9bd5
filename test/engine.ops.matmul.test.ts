import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f32, numel } from "../interpreter/engine/tensor.js";
import { ShapeError, matmul } from "../interpreter/engine/ops/index.js";

/** A batch shape and two shapes broadcasting to it (leading axes may be dropped, axes may be 1). */
const batchShapes = fc
  .array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 })
  .chain((batch) =>
    fc.tuple(
      fc.constant(batch),
      fc.integer({ min: 0, max: batch.length }),
      fc.integer({ min: 0, max: batch.length }),
      fc.array(fc.boolean(), { minLength: batch.length, maxLength: batch.length }),
      fc.array(fc.boolean(), { minLength: batch.length, maxLength: batch.length }),
    ),
  )
  .map(([batch, dropA, dropB, onesA, onesB]) => ({
    batch,
    a: batch.slice(dropA).map((d, i) => (onesA[i + dropA] ? 1 : d)),
    b: batch.slice(dropB).map((d, i) => (onesB[i + dropB] ? 1 : d)),
  }));

/** Flat index into `shape` of output batch coordinate `coord`, broadcasting right-aligned. */
function batchFlat(coord: number[], shape: number[]): number {
  const lead = coord.length - shape.length;
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i]! + (shape[i] === 1 ? 0 : coord[lead + i]!);
  return flat;
}

function naiveMatmul(a: Float32Array, aBatch: number[], b: Float32Array, bBatch: number[], batch: number[], M: number, K: number, N: number) {
  const out: number[] = [];
  const nb = numel(batch);
  for (let bi = 0; bi < nb; bi++) {
    const coord: number[] = [];
    let r = bi;
    for (let ax = batch.length - 1; ax >= 0; ax--) {
      coord.unshift(r % batch[ax]!);
      r = Math.floor(r / batch[ax]!);
    }
    const pa = batchFlat(coord, aBatch);
    const pb = batchFlat(coord, bBatch);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc = Math.fround(acc + Math.fround(a[pa * M * K + i * K + k]! * b[pb * K * N + k * N + j]!));
        out.push(acc);
      }
  }
  return out;
}

const dims = fc.record({ M: fc.integer({ min: 0, max: 4 }), K: fc.integer({ min: 0, max: 5 }), N: fc.integer({ min: 0, max: 4 }) });

describe("matmul", () => {
  it("computes a hand-checked product", () => {
    const a = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    const b = f32([3, 2], [7, 8, 9, 10, 11, 12]);
    const c = matmul(a, b);
    expect(c.shape).toEqual([2, 2]);
    expect(Array.from(c.data)).toEqual([58, 64, 139, 154]);
  });

  it("accumulates sequentially in float32, ascending k", () => {
    // 2^24 + 1 + 1: sequential f32 gives 2^24 (each +1 is lost); exact would be 2^24 + 2.
    const a = f32([1, 3], [16777216, 1, 1]);
    const b = f32([3, 1], [1, 1, 1]);
    expect(matmul(a, b).data[0]).toBe(16777216);
    const a2 = f32([1, 3], [1, 1, 16777216]);
    expect(matmul(a2, b).data[0]).toBe(16777218);
  });

  it("equals a naive triple loop bit for bit, with batch broadcasting (property)", () => {
    fc.assert(
      fc.property(batchShapes, dims, fc.gen(), (s, { M, K, N }, draw) => {
        // each operand drawn on its own (one seed for both would make them share values)
        const rnd = fc.float({ min: -1000, max: 1000, noNaN: true });
        const gen = (n: number) => draw(fc.array, rnd, { minLength: n, maxLength: n });
        const a = f32([...s.a, M, K], gen(numel(s.a) * M * K));
        const b = f32([...s.b, K, N], gen(numel(s.b) * K * N));
        const c = matmul(a, b);
        const rank = Math.max(s.a.length, s.b.length);
        const batch = s.batch.slice(s.batch.length - rank);
        // The broadcast batch: where both are 1 the result is 1.
        const outBatch = batch.map((d, i) => {
          const da = s.a[i - (rank - s.a.length)] ?? 1;
          const db = s.b[i - (rank - s.b.length)] ?? 1;
          return Math.max(da, db) === 1 ? 1 : d;
        });
        expect(c.shape).toEqual([...outBatch, M, N]);
        const want = naiveMatmul(a.data, s.a, b.data, s.b, outBatch, M, K, N);
        expect(Array.from(c.data).map((v) => Object.is(v, -0) ? "-0" : v)).toEqual(want.map((v) => (Object.is(v, -0) ? "-0" : v)));
      }),
      { numRuns: 300 },
    );
  });

  it("is exact on small integers (property)", () => {
    fc.assert(
      fc.property(dims, fc.integer({ min: 1, max: 3 }), fc.gen(), ({ M, K, N }, B, draw) => {
        const ints = (n: number) => draw(fc.array, fc.integer({ min: -50, max: 50 }), { minLength: n, maxLength: n });
        const av = ints(B * M * K);
        const bv = ints(K * N);
        const c = matmul(f32([B, M, K], av), f32([K, N], bv));
        for (let bi = 0; bi < B; bi++)
          for (let i = 0; i < M; i++)
            for (let j = 0; j < N; j++) {
              let exact = 0;
              for (let k = 0; k < K; k++) exact += av[bi * M * K + i * K + k]! * bv[k * N + j]!;
              expect(c.data[bi * M * N + i * N + j]).toBe(exact);
            }
      }),
      { numRuns: 200 },
    );
  });

  it("throws ShapeError naming both shapes on mismatched K or batch", () => {
    expect(() => matmul(f32([2, 3]), f32([4, 5]))).toThrow(ShapeError);
    expect(() => matmul(f32([2, 3]), f32([4, 5]))).toThrow(/\[2, 3\].*\[4, 5\]/);
    expect(() => matmul(f32([2, 2, 3]), f32([3, 3, 5]))).toThrow(/\[2, 2, 3\].*\[3, 3, 5\]/);
    expect(() => matmul(f32([3]), f32([3, 1]))).toThrow(ShapeError);
  });

  it("rejects i32 operands", () => {
    expect(() => matmul({ dtype: "i32", shape: [1, 1], data: new Int32Array(1) }, f32([1, 1]))).toThrow(TypeError);
  });
});
