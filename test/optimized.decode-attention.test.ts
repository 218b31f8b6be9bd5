/**
 * The decoding attention loops (optimized/decode-attention.ts), in JavaScript and on the
 * WebAssembly kernels (several batch matrices per call), against the reference matmul
 * (engine/ops/matmul.ts) on float levels: same bits (NaN as one value), with -0, subnormals,
 * NaN and ±Infinity in the float row, NaN levels (int8 NAN_LEVEL), and lengths that are
 * not multiples of the four- and sixteen-way SIMD steps; and against a key/value cache read
 * where it is stored (rowsTimesCache: batch matrices a cache's room apart, in the WebAssembly
 * module's memory or in JS arrays, after appends that cross its growth boundaries).
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { initSpikeKernels } from "../interpreter/engine/kernels/spike-matmul.js";
import { levelsToF32 } from "../interpreter/engine/levels.js";
import { matmul } from "../interpreter/engine/ops/matmul.js";
import { transpose } from "../interpreter/engine/ops/index.js";
import { f32 } from "../interpreter/engine/tensor.js";
import { rowTimesLevels, rowTimesLevelsT, rowsTimesCache, rowsTimesLevelsWasm } from "../interpreter/optimized/decode-attention.js";
import { PlannedCache } from "../interpreter/runtime/planned-cache.js";
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

/**
 * `kernel`'s N outputs for `row` (its K values) and levels `S`, with the row, the levels and the
 * output at `offset` inside larger buffers, as the executor passes them.
 */
function runAtOffset(kernel: typeof rowTimesLevels, row: Float32Array, S: Int8Array, N: number, offset: number): Float32Array {
  const rowBuf = new Float32Array(offset + row.length);
  rowBuf.set(row, offset);
  const sBuf = new Int8Array(offset + S.length);
  sBuf.set(S, offset);
  const out = new Float32Array(offset + N).fill(7);
  kernel(rowBuf, offset, row.length, sBuf, offset, N, out, offset);
  return out.subarray(offset);
}

