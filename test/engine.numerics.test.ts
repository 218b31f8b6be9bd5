import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { F32_LOWEST, erf, gelu, isF32, macF32, roundHalfEven } from "../interpreter/engine/numerics.js";

/** Deterministic uniform [0, 1) generator (32-bit LCG, upper bits), so sweeps are reproducible. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/*
 * The previous (slow, accurate) erf, kept here only as a reference: Maclaurin series for
 * |x| < 1, the erfc continued fraction (200 / 60 terms) for 1 <= |x| < 6, 1 beyond; absolute
 * error <= 5.8e-16 vs mpmath. The fdlibm erf in numerics.ts must agree with it to 1e-15 and
 * give the identical float32 gelu.
 */
const REF_TWO_OVER_SQRT_PI = 1.1283791670955126;
const REF_ONE_OVER_SQRT_PI = 0.5641895835477563;
const REF_SPLITTER = 134217729;
const REF_SERIES_EPS = 8.673617379884035e-19;

function referenceExpNegSquare(a: number): number {
  const hi = a * a;
  const c = REF_SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  const lo = ah * ah - hi + 2 * ah * al + al * al;
  const e = Math.exp(-hi);
  return e - e * lo;
}

function referenceErf(x: number): number {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  let r: number;
  if (a < 1) {
    if (a === 0) return x;
    const a2 = a * a;
    let p = a;
    let sum = a;
    for (let n = 1; ; n++) {
      p = (-p * a2) / n;
      const t = p / (2 * n + 1);
      if (Math.abs(t) <= sum * REF_SERIES_EPS) break;
      sum += t;
    }
    r = REF_TWO_OVER_SQRT_PI * sum;
  } else if (a < 6) {
    let f = a;
    for (let k = a < 2 ? 200 : 60; k >= 1; k--) f = a + k / 2 / f;
    r = 1 - (REF_ONE_OVER_SQRT_PI * referenceExpNegSquare(a)) / f;
  } else {
    r = 1;
  }
  return x < 0 ? -r : r;
}

function referenceGelu(x: number): number {
  return Math.fround(0.5 * x * (1 + referenceErf(x / Math.SQRT2)));
}

describe("roundHalfEven", () => {
  it("rounds ties to even", () => {
    const cases: [number, number][] = [
      [0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-1.5, -2], [-2.5, -2], [-3.5, -4],
      [0.49999997, 0], [0.50000006, 1], [1.4, 1], [1.6, 2], [-1.4, -1], [-1.6, -2], [7, 7],
    ];
    for (const [x, want] of cases) expect(roundHalfEven(x)).toBe(want);
  });

  it("keeps -0 for negative inputs that round to zero, +0 for positive", () => {
    expect(Object.is(roundHalfEven(-0.5), -0)).toBe(true);
    expect(Object.is(roundHalfEven(-0.3), -0)).toBe(true);
    expect(Object.is(roundHalfEven(-0), -0)).toBe(true);
    expect(Object.is(roundHalfEven(0.5), 0)).toBe(true);
    expect(Object.is(roundHalfEven(0.3), 0)).toBe(true);
    expect(Object.is(roundHalfEven(0), 0)).toBe(true);
  });

  it("handles NaN, infinities and huge values", () => {
    expect(roundHalfEven(NaN)).toBeNaN();
    expect(roundHalfEven(Infinity)).toBe(Infinity);
    expect(roundHalfEven(-Infinity)).toBe(-Infinity);
    expect(roundHalfEven(3.4028234663852886e38)).toBe(3.4028234663852886e38);
    expect(roundHalfEven(F32_LOWEST)).toBe(F32_LOWEST);
    expect(roundHalfEven(8388608.5)).toBe(8388608); // 2^23 + 0.5 (a double; f32 has no fraction here)
    expect(roundHalfEven(8388609.5)).toBe(8388610);
    expect(roundHalfEven(4503599627370495.5)).toBe(4503599627370496); // 2^52 - 0.5, odd below
    expect(roundHalfEven(1.401298464324817e-45)).toBe(0);
  });

  it("matches a naive definition on all float32 values (property)", () => {
    const naive = (x: number): number => {
      const f = Math.floor(x);
      const d = x - f;
      const r = d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
      return r === 0 && (x < 0 || Object.is(x, -0)) ? -0 : r;
    };
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (x) => {
        expect(Object.is(roundHalfEven(x), naive(x))).toBe(true);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: -1_000_000, max: 1_000_000 }), (k) => {
        const x = k + 0.5;
        const want = k % 2 === 0 ? k : k + 1;
        expect(roundHalfEven(x)).toBe(want === 0 && x < 0 ? -0 : want);
      }),
    );
  });
});

