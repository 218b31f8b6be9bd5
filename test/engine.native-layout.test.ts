/**
 * Two native kernels the executor's attention leans on, against oracles written here:
 *  - `denseTimesLevels` (levels_native.c): n products out = A @ S, S ternary levels, as the
 *    sequential float32 sum over ascending k from +0 — through strided views (the layouts
 *    denseTimesSpike and denseTimesSpikeT hand it), widths that are not a multiple of 16 or
 *    exceed one 128-column pass, 1 and 2 threads; and `false` (the caller's general path)
 *    for a non-finite A or a NaN level;
 *  - `stridedCopy` (copy_native.c): the layout ops' strided copy, bits moved unchanged
 *    (NaN payloads, -0), for float32, int8 and int32 arrays, any permutation.
 *  - `spikeOp` declines (false, nothing written) on a NaN level in its view, and the large
 *    products spikeMatmul sends to it uncounted still poison exactly the reference's outputs.
 *  - `gather` (copy_native.c): a fused program's broadcast operand expanded through its table.
 * Skipped with the reason where the native addon is not available, never passed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nativeAddon, nativeStatus } from "../interpreter/engine/kernels/native-backend.js";
import { NAN_LEVEL } from "../interpreter/engine/levels.js";

const status = nativeStatus();
const skip = !status.ready;
const title = (t: string) => (skip ? `${t} (skipped: ${status.reason})` : t);
const fr = Math.fround;

const sameBits = (a: Float32Array, b: Float32Array) => {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

const finite = fc.oneof(
  fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.constantFrom(0, -0, 1e-45, -1e-45, 1.1754942e-38, 3.4e38, -3.4e38, 0.1, -2.5),
);

describe("native denseTimesLevels", () => {
  it.skipIf(skip)(title("equals the sequential float32 oracle through both operand layouts, any width, 1 and 2 threads"), () => {
    const a = nativeAddon()!;
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 3 }), M: fc.integer({ min: 1, max: 9 }), K: fc.integer({ min: 0, max: 40 }), N: fc.integer({ min: 1, max: 150 }), transposedS: fc.boolean(), threads: fc.integer({ min: 1, max: 2 }) }),
        fc.array(finite, { minLength: 64, maxLength: 64 }),
        fc.integer(),
        ({ n, M, K, N, transposedS, threads }, pool, seed) => {
          let r = seed >>> 0;
          const next = () => (r = (Math.imul(r, 1664525) + 1013904223) >>> 0);
          const A = Float32Array.from({ length: n * M * K }, () => pool[next() % pool.length]!);
          const S = Int8Array.from({ length: n * K * N }, () => (next() % 3) - 1);
          // S [K, N] row-major, or [N, K] read as [K, N] (denseTimesSpikeT's keys)
          const [sks, sns] = transposedS ? [1, K] : [N, 1];
          const out = new Float32Array(n * M * N).fill(Number.NaN);
          expect(a.denseTimesLevels(A, M, K, K, 1, M * K, S, N, sks, sns, K * N, out, N, 1, M * N, n, threads)).toBe(true);
          const want = new Float32Array(n * M * N);
          for (let b = 0; b < n; b++)
            for (let i = 0; i < M; i++)
              for (let j = 0; j < N; j++) {
                let acc = 0;
                for (let k = 0; k < K; k++) acc = fr(acc + fr(A[b * M * K + i * K + k]! * S[b * K * N + k * sks + j * sns]!));
                want[b * M * N + i * N + j] = acc;
              }
          expect(sameBits(out, want)).toBe(true);
        },
      ),
      { numRuns: 120, seed: 5 },
    );
  });

  it.skipIf(skip)(title("returns false for a non-finite A or a NaN level (the general path then runs)"), () => {
    const a = nativeAddon()!;
    const M = 4, K = 20, N = 33;
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const A = new Float32Array(M * K).fill(0.5);
      A[M * K - 1] = bad;
      const S = new Int8Array(K * N).fill(1);
      expect(a.denseTimesLevels(A, M, K, K, 1, M * K, S, N, N, 1, K * N, new Float32Array(M * N), N, 1, M * N, 1, 1)).toBe(false);
    }
    const S = new Int8Array(K * N).fill(-1);
    S[7] = NAN_LEVEL;
    expect(a.denseTimesLevels(new Float32Array(M * K).fill(1), M, K, K, 1, M * K, S, N, N, 1, K * N, new Float32Array(M * N), N, 1, M * N, 1, 2)).toBe(false);
  });

  it.skipIf(skip)(title("refuses views that reach past their arrays, with a RangeError"), () => {
    const a = nativeAddon()!;
    const A = new Float32Array(10), S = new Int8Array(10), o = new Float32Array(10);
    expect(() => a.denseTimesLevels(A, 2, 5, 5, 1, 0, S, 3, 3, 1, 0, o, 3, 1, 0, 1, 1)).toThrow(RangeError);
    expect(() => a.denseTimesLevels(A, 2, 5, 2 ** 52, 1, 0, S, 2, 2, 1, 0, o, 2, 1, 0, 1, 1)).toThrow(RangeError);
  });
});

describe("native stridedCopy", () => {
  /** Row-major strides of a shape. */
  const stridesOf = (shape: number[]) => {
    const s: number[] = [];
    let acc = 1;
    for (let i = shape.length - 1; i >= 0; i--) ((s[i] = acc), (acc *= shape[i]!));
    return s;
  };
  const permutation = (r: number) =>
    fc.array(fc.nat(), { minLength: r, maxLength: r }).map((keys) => [...Array(r).keys()].sort((x, y) => keys[x]! - keys[y]! || x - y));

  it.skipIf(skip)(title("moves every element's bits to where the odometer walk puts them, for float32, int8 and int32"), () => {
    const a = nativeAddon()!;
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }).chain((shape) => fc.tuple(fc.constant(shape), permutation(shape.length))),
        fc.constantFrom("f32", "i8", "i32"),
        ([shape, perm], kind) => {
          const n = shape.reduce((x, y) => x * y, 1);
          const bits = Uint32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0x7fc00001 + i : i % 7 === 0 ? 0x80000000 : Math.imul(i, 2654435761) >>> 0));
          const make = () => (kind === "f32" ? new Float32Array(bits.buffer.slice(0)) : kind === "i8" ? Int8Array.from(bits, (v) => (v & 0xff) << 24 >> 24) : new Int32Array(bits.buffer.slice(0)));
          const x = make();
          const inStrides = stridesOf(shape);
          const oShape = perm.map((p) => shape[p]!);
          const oStrides = perm.map((p) => inStrides[p]!);
          const out = kind === "f32" ? new Float32Array(n) : kind === "i8" ? new Int8Array(n) : new Int32Array(n);
          a.stridedCopy(x as Float32Array, 0, oShape, oStrides, out as Float32Array);
          // oracle: output index -> input offset through the permuted strides
          const outStrides = stridesOf(oShape);
          const xi = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
          const oi = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
          const es = x.BYTES_PER_ELEMENT;
          for (let o = 0; o < n; o++) {
            let off = 0;
            for (let ax = 0; ax < oShape.length; ax++) off += Math.floor(o / outStrides[ax]!) % oShape[ax]! * oStrides[ax]!;
            for (let b = 0; b < es; b++) expect(oi[o * es + b]).toBe(xi[off * es + b]);
          }
        },
      ),
      { numRuns: 150, seed: 9 },
    );
  });

  it.skipIf(skip)(title("refuses mixed kinds and views past the array, with a RangeError"), () => {
    const a = nativeAddon()!;
    expect(() => a.stridedCopy(new Float32Array(8), 0, [2, 4], [4, 1], new Int8Array(8) as unknown as Float32Array)).toThrow(RangeError);
    expect(() => a.stridedCopy(new Float32Array(8), 1, [2, 4], [4, 1], new Float32Array(8))).toThrow(RangeError);
    expect(() => a.stridedCopy(new Float32Array(8), 0, [2, 4], [2 ** 60, 1], new Float32Array(8))).toThrow(RangeError);
  });
});

