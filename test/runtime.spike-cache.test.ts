/**
 * The key/value cache's storage (interpreter/runtime/spike-cache.ts): whatever is appended
 * reads back with the same float32 bits (oracle: a concatenation by coordinates written here);
 * spikes are held as int8 (plus one float32 amplitude per step when scaled), anything else as
 * float32, and `bytes` is what the kept arrays take.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { f32, type F32Tensor } from "../interpreter/engine/tensor.js";
import { type CacheValues, SpikeCache } from "../interpreter/runtime/spike-cache.js";

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Segments [T, H, n_i, W] (axis -2) or [T, H, W, n_i] (axis -1) joined along the sequence axis, by coordinates. */
function concatByCoordinates(segs: readonly F32Tensor[], axis: -1 | -2): Float32Array {
  const [T, H] = segs[0]!.shape as [number, number];
  const W = segs[0]!.shape[axis === -2 ? 3 : 2]!;
  const N = segs.reduce((s, x) => s + x.shape[axis === -2 ? 2 : 3]!, 0);
  const out = new Float32Array(T * H * N * W);
  let start = 0;
  for (const x of segs) {
    const n = x.shape[axis === -2 ? 2 : 3]!;
    for (let t = 0; t < T; t++)
      for (let h = 0; h < H; h++)
        for (let j = 0; j < n; j++)
          for (let w = 0; w < W; w++) {
            const src = axis === -2 ? ((t * H + h) * n + j) * W + w : ((t * H + h) * W + w) * n + j;
            const dst = axis === -2 ? ((t * H + h) * N + start + j) * W + w : ((t * H + h) * W + w) * N + start + j;
            out[dst] = x.data[src]!;
          }
    start += n;
  }
  return out;
}

const specials = [0, -0, 1, -1, Number.NaN, Infinity, -Infinity, 1.401298464324817e-45, -1.1754942106924411e-38, 3.4028234663852886e38];

/** A case: kind, axis, T, H, W, per-step amplitudes, and segments of n_i positions. */
const caseArb = fc
  .record({
    kind: fc.constantFrom<CacheValues>("levels", "scaled", "real"),
    axis: fc.constantFrom<-1 | -2>(-1, -2),
    T: fc.integer({ min: 1, max: 3 }),
    H: fc.integer({ min: 1, max: 2 }),
    W: fc.integer({ min: 1, max: 3 }),
    lengths: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
    // a spike value is level × amplitude (subnormal amplitudes included); "noise" puts arbitrary float32 values in
    amps: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: 1.401298464324817e-45, max: Math.fround(1e30) }), { minLength: 3, maxLength: 3 }),
    noise: fc.constantFrom(0, 0, 0.2),
    seed: fc.integer(),
  })
  .map((c) => {
    let s = c.seed >>> 0 || 1;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const segs = c.lengths.map((n) => {
      const shape = c.axis === -2 ? [c.T, c.H, n, c.W] : [c.T, c.H, c.W, n];
      const per = c.H * n * c.W;
      const data = new Float32Array(c.T * per);
      for (let i = 0; i < data.length; i++) {
        if (rnd() < c.noise) data[i] = rnd() < 0.5 ? specials[Math.floor(rnd() * specials.length)]! : (rnd() - 0.5) * 10;
        else {
          const level = [-1, -0, 0, 1][Math.floor(rnd() * 4)]!;
          data[i] = c.kind === "scaled" ? level * c.amps[Math.floor(i / per)]! : level;
        }
      }
      return f32(shape, data);
    });
    return { ...c, segs };
  });

describe("SpikeCache", () => {
  it("reads back exactly what was appended, with the storage its contents allow (property)", () => {
    fc.assert(
      fc.property(caseArb, ({ kind, axis, T, segs, noise }) => {
        const cache = new SpikeCache(kind, axis, true);
        for (let k = 0; k < segs.length; k++) {
          const got = cache.append(segs[k]!);
          const want = concatByCoordinates(segs.slice(0, k + 1), axis);
          expect(bytesOf(got.data).equals(bytesOf(want))).toBe(true);
        }
        const all = concatByCoordinates(segs, axis);
        expect(bytesOf(cache.read().data).equals(bytesOf(all))).toBe(true);
        expect(cache.length).toBe(segs.reduce((s, x) => s + x.shape[x.shape.length + axis]!, 0));
        expect(cache.float32Bytes).toBe(all.length * 4);
        expect(cache.bytes).toBe(cache.arrays().reduce((s, a) => s + a.byteLength, 0));
        // Spikes only (no noise), the amplitude fixed per step: int8, plus T amplitudes when scaled.
        if (kind !== "real" && noise === 0) {
          expect(cache.arrays()[0]).toBeInstanceOf(Int8Array);
          expect(cache.bytes).toBe(all.length + (kind === "scaled" ? 4 * T : 0));
        }
        if (kind === "real") expect(cache.storage).toBe("float32");
        if (cache.storage === "float32") expect(cache.arrays().map((a) => a.constructor.name)).toEqual(["Float32Array"]);
      }),
      { numRuns: 300, seed: 8 },
    );
  });

  it("int8 codes: the levels themselves, -128 for -0; scaled amplitudes held once per step", () => {
    const levels = new SpikeCache("levels", -1, false);
    levels.append(f32([2, 2], [1, -0, 0, -1]));
    expect(Array.from(levels.arrays()[0]!)).toEqual([1, -128, 0, -1]);
    const out = levels.append(f32([2, 1], [-1, 1]));
    expect(Array.from(levels.arrays()[0]!)).toEqual([1, -128, -1, 0, -1, 1]);
    expect(Object.is(out.data[1], -0)).toBe(true);
    expect(levels.storage).toBe("int8 levels");

    const a = [0.75, Math.fround(0.1)];
    const scaled = new SpikeCache("scaled", -2, true);
    // step 1 holds only zeros at first: its amplitude is learned when a spike arrives
    scaled.append(f32([2, 1, 2], [a[0]!, -a[0]!, 0, -0]));
    scaled.append(f32([2, 1, 2], [0, a[0]!, -a[1]!, a[1]!]));
    const [codes, amps] = scaled.arrays();
    expect(codes).toBeInstanceOf(Int8Array);
    expect(Array.from(codes!)).toEqual([1, -1, 0, 1, 0, -128, -1, 1]);
    expect(Array.from(amps!)).toEqual(a);
    expect(scaled.bytes).toBe(8 + 8);
    expect(scaled.storage).toBe("int8 levels + amplitudes");
  });

  it("a value that is not a spike turns the cache into float32 (still exact); bytes say so", () => {
    const c = new SpikeCache("levels", -1, false);
    c.append(f32([1, 2], [1, -1]));
    expect(c.bytes).toBe(2);
    const out = c.append(f32([1, 2], [0.5, Number.NaN]));
    expect(c.storage).toBe("float32");
    expect(c.bytes).toBe(16);
    expect(Array.from(out.data)).toEqual([1, -1, 0.5, Number.NaN]);
    // an amplitude that changes between calls is not level × the step's amplitude either
    const s = new SpikeCache("scaled", -1, false);
    s.append(f32([1, 1], [2]));
    s.append(f32([1, 1], [3]));
    expect(s.storage).toBe("float32");
    expect(Array.from(s.read().data)).toEqual([2, 3]);
  });
});