describe("erf", () => {
  // Reference values from mpmath at 40 digits, rounded to double.
  const known: [number, number][] = [
    [1e-20, 1.1283791670955125e-20],
    [1e-8, 1.1283791670955126e-8],
    [0.1, 0.1124629160182849],
    [0.25, 0.27632639016823696],
    [0.5, 0.5204998778130465],
    [0.75, 0.7111556336535151],
    [0.9999, 0.8426592780487595],
    [1.0, 0.8427007929497149],
    [1.25, 0.9229001282564583],
    [1.5, 0.9661051464753108],
    [2.0, 0.9953222650189527],
    [2.5, 0.999593047982555],
    [3.0, 0.9999779095030014],
    [3.5, 0.9999992569016276],
    [4.0, 0.9999999845827421],
    [5.0, 0.9999999999984626],
    [5.9, 0.9999999999999999],
    [6.5, 1.0],
  ];

  it("agrees with high-precision values to 1e-14 (relative for tiny x)", () => {
    for (const [x, y] of known) {
      expect(Math.abs(erf(x) - y)).toBeLessThanOrEqual(1e-14 * Math.max(Math.abs(y), 1e-300) + 1e-300);
      expect(Math.abs(erf(x) - y)).toBeLessThanOrEqual(1e-14);
      expect(erf(-x)).toBe(-erf(x));
    }
  });

  it("handles special values", () => {
    expect(Object.is(erf(0), 0)).toBe(true);
    expect(Object.is(erf(-0), -0)).toBe(true);
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erf(NaN)).toBeNaN();
  });

  it("is odd, bounded and non-decreasing (property)", () => {
    fc.assert(
      fc.property(fc.double({ min: -8, max: 8, noNaN: true }), fc.double({ min: 0, max: 1e-3, noNaN: true }), (x, dx) => {
        const y = erf(x);
        expect(Math.abs(y)).toBeLessThanOrEqual(1);
        expect(erf(-x)).toBe(-y);
        expect(erf(x + dx)).toBeGreaterThanOrEqual(y - 1e-15);
      }),
      { numRuns: 2000 },
    );
  });

  it("is within 1 ulp of the high-precision values", () => {
    for (const [x, y] of known) {
      const ulp = y === 0 ? 0 : 2 ** (Math.floor(Math.log2(Math.abs(y))) - 52);
      expect(Math.abs(erf(x) - y)).toBeLessThanOrEqual(ulp);
    }
  });

  it("is continuous and monotone across the algorithm boundaries", () => {
    // fdlibm's interval ends (2^-28, 0.84375, 1.25, 0x4006DB6E_00000000, 6) and the old ones.
    for (const b of [2 ** -28, 0.84375, 1, 1.25, 2.8571434020996094, 6]) {
      let prev = erf(b - 64 * b * 2 ** -52);
      for (let k = -63; k <= 64; k++) {
        const x = b + k * b * 2 ** -52;
        const y = erf(x);
        expect(y).toBeGreaterThanOrEqual(prev);
        expect(Math.abs(y - prev)).toBeLessThan(1e-15);
        expect(Math.abs(y - referenceErf(x))).toBeLessThanOrEqual(1e-15);
        prev = y;
      }
    }
  });

  it("agrees with the series / continued-fraction reference to 1e-15 (deterministic sweep)", () => {
    const rnd = lcg(0x5eed);
    let maxDiff = 0;
    for (let i = 0; i < 20_000; i++) {
      const x = i < 10_000 ? (i / 10_000) * 7 : (rnd() * 2 - 1) * 8;
      const d = Math.abs(erf(x) - referenceErf(x));
      if (d > maxDiff) maxDiff = d;
      expect(erf(-x)).toBe(-erf(x));
    }
    expect(maxDiff).toBeLessThanOrEqual(1e-15);
  });

  it("keeps tiny and subnormal inputs finite, signed and close to (2/sqrt(pi)) x", () => {
    for (const x of [5e-324, 1e-310, 2 ** -1015, 1e-300, 2 ** -29, 3e-9]) {
      expect(erf(x)).toBeGreaterThan(0);
      expect(erf(-x)).toBe(-erf(x));
      expect(Math.abs(erf(x) - 1.1283791670955126 * x)).toBeLessThanOrEqual(Math.max(4e-16 * x, 5e-324));
    }
    expect(erf(-1e-300)).toBeLessThan(0);
  });
});

