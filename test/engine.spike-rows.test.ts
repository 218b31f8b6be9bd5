/**
 * The few-rows spike kernel (engine/kernels/spike-rows.ts, WebAssembly `spike_rows`) against
 * the reference matmul (engine/ops/matmul.ts) on float levels: same bits (NaN as one value)
 * with -0, subnormals, NaN and ±Infinity in the weights, NaN levels, levels other than ±1,
 * both weight layouts, column counts that are not multiples of the kernel's 16, and the
 * stored copy of the weights reused, released and re-made after the weights changed.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { initSpikeKernels } from "../interpreter/engine/kernels/spike-matmul.js";
import { releaseRowsWeights, spikeRowsMatmul } from "../interpreter/engine/kernels/spike-rows.js";
import { levelsToF32 } from "../interpreter/engine/levels.js";
import { transpose } from "../interpreter/engine/ops/index.js";
import { matmul } from "../interpreter/engine/ops/matmul.js";
import { f32 } from "../interpreter/engine/tensor.js";
import { fillValues, valueProfileArb } from "../interpreter/verify/arbitraries.js";

const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length), (b, i) => (Number.isNaN(x[i]) ? 0x7fc00000 : b));

/** The reference: float levels @ W (or @ Wᵀ for the [N, K] layout). */
function reference(S: Int8Array, M: number, K: number, W: Float32Array, N: number, layout: "kn" | "nk"): Float32Array {
  const w = layout === "kn" ? f32([K, N], W) : transpose(f32([N, K], W), [1, 0]);
  return matmul(f32([M, K], levelsToF32(S)), w).data as Float32Array;
}

const levelArb = fc.constantFrom(-1, 0, 1, 0, 0, -1, 1, 2, -3, -128);

const caseArb = fc
  .record({
    M: fc.integer({ min: 1, max: 6 }),
    K: fc.integer({ min: 1, max: 24 }),
    N: fc.integer({ min: 1, max: 40 }),
    layout: fc.constantFrom("kn" as const, "nk" as const),
    profile: valueProfileArb({ nonfinite: true }),
    seed: fc.integer({ min: 1, max: 1e6 }),
    // mostly ternary rows; sometimes NaN levels and levels other than ±1
    unusual: fc.boolean(),
  })
  .chain((c) =>
    fc.record({
      c: fc.constant(c),
      levels: fc.array(c.unusual ? levelArb : fc.constantFrom(-1, 0, 1), { minLength: 2 * c.M * c.K, maxLength: 2 * c.M * c.K }),
    }),
  );

describe("spike rows kernel", () => {
  beforeAll(async () => {
    await initSpikeKernels();
  });

  it("is the reference matmul's bits, on a first and on a second call with the stored weights", () => {
    fc.assert(
      fc.property(caseArb, ({ c: { M, K, N, layout, profile, seed }, levels }) => {
        const W = fillValues(K * N, profile, seed);
        for (const half of [0, 1]) {
          const S = Int8Array.from(levels.slice(half * M * K, (half + 1) * M * K));
          const out = new Float32Array(M * N).fill(7);
          expect(spikeRowsMatmul(S, M, K, W, N, out, layout)).toBe(true);
          expect(bits(out)).toEqual(bits(reference(S, M, K, W, N, layout)));
        }
        releaseRowsWeights(W);
      }),
      { numRuns: 400, seed: 31 },
    );
  });

  it("after releaseRowsWeights, changed weights are copied again", () => {
    const M = 4;
    const K = 20;
    const N = 33;
    const W = fillValues(K * N, "normal", 5);
    const S = Int8Array.from({ length: M * K }, (_, i) => ((i * 7) % 3) - 1);
    const out = new Float32Array(M * N);
    spikeRowsMatmul(S, M, K, W, N, out);
    expect(bits(out)).toEqual(bits(reference(S, M, K, W, N, "kn")));
    W.set(fillValues(K * N, "mixed", 6));
    releaseRowsWeights(W);
    spikeRowsMatmul(S, M, K, W, N, out);
    expect(bits(out)).toEqual(bits(reference(S, M, K, W, N, "kn")));
  });

  it("a decoding step's shapes: 4 rows against 96 x 80 weights, the spikes at a rate of about 0.35", () => {
    const M = 4;
    const K = 96;
    const N = 80;
    const W = fillValues(K * N, "mixed", 9);
    let s = 1;
    const S = Int8Array.from({ length: M * K }, () => {
      s = (s * 1103515245 + 12345) >>> 0;
      const u = s / 2 ** 32;
      return u < 0.17 ? -1 : u < 0.35 ? 1 : 0;
    });
    const out = new Float32Array(M * N);
    spikeRowsMatmul(S, M, K, W, N, out, "nk");
    expect(bits(out)).toEqual(bits(reference(S, M, K, W, N, "nk")));
    releaseRowsWeights(W);
  });
});