describe("decoding attention", () => {
  it("rowTimesLevelsT (Q @ Sᵀ, one row) is the reference matmul's bits", () => {
    fc.assert(
      fc.property(caseArb, ({ K, N, profile, seed, levels, offset }) => {
        const q = fillValues(K, profile, seed);
        const S = Int8Array.from(levels.slice(0, N * K));
        const want = matmul(f32([1, K], q), transpose(f32([N, K], levelsToF32(S)), [1, 0]));
        expect(bits(runAtOffset(rowTimesLevelsT, q, S, N, offset))).toEqual(bits(want.data as Float32Array));
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
        expect(bits(runAtOffset(rowTimesLevels, a, S, N, offset))).toEqual(bits(want.data as Float32Array));
      }),
      { numRuns: 400, seed: 10 },
    );
  });

  describe("on the WebAssembly kernels", () => {
    beforeAll(async () => {
      await initSpikeKernels();
    });

    // lengths around the SIMD steps (4 positions for the keys, 16 columns for the values)
    const wasmCaseArb = fc.record({
      B: fc.integer({ min: 1, max: 3 }),
      K: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(4, 8, 16, 32, 36)),
      N: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(4, 15, 16, 17, 32, 33)),
      profile: valueProfileArb({ nonfinite: true }),
      seed: fc.integer({ min: 1, max: 1e6 }),
      levelSeed: fc.integer({ min: 1, max: 1e6 }),
      nanLevels: fc.boolean(),
    });
    const levelsOf = (n: number, seed: number, nan: boolean) => {
      let s = seed;
      const pick = nan ? [-1, 0, 1, 0, 2, -3, -128] : [-1, 0, 1, 0];
      return Int8Array.from({ length: n }, () => {
        s = (s * 1103515245 + 12345) >>> 0;
        return pick[s % pick.length]!;
      });
    };

    it("nt (Q @ Sᵀ, one row per batch matrix) is the reference matmul's bits", () => {
      fc.assert(
        fc.property(wasmCaseArb, ({ B, K, N, profile, seed, levelSeed, nanLevels }) => {
          const q = fillValues(B * K, profile, seed);
          const S = levelsOf(B * N * K, levelSeed, nanLevels);
          const out = new Float32Array(B * N).fill(7);
          expect(rowsTimesLevelsWasm("nt", q, K, S, N, B, out)).toBe(true);
          for (let b = 0; b < B; b++) {
            const want = matmul(f32([1, K], q.subarray(b * K, (b + 1) * K)), transpose(f32([N, K], levelsToF32(S.subarray(b * N * K, (b + 1) * N * K))), [1, 0]));
            expect(bits(out.subarray(b * N, (b + 1) * N))).toEqual(bits(want.data as Float32Array));
          }
        }),
        { numRuns: 400, seed: 12 },
      );
    });

    it("nn (A @ S, one row per batch matrix) is the reference matmul's bits", () => {
      fc.assert(
        fc.property(wasmCaseArb, ({ B, K, N, profile, seed, levelSeed, nanLevels }) => {
          const a = fillValues(B * K, profile, seed);
          const S = levelsOf(B * K * N, levelSeed, nanLevels);
          const out = new Float32Array(B * N).fill(7);
          expect(rowsTimesLevelsWasm("nn", a, K, S, N, B, out)).toBe(true);
          for (let b = 0; b < B; b++) {
            const want = matmul(f32([1, K], a.subarray(b * K, (b + 1) * K)), f32([K, N], levelsToF32(S.subarray(b * K * N, (b + 1) * K * N))));
            expect(bits(out.subarray(b * N, (b + 1) * N))).toEqual(bits(want.data as Float32Array));
          }
        }),
        { numRuns: 400, seed: 13 },
      );
    });

    it("against a key/value cache grown by appends, read in place: the reference matmul's bits, nt and nn, WebAssembly and JS", () => {
      fc.assert(
        fc.property(
          fc.record({
            B: fc.integer({ min: 1, max: 3 }),
            E: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(4, 16, 17, 32)),
            chunks: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }),
            block: fc.integer({ min: 1, max: 5 }),
            limit: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
            memory: fc.constantFrom("auto" as const, "js" as const),
            useWasm: fc.boolean(),
            profile: valueProfileArb({ nonfinite: true }),
            seed: fc.integer({ min: 1, max: 1e6 }),
            levelSeed: fc.integer({ min: 1, max: 1e6 }),
            nanLevels: fc.boolean(),
          }),
          ({ B, E, chunks, block, limit, memory, useWasm, profile, seed, levelSeed, nanLevels }) => {
            const cache = new PlannedCache(true, -2, { block, limit, memory });
            const appended: Int8Array[] = []; // [B, n, E] per append
            for (const [c, n] of chunks.entries()) {
              const part = levelsOf(B * n * E, levelSeed + c, nanLevels);
              appended.push(part);
              cache.append(part, [B, n, E]);
              const L = cache.length;
              // oracle operands: batch matrix b of the concatenation, [L, E]
              const matrix = (b: number) => {
                const m = new Int8Array(L * E);
                let at = 0;
                for (const p of appended) {
                  const n2 = p.length / (B * E);
                  m.set(p.subarray(b * n2 * E, (b + 1) * n2 * E), at);
                  at += n2 * E;
                }
                return levelsToF32(m);
              };
              const q = fillValues(B * E, profile, seed + c);
              const keysOut = new Float32Array(B * L).fill(7);
              rowsTimesCache("nt", q, E, cache, L, B, keysOut, useWasm);
              const p = fillValues(B * L, profile, seed + 1000 + c);
              const valuesOut = new Float32Array(B * E).fill(7);
              rowsTimesCache("nn", p, L, cache, E, B, valuesOut, useWasm);
              for (let b = 0; b < B; b++) {
                const S = f32([L, E], matrix(b));
                const wantKeys = matmul(f32([1, E], q.subarray(b * E, (b + 1) * E)), transpose(S, [1, 0]));
                expect(bits(keysOut.subarray(b * L, (b + 1) * L))).toEqual(bits(wantKeys.data as Float32Array));
                const wantValues = matmul(f32([1, L], p.subarray(b * L, (b + 1) * L)), S);
                expect(bits(valuesOut.subarray(b * E, (b + 1) * E))).toEqual(bits(wantValues.data as Float32Array));
              }
            }
            cache.release();
          },
        ),
        { numRuns: 300, seed: 14 },
      );
    });
  });
});