describe("gelu", () => {
  // [x, fround(exact gelu(x))] from mpmath.
  const known: [number, number][] = [
    [-3.0, -0.004049694165587425],
    [-1.0, -0.15865525603294373],
    [-0.5, -0.1542687714099884],
    [0.5, 0.3457312285900116],
    [1.0, 0.8413447737693787],
    [2.0, 1.9544997215270996],
    [3.0, 2.995950222015381],
  ];

  it("is the float32 rounding of the erf form", () => {
    for (const [x, y] of known) expect(gelu(x)).toBe(y);
    expect(gelu(0)).toBe(0);
    expect(gelu(100)).toBe(100);
    expect(gelu(NaN)).toBeNaN();
  });

  it("gives -0 for large negative inputs, like PyTorch's float kernel", () => {
    expect(Object.is(gelu(-10), -0)).toBe(true);
  });

  it("matches the slow reference bit for bit on >= 200k float32 inputs", () => {
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    const rnd = lcg(0xc0ffee);
    const xs: number[] = [];
    for (let i = 0; i <= 200_000; i++) xs.push(Math.fround(-10 + i / 10_000)); // dense on [-10, 10]
    for (let i = 0; i < 30_000; i++) xs.push(Math.fround(-9 + rnd() * 4.5)); // 1 + erf cancels here
    for (let i = 0; i < 30_000; i++) xs.push(Math.fround((rnd() * 2 - 1) * 1e4));
    for (let i = 0; i < 30_000; i++) {
      u32[0] = Math.floor(rnd() * 2 ** 32); // any float32 bit pattern (NaN, Inf, subnormals)
      xs.push(f32[0]!);
    }
    let mismatches = 0;
    const first: number[] = [];
    for (const x of xs) {
      if (!Object.is(gelu(x), referenceGelu(x))) {
        mismatches++;
        if (first.length < 10) first.push(x);
      }
    }
    expect(xs.length).toBeGreaterThanOrEqual(290_000);
    expect(first).toEqual([]);
    expect(mismatches).toBe(0);
  });

  it("always returns a float32 value", () => {
    fc.assert(fc.property(fc.float({ noNaN: true }), (x) => isF32(gelu(x))), { numRuns: 2000 });
  });
});

describe("float32 helpers", () => {
  it("macF32 rounds the product and the sum separately (no FMA)", () => {
    const a = Math.fround(1 + 2 ** -23);
    // a*a = 1 + 2^-22 + 2^-46 exactly; the float32 product drops the 2^-46 (an FMA would keep it).
    expect(macF32(Math.fround(-1 - 2 ** -22), a, a)).toBe(0);
    expect(F32_LOWEST).toBe(-Math.fround(3.4028234663852886e38));
    expect(Math.fround(F32_LOWEST)).toBe(F32_LOWEST);
  });
});

describe("roundHalfEven fast path", () => {
  // The obvious definition: Math.round (ties up) corrected on exact ties with an odd result.
  const slow = (x: number) => {
    if (!Number.isFinite(x) || Math.abs(x) >= 4503599627370496) return x;
    const r = Math.round(x);
    return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  it("equals the obvious definition on doubles, float32 values, ties and huge values", () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.float().map(Math.fround), fc.integer({ min: -1e6, max: 1e6 }).map((k) => k / 2), fc.double({ min: 2 ** 50, max: 2 ** 53 }), fc.double({ min: -(2 ** 53), max: -(2 ** 50) })), (x) => {
        expect(Object.is(roundHalfEven(x), slow(x))).toBe(true);
      }),
      { numRuns: 20000 },
    );
  });
});
