/**
 * The native GELU's and softmax exp's fast paths (native/float_native.c: an approximation, a
 * rounding test, the exact kernels for the lanes it is unsure of) against the exact kernels,
 * bit for bit on EVERY float32 input: all 2^32 bit patterns for GELU (its input is always a
 * float32: the fused prologue rounds scale * x + bias first), and every w <= 0 or NaN for
 * softmax's fround(exp(w)) (w = fround(x_i - max) is never above 0). The exact kernels are the
 * oracle: test/engine.native-float.test.ts checks them (and the fast paths) against the
 * reference engine's JavaScript definitions on random and dense inputs.
 * The fast paths must also do the work: a path that left every lane to the exact kernel would
 * pass the comparison, so the share of lanes set aside is bounded too.
 * About 20-40 s of CPU on two threads. Skipped, with the reason, where the addon is unavailable.
 */
import { describe, expect, it } from "vitest";
import { nativeStatus } from "../interpreter/engine/kernels/native-backend.js";
import { type FloatMapKind, nativeFloatFastStats, nativeFloatMap } from "../interpreter/engine/kernels/native-float.js";

const status = nativeStatus();
const skipReason = status.ready ? "" : ` (SKIPPED: ${status.reason})`;

const hex = (v: number) => `0x${v.toString(16)}`;

const CHUNK = 1 << 22;
const THREADS = 2;

/**
 * Runs `fast` and `exact` on the bit patterns [lo, hi) (hi <= 2^32), CHUNK at a time; returns
 * the first few inputs where they differ, as "bits: fast vs exact".
 */
function compareRange(fast: FloatMapKind, exact: FloatMapKind, lo: number, hi: number): string[] {
  const bits = new Int32Array(CHUNK);
  const x = new Float32Array(bits.buffer);
  const a = new Float32Array(CHUNK);
  const b = new Float32Array(CHUNK);
  const bad: string[] = [];
  for (let c0 = lo; c0 < hi; c0 += CHUNK) {
    const n = Math.min(CHUNK, hi - c0);
    fillPatterns(bits, c0 | 0, n);
    const xs = n === CHUNK ? x : x.subarray(0, n);
    expect(nativeFloatMap(fast, xs, a, THREADS)).toBe(true);
    expect(nativeFloatMap(exact, xs, b, THREADS)).toBe(true);
    // byte-wise equality of the results (memcmp): same float32 bits, NaN payloads and zero signs included
    if (Buffer.from(a.buffer, 0, 4 * n).equals(Buffer.from(b.buffer, 0, 4 * n))) continue;
    const ua = new Uint32Array(a.buffer), ub = new Uint32Array(b.buffer);
    for (let i = 0; i < n && bad.length < 10; i++) if (ua[i] !== ub[i]) bad.push(`${hex(c0 + i)} (${x[i]}): ${hex(ua[i]!)} vs ${hex(ub[i]!)}`);
  }
  return bad;
}

/** bits[i] = base + i (as int32 arithmetic, wrapping like the uint32 patterns it stands for). */
function fillPatterns(bits: Int32Array, base: number, n: number): void {
  for (let i = 0; i < n; i++) bits[i] = (base + i) | 0;
}

describe.skipIf(!status.ready)(`native fast paths on every float32${skipReason}`, () => {
  it("GELU: the fast path gives the exact kernel's bits for all 2^32 inputs, and sets aside few of them", { timeout: 600_000 }, () => {
    const s0 = nativeFloatFastStats()!;
    expect(compareRange("gelu", "geluExact", 0, 2 ** 32)).toEqual([]);
    const s1 = nativeFloatFastStats()!;
    const elements = s1.gelu.elements - s0.gelu.elements;
    const aside = s1.gelu.setAside - s0.gelu.setAside;
    expect(elements).toBe(2 ** 32);
    // only inputs whose result lies within about 2^-42 of a float32 rounding boundary, and
    // subnormal x whose x/2 is a tie (2^23 patterns), go to the exact kernel: well under 1%
    expect(aside, `set aside ${aside}`).toBeLessThan(2 ** 32 / 100);
  });

  it("softmax's exp: the fast path gives the exact kernel's bits for every w <= 0 and NaN, and sets aside few of them", { timeout: 600_000 }, () => {
    const s0 = nativeFloatFastStats()!;
    // +0, then the positive NaNs, then every pattern with the sign bit (-0 ... -Infinity, negative NaNs)
    const ranges: [number, number][] = [[0, 1], [0x7f800001, 0x80000000], [0x80000000, 2 ** 32]];
    for (const [lo, hi] of ranges) expect(compareRange("exp", "expExact", lo, hi), `${hex(lo)}..${hex(hi)}`).toEqual([]);
    const s1 = nativeFloatFastStats()!;
    const elements = s1.exp.elements - s0.exp.elements;
    const aside = s1.exp.setAside - s0.exp.setAside;
    expect(elements).toBe(1 + (0x80000000 - 0x7f800001) + 2 ** 31);
    // the NaN patterns (2^24 - 2) go to the exact kernel, and only a few others
    expect(aside - (2 ** 24 - 2), `set aside ${aside}`).toBeLessThan(elements / 1000);
    expect(aside).toBeGreaterThanOrEqual(2 ** 24 - 2);
  });
});
