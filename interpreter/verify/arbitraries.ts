/**
 * Input values for equivalence checking: tensors whose elements reach the edges of float32
 * semantics — -0, subnormals, round-half-to-even ties, values whose sums overflow to
 * Infinity, all-zero tensors (amplitude 0) and, when asked for, NaN and ±Infinity.
 *
 * Used by the optimizer's property test (test/optimizer.equivalence.test.ts, through
 * test/generators/spec-gen.ts) and by `spikelm verify` (case.ts), so the API is small: a value
 * profile, its fast-check arbitrary, and a deterministic fill from (profile, seed). The fill is
 * a seeded generator rather than fc.array so that large tensors stay cheap.
 */
import fc from "fast-check";

/**
 * How a tensor's elements are drawn:
 * - normal: uniform in ±3 (the old generator's range).
 * - small: uniform in ±1e-3, where amplitudes are tiny and 1e-5-style clamps matter.
 * - large: uniform in ±1e4.
 * - huge: magnitudes 1e30 to float32 max, so products and sums overflow to ±Infinity.
 * - zeros: all +0 (calibrated amplitudes are 0). signed-zeros: +0 and -0 mixed.
 * - subnormal: float32 subnormals of both signs, with some zeros.
 * - ties: halves and small integers (0.5, 1.5, -2.5, ...), ties of round half to even.
 * - constant: every element the same nonzero value (all-firing or all-silent neurons).
 * - mixed: mostly normal, one in four an edge value from FINITE_EDGES.
 * - nonfinite: mixed, plus NaN, Infinity and -Infinity (one in eight).
 */
export type ValueProfile = "normal" | "small" | "large" | "huge" | "zeros" | "signed-zeros" | "subnormal" | "ties" | "constant" | "mixed" | "nonfinite";

export const FINITE_PROFILES: readonly ValueProfile[] = ["normal", "small", "large", "huge", "zeros", "signed-zeros", "subnormal", "ties", "constant", "mixed"];

const F32_MAX = 3.4028234663852886e38;
const F32_MIN_NORMAL = 1.1754943508222875e-38;
const F32_MIN_SUBNORMAL = 1.401298464324817e-45;

/** Finite float32 values at the edges of the semantics. */
export const FINITE_EDGES: readonly number[] = [
  0, -0, F32_MIN_SUBNORMAL, -F32_MIN_SUBNORMAL, F32_MIN_NORMAL, -F32_MIN_NORMAL, 1e-5, Math.fround(1e-5),
  0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 1, -1, F32_MAX, -F32_MAX, 1e30, -1e30,
];

export const NONFINITE_EDGES: readonly number[] = [Number.NaN, Infinity, -Infinity];

/**
 * A seeded xorshift32 generator: cheap, deterministic, and good enough to spread values.
 * Each call returns the next number in [0, 1); seed 0 is taken as 1.
 */
export function xorshift32(seed: number): () => number {
  let s = (seed >>> 0) || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Deterministic float32 values for (profile, seed): n elements. */
export function fillValues(n: number, profile: ValueProfile, seed: number): Float32Array {
  const next = xorshift32(seed);
  const uniform = (r: number) => (next() * 2 - 1) * r;
  const sign = () => (next() < 0.5 ? -1 : 1);
  const edge = (xs: readonly number[]) => xs[Math.floor(next() * xs.length)]!;
  const constant = uniform(4) || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    switch (profile) {
      case "normal": v = uniform(3); break;
      case "small": v = uniform(1e-3); break;
      case "large": v = uniform(1e4); break;
      case "huge": v = sign() * 10 ** (30 + next() * 8.5); break;
      case "zeros": v = 0; break;
      case "signed-zeros": v = next() < 0.5 ? -0 : 0; break;
      case "subnormal": v = next() < 0.2 ? 0 : sign() * F32_MIN_SUBNORMAL * Math.floor(1 + next() * 2 ** 22); break;
      case "ties": v = (Math.floor(next() * 9) - 4) / 2; break;
      case "constant": v = constant; break;
      case "mixed": v = next() < 0.25 ? edge(FINITE_EDGES) : uniform(3); break;
      case "nonfinite": {
        const r = next();
        v = r < 0.125 ? edge(NONFINITE_EDGES) : r < 0.35 ? edge(FINITE_EDGES) : uniform(3);
        break;
      }
    }
    out[i] = v;
  }
  return out;
}

/** A profile, weighted so that ordinary values stay common. */
export function valueProfileArb(opts: { nonfinite?: boolean } = {}): fc.Arbitrary<ValueProfile> {
  const rows: { arbitrary: fc.Arbitrary<ValueProfile>; weight: number }[] = [
    { arbitrary: fc.constant("normal" as const), weight: 4 },
    { arbitrary: fc.constant("mixed" as const), weight: 4 },
    { arbitrary: fc.constantFrom<ValueProfile>("small", "large", "huge", "zeros", "signed-zeros", "subnormal", "ties", "constant"), weight: 4 },
  ];
  if (opts.nonfinite) rows.push({ arbitrary: fc.constant("nonfinite" as const), weight: 8 });
  return fc.oneof(...rows);
}