describe("native spikeOp and NaN levels", () => {
  it.skipIf(skip)(title("declines (false, nothing written) when a NaN level lies in the spikes' view, else runs (true)"), () => {
    const a = nativeAddon()!;
    fc.assert(
      fc.property(
        fc.record({ R: fc.integer({ min: 1, max: 20 }), K: fc.integer({ min: 1, max: 150 }), C: fc.integer({ min: 1, max: 140 }), threads: fc.integer({ min: 1, max: 2 }), strided: fc.boolean(), seed: fc.integer() }),
        fc.option(fc.nat(), { nil: undefined }),
        ({ R, K, C, threads, strided, seed }, nanAt) => {
          let r = seed >>> 0;
          const next = () => (r = (Math.imul(r, 1664525) + 1013904223) >>> 0);
          const S = Int8Array.from({ length: R * K }, () => (next() % 3) - 1);
          if (nanAt !== undefined) S[nanAt % S.length] = NAN_LEVEL;
          const W = Float32Array.from({ length: K * C }, () => (next() % 1000) / 7 - 70);
          const out = new Float32Array(R * C).fill(42);
          // S [R, K] row-major, or [K, R] read through strides
          const [srs, scs] = strided ? [1, R] : [K, 1];
          const ran = a.spikeOp(S, R, K, srs, scs, W, C, C, 1, out, C, 1, null, threads, 1, 0, 0, 0, false);
          expect(ran).toBe(nanAt === undefined);
          if (!ran) expect(out.every((v) => v === 42)).toBe(true);
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });

  it.skipIf(skip)(title("spikeMatmul on a product large enough to skip counting: a NaN level still poisons exactly the reference's outputs"), async () => {
    const { spikeMatmul, lastSpikePlan } = await import("../interpreter/engine/kernels/spike-matmul.js");
    const M = 64, K = 512, N = 520; // M*K*N >= 2^24: the native kernel is called before any count
    let r = 7;
    const next = () => (r = (Math.imul(r, 1664525) + 1013904223) >>> 0);
    const S = Int8Array.from({ length: M * K }, () => (next() % 3) - 1);
    const W = Float32Array.from({ length: N * K }, () => (next() % 2000) / 1000 - 1);
    const clean = spikeMatmul(S, M, K, W, N, undefined, { weightLayout: "nk", threads: 2 });
    expect(lastSpikePlan()).toMatchObject({ backend: "native", variant: "event" });
    expect(Number.isNaN(lastSpikePlan()!.rate)).toBe(true); // not counted
    const bad = S.slice();
    bad[5 * K + 17] = NAN_LEVEL; // row 5, k 17
    const got = spikeMatmul(bad, M, K, W, N, undefined, { weightLayout: "nk", threads: 2 });
    const want = spikeMatmul(bad, M, K, W, N, undefined, { weightLayout: "nk", backend: "js" });
    expect(sameBits(got, want)).toBe(true);
    // the NaN level's row is NaN everywhere (NaN times any finite weight), every other row as without it
    for (let j = 0; j < N; j++) expect(Number.isNaN(got[5 * N + j]!)).toBe(true);
    for (let i = 0; i < M; i++) if (i !== 5) expect(sameBits(got.subarray(i * N, (i + 1) * N), clean.subarray(i * N, (i + 1) * N))).toBe(true);
  });
});

describe("native gather", () => {
  it.skipIf(skip)(title("out[i] = x[tab[i]] bit for bit; an index outside x is a RangeError with nothing written"), () => {
    const a = nativeAddon()!;
    fc.assert(
      fc.property(fc.array(fc.float({ noDefaultInfinity: false, noNaN: false }), { minLength: 1, maxLength: 50 }), fc.array(fc.nat(), { maxLength: 300 }), (vals, idx) => {
        const x = Float32Array.from(vals);
        const tab = Int32Array.from(idx, (i) => i % x.length);
        const out = new Float32Array(tab.length + 3).fill(7);
        a.gather(x, tab, tab.length, out);
        for (let i = 0; i < tab.length; i++) expect(Object.is(out[i], x[tab[i]!])).toBe(true);
        expect(Array.from(out.subarray(tab.length))).toEqual([7, 7, 7]);
      }),
      { numRuns: 200, seed: 4 },
    );
    const x = new Float32Array(4), out = new Float32Array(3).fill(1);
    for (const bad of [4, -1, 2 ** 31 - 1]) {
      expect(() => a.gather(x, Int32Array.of(0, bad, 1), 3, out)).toThrow(RangeError);
      expect(Array.from(out)).toEqual([1, 1, 1]);
    }
    expect(() => a.gather(x, Int32Array.of(0, 1), 3, out)).toThrow(RangeError); // tab shorter than n
  });
});
