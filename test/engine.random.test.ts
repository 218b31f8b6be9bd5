import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { type Init, fillSeeded, fillSeededRows, fmix32, fnv1a32, initTensor, streamFor } from "../interpreter/engine/random.js";

const utf8 = (s: string) => new TextEncoder().encode(s);

describe("hashing", () => {
  it("FNV-1a matches the published test vectors", () => {
    expect(fnv1a32(utf8(""))).toBe(0x811c9dc5);
    expect(fnv1a32(utf8("a"))).toBe(0xe40c292c);
    expect(fnv1a32(utf8("foobar"))).toBe(0xbf9cf968);
  });
  it("fmix32 fixes 0 and is unsigned", () => {
    expect(fmix32(0)).toBe(0);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (x) => {
      const y = fmix32(x);
      return Number.isInteger(y) && y >= 0 && y <= 0xffffffff;
    }));
  });
});

describe("streamFor", () => {
  // Expected words from an independent Python implementation of the documented scheme.
  it("reproduces the documented scheme exactly", () => {
    const s = streamFor(42, "encoder.layer.0.attention.self.query.weight");
    expect([1, 2, 3, 4, 5, 6].map(() => s.nextU32())).toEqual([
      4084636326, 3730528040, 2031724027, 374960879, 1584627258, 2159602160,
    ]);
    const t = streamFor(-7, "wé"); // negative seed, non-ASCII path (UTF-8)
    expect([1, 2, 3].map(() => t.nextU32())).toEqual([3579944935, 1104092955, 3800914839]);
    const n = streamFor(0, "x");
    expect(n.normal()).toBe(0.48792408557288686);
    expect(n.normal()).toBe(0.0014200258773556641);
  });

  it("is deterministic and independent per path", () => {
    const a1 = streamFor(1, "a");
    const a2 = streamFor(1, "a");
    const b = streamFor(1, "b");
    const c = streamFor(2, "a");
    const xs = Array.from({ length: 8 }, () => a1.uniform());
    expect(Array.from({ length: 8 }, () => a2.uniform())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => b.uniform())).not.toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.uniform())).not.toEqual(xs);
  });

  it("rejects non-integer seeds", () => {
    expect(() => streamFor(1.5, "a")).toThrow(RangeError);
  });

  it("uniform is in [0, 1) with mean ~1/2; normal has mean ~0, variance ~1", () => {
    const s = streamFor(7, "stats");
    const N = 100_000;
    let su = 0, sn = 0, sn2 = 0, outOfRange = 0;
    for (let i = 0; i < N; i++) {
      const u = s.uniform();
      if (!(u >= 0 && u < 1)) outOfRange++;
      su += u;
      const z = s.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(outOfRange).toBe(0);
    expect(Math.abs(su / N - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(sn / N)).toBeLessThan(0.02);
    expect(Math.abs(sn2 / N - 1)).toBeLessThan(0.03);
  });
});

describe("initTensor", () => {
  it("fills in row-major order, rounded to float32", () => {
    const t = initTensor([2, 3], { kind: "normal", std: 0.02 }, streamFor(0, "x"));
    expect(t.dtype).toBe("f32");
    expect(t.shape).toEqual([2, 3]);
    expect(t.data[0]).toBe(0.0097584817558527);
    expect(t.data[1]).toBe(2.8400518203852698e-5);
    const u = initTensor([1000], { kind: "uniform", bound: 0.5 }, streamFor(3, "u"));
    const s = streamFor(3, "u");
    for (const v of u.data) {
      expect(v).toBe(Math.fround(0.5 * (2 * s.uniform() - 1)));
      expect(Math.abs(v)).toBeLessThanOrEqual(0.5);
    }
  });

  it("zeros and ones consume nothing from the stream", () => {
    const s = streamFor(5, "p");
    expect(Array.from(initTensor([2, 2], { kind: "zeros" }, s).data)).toEqual([0, 0, 0, 0]);
    expect(Array.from(initTensor([3], { kind: "ones" }, s).data)).toEqual([1, 1, 1]);
    expect(s.nextU32()).toBe(streamFor(5, "p").nextU32());
  });
});

describe("fillSeeded", () => {
  // The fast fill must give initTensor's values on the path's stream, bit for bit: the
  // stream is the oracle (its words are pinned above against an independent implementation).
  const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
  const inits = fc.oneof(
    fc.record({ kind: fc.constant("uniform" as const), bound: fc.double({ min: 1e-6, max: 10, noNaN: true }) }),
    fc.record({ kind: fc.constant("normal" as const), std: fc.double({ min: 1e-6, max: 10, noNaN: true }) }),
    fc.constant({ kind: "zeros" as const }),
    fc.constant({ kind: "ones" as const }),
  );

  it("equals initTensor on the path's stream for any seed, path, init and length (odd lengths too)", () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), fc.string(), inits, fc.integer({ min: 0, max: 67 }), (seed, path, init: Init, n) =>
        same(fillSeeded(new Float32Array(n), init, seed, path), initTensor([n], init, streamFor(seed, path)).data),
      ),
    );
  });

  it("equals initTensor on a BERT-sized row count (the embedding init, normal(1.0))", () => {
    const shape = [301, 768];
    for (const init of [{ kind: "normal", std: 1 }, { kind: "uniform", bound: 1 / Math.sqrt(768) }] as const) {
      const want = initTensor(shape, init, streamFor(0, "embeddings.word.table")).data;
      expect(same(fillSeeded(new Float32Array(want.length), init, 0, "embeddings.word.table"), want)).toBe(true);
    }
  });

  it("overwrites whatever the array held", () => {
    const out = new Float32Array(5).fill(7);
    expect(Array.from(fillSeeded(out, { kind: "zeros" }, 1, "p"))).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("fillSeededRows", () => {
  // The oracle: the whole tensor from the documented stream, compared at the chosen rows.
  it("fills exactly the chosen rows with the whole tensor's values and leaves the others alone", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 6 }).map((h) => 2 * h),
        fc.oneof(fc.constant({ kind: "normal" as const, std: 1 }), fc.constant({ kind: "uniform" as const, bound: 0.3 })),
        fc.integer({ min: 0, max: 1000 }),
        fc.uniqueArray(fc.nat(), { maxLength: 9 }),
        (n, width, init: Init, seed, picks) => {
          const rows = [...new Set(picks.map((p) => p % n))].sort((a, b) => a - b);
          const whole = initTensor([n, width], init, streamFor(seed, "t")).data;
          const got = fillSeededRows(new Float32Array(n * width).fill(-7), init, seed, "t", width, rows);
          for (let r = 0; r < n; r++)
            for (let c = 0; c < width; c++) {
              const want = rows.includes(r) ? whole[r * width + c]! : -7;
              if (!Object.is(got[r * width + c], want)) return false;
            }
          return true;
        },
      ),
    );
  });

  it("refuses rows out of order and odd-width normal rows (they would split Box–Muller pairs)", () => {
    expect(() => fillSeededRows(new Float32Array(8), { kind: "uniform", bound: 1 }, 0, "t", 2, [2, 1])).toThrow(RangeError);
    expect(() => fillSeededRows(new Float32Array(9), { kind: "normal", std: 1 }, 0, "t", 3, [1])).toThrow(RangeError);
  });
});
