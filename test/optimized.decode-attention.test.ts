/**
 * The decoding attention loops (optimized/decode-attention.ts) against the reference matmul
 * (engine/ops/matmul.ts) on float levels: same bits (NaN as one value), with -0, subnormals,
 * NaN and ±Infinity in the float row, NaN levels (int8 NAN_LEVEL), and lengths that are
 * not multiples of the four-way unrolling.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { levelsToF32 } from "../interpreter/engine/levels.js";
import { matmul } from "../interpreter/engine/ops/matmul.js";
import { transpose } from "../interpreter/engine/ops/index.js";
import { f32 } from "../interpreter/engine/tensor.js";
import { rowTimesLevels, rowTimesLevelsT } from "../interpreter/optimized/decode-attention.js";
import { fillValues, valueProfileArb } from "../interpreter/verify/arbitraries.js";

const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length), (b, i) => (Number.isNaN(x[i]) ? 0x7fc00000 : b));

const caseArb = fc.record({
  K: fc.integer({ min: 1, max: 11 }),
  N: fc.integer({ min: 1, max: 11 }),
  profile: valueProfileArb({ nonfinite: true }),
  seed: fc.integer({ min: 1, max: 1e6 }),
  levels: fc.array(fc.constantFrom(-1, 0, 1, 0, 2, -3, -128), { minLength: 121, maxLength: 121 }),
  offset: fc.integer({ min: 0, max: 3 }),
});

describe("decoding attention", () => {
  it("rowTimesLevelsT (Q @ Sᵀ, one row) is the reference matmul's bits", () => {
    fc.assert(
      fc.property(caseArb, ({ K, N, profile, seed, levels, offset }) => {
        const q = fillValues(K, profile, seed);
        const S = Int8Array.from(levels.slice(0, N * K));
        const want = matmul(f32([1, K], q), transpose(f32([N, K], levelsToF32(S)), [1, 0]));
        // the row and the levels at an offset inside larger buffers, as the executor passes them
        const qBuf = new Float32Array(offset + K);
        qBuf.set(q, offset);
        const sBuf = new Int8Array(offset + N * K);
        sBuf.set(S, offset);
        const out = new Float32Array(offset + N).fill(7);
        rowTimesLevelsT(qBuf, offset, K, sBuf, offset, N, out, offset);
        expect(bits(out.subarray(offset))).toEqual(bits(want.data as Float32Array));
      }),
      { numRuns: 400, seed: 9 },
    );
  });

  it("rowTimesLevels (A @ S, one row) is the reference matmul's bits", () => {
    fc.assert(
      fc.property(caseArb, ({ K, N, profile, seed, levels, offset }) => {
        const a = fillValues(K, profile, seed);
        const S = Int8Array.from(levels.slice(0, K * N));
        const want = matmul(f32([1, K], a), f32([K, N], levelsToF32(S)));
        const aBuf = new Float32Array(offset + K);
        aBuf.set(a, offset);
        const sBuf = new Int8Array(offset + K * N);
        sBuf.set(S, offset);
        const out = new Float32Array(offset + N).fill(7);
        rowTimesLevels(aBuf, offset, K, sBuf, offset, N, out, offset);
        expect(bits(out.subarray(offset))).toEqual(bits(want.data as Float32Array));
      }),
      { numRuns: 400, seed: 10 },
    );
  });
});
