/**
 * The native addon's own argument checks (spike_native.c `spikeOp` and `pack`, levels_native.c
 * `denseTimesLevels`), called raw,
 * past native-backend.ts: wrong types, negative, fractional or unsafe sizes, views reaching
 * past their arrays (also through sizes whose products pass int64), packed weights of the
 * wrong length must throw a RangeError and never touch memory outside the arrays. A
 * fast-check property draws argument tuples, decides with an independent model of the
 * checks (BigInt arithmetic, no overflow) whether the call is valid, and expects a RangeError
 * exactly for the invalid ones and, for valid ones, the contract's bits from a plain strided
 * loop. A call that let a bad view through would crash this test process, which fails the
 * file. Skipped, with the reason, where the addon cannot be built or loaded.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { nativeAddon, nativeStatus } from "../interpreter/engine/kernels/native-backend.js";

const status = nativeStatus();
const addon = nativeAddon() as unknown as {
  spikeOp: (...args: unknown[]) => void;
  pack: (...args: unknown[]) => void;
  denseTimesLevels?: (...args: unknown[]) => boolean;
  tileWidth: number;
} | null;

const TW = 128;
/** K at or above this is refused: event entries hold k*TW in 31 bits. */
const K_LIMIT = Math.floor(0x7fffffff / TW);
const SCRATCH_LIMIT = 2n ** 40n;
const fr = Math.fround;

const isSafeSize = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);

/** Whether every element of n strided rows x cols views lies inside [0, length). */
function viewsFit(n: number, stride: number, rows: number, cols: number, rs: number, cs: number, length: number): boolean {
  if (n <= 0 || rows <= 0 || cols <= 0) return true;
  const last = BigInt(rows - 1) * BigInt(rs) + BigInt(cols - 1) * BigInt(cs) + BigInt(n - 1) * BigInt(stride);
  return last < BigInt(length);
}

type Verdict = "throw" | "noop" | "run";

/** The addon's contract for spikeOp's 19 arguments, modelled independently of its C. */
function spikeOpVerdict(a: readonly unknown[]): Verdict {
  if (a.length !== 19) return "throw";
  if (typeof a[18] !== "boolean") return "throw";
  if (!(a[0] instanceof Int8Array) || !(a[5] instanceof Float32Array) || !(a[9] instanceof Float32Array)) return "throw";
  if (a[12] !== null && a[12] !== undefined && !(a[12] instanceof Float32Array)) return "throw";
  const ints = [1, 2, 3, 4, 6, 7, 8, 10, 11, 13, 14, 15, 16, 17].map((i) => a[i]);
  if (!ints.every(isSafeSize)) return "throw";
  if (ints.some((v) => (v as number) < 0)) return "throw";
  const [S, W, O, SC, wPacked] = [a[0] as Int8Array, a[5] as Float32Array, a[9] as Float32Array, a[12] as Float32Array | null | undefined, a[18] as boolean];
  const [R, K, srs, scs, C, wrs, wcs, ors, ocs, , n, sStride, wStride, oStride] = ints as number[];
  if (R === 0 || C === 0 || n === 0) return "noop";
  if (K! >= K_LIMIT) return "throw";
  const packedLen = BigInt(Math.ceil(C! / TW)) * BigInt(K!) * BigInt(TW);
  if (wPacked && (n !== 1 || packedLen > BigInt(W.length))) return "throw";
  if (!viewsFit(n!, sStride!, R!, K!, srs!, scs!, S.length)) return "throw";
  if (!wPacked && !viewsFit(n!, wStride!, K!, C!, wrs!, wcs!, W.length)) return "throw";
  if (!viewsFit(n!, oStride!, R!, C!, ors!, ocs!, O.length)) return "throw";
  if (BigInt(n!) * BigInt(R!) * BigInt(K!) > SCRATCH_LIMIT || (!wPacked && BigInt(n!) * packedLen > SCRATCH_LIMIT)) return "throw";
  if (SC && (SC.length < R! || n !== 1)) return "throw";
  return "run";
}

/** Work a valid call does (rows, columns and k over the batch, and the weights it packs): big ones are not run. */
function work(a: readonly unknown[]): bigint {
  const [R, K, C, n] = [a[1], a[2], a[6], a[14]].map((v) => BigInt(v as number));
  return n! * R! * C! * (K! + 1n) + n! * BigInt(Math.ceil((a[6] as number) / TW)) * K! * BigInt(TW);
}

/** What a valid spikeOp writes into a copy of out: the plain strided loop (levels' signs, as the kernel reads them). */
function spikeOpOracle(a: readonly unknown[]): Float32Array | null {
  const [S, W, O, SC, wPacked] = [a[0] as Int8Array, a[5] as Float32Array, a[9] as Float32Array, a[12] as Float32Array | null | undefined, a[18] as boolean];
  const [R, K, srs, scs, C, wrs, wcs, ors, ocs, , n, sStride, wStride, oStride] = [1, 2, 3, 4, 6, 7, 8, 10, 11, 13, 14, 15, 16, 17].map((i) => a[i] as number);
  const out = O.slice();
  const seen = new Set<number>();
  for (let b = 0; b < n!; b++)
    for (let r = 0; r < R!; r++)
      for (let c = 0; c < C!; c++) {
        let acc = 0;
        for (let k = 0; k < K!; k++) {
          const s = Math.sign(S[b * sStride! + r * srs! + k * scs!]!);
          const w = wPacked ? W[(Math.floor(c / TW) * K! + k) * TW + (c % TW)]! : W[b * wStride! + k * wrs! + c * wcs!]!;
          acc = fr(acc + fr(s * w));
        }
        const at = b * oStride! + r * ors! + c * ocs!;
        if (seen.has(at)) return null; // outputs that overlap: which write lands last is not part of the contract
        seen.add(at);
        out[at] = SC ? fr(SC[r]! * acc) : acc;
      }
  return out;
}

/** Largest K or N denseTimesLevels takes (levels_native.c). */
const LV_LIMIT = 1 << 20;
const LV_INTS = [1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 14, 15, 16];

/**
 * denseTimesLevels(A, M, K, ars, acs, aStride, S, N, sks, sns, sStride, out, ors, ocs, oStride, n, threads):
 * "throw", "noop" (returns true, writes nothing) or "run".
 */
function levelsVerdict(a: readonly unknown[]): Verdict {
  if (a.length !== 17) return "throw";
  if (!(a[0] instanceof Float32Array) || !(a[6] instanceof Int8Array) || !(a[11] instanceof Float32Array)) return "throw";
  const ints = LV_INTS.map((i) => a[i]);
  if (!ints.every((v) => isSafeSize(v) && v >= 0)) return "throw";
  const [M, K, ars, acs, aStride, N, sks, sns, sStride, ors, ocs, oStride, n] = ints as number[];
  if (M === 0 || N === 0 || n === 0) return "noop";
  if (K! > LV_LIMIT || N! > LV_LIMIT) return "throw";
  if (!viewsFit(n!, aStride!, M!, K!, ars!, acs!, (a[0] as Float32Array).length)) return "throw";
  if (!viewsFit(n!, sStride!, K!, N!, sks!, sns!, (a[6] as Int8Array).length)) return "throw";
  if (!viewsFit(n!, oStride!, M!, N!, ors!, ocs!, (a[11] as Float32Array).length)) return "throw";
  return "run";
}

/** A valid run's result: false when a float it reads is not finite or a level it reads is NaN (-128), else out's new contents (null: outputs overlap). */
function levelsOracle(a: readonly unknown[]): { ok: boolean; out: Float32Array | null } {
  const [A, S, O] = [a[0] as Float32Array, a[6] as Int8Array, a[11] as Float32Array];
  const [M, K, ars, acs, aStride, N, sks, sns, sStride, ors, ocs, oStride, n] = LV_INTS.map((i) => a[i] as number);
  const out = O.slice();
  const seen = new Set<number>();
  let ok = true;
  for (let b = 0; b < n!; b++)
    for (let i = 0; i < M!; i++)
      for (let c = 0; c < N!; c++) {
        let acc = 0;
        for (let k = 0; k < K!; k++) {
          const x = A[b * aStride! + i * ars! + k * acs!]!;
          const s = S[b * sStride! + k * sks! + c * sns!]!;
          if (!Number.isFinite(x) || s === -128) ok = false;
          acc = fr(acc + fr(x * s));
        }
        const at = b * oStride! + i * ors! + c * ocs!;
        if (seen.has(at)) return { ok, out: null };
        seen.add(at);
        out[at] = acc;
      }
  return { ok, out };
}

// ---------------------------------------------------------------- argument generators

/** Sizes and strides: mostly small, sometimes past int32 / near 2^53, negative, fractional or not numbers. */
const sizeArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 6 }), weight: 80 },
  { arbitrary: fc.integer({ min: 7, max: 200 }), weight: 3 },
  { arbitrary: fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 32 + 1, 4097, 2 ** 52, 2 ** 53 - 1, K_LIMIT - 1, K_LIMIT), weight: 3 },
  { arbitrary: fc.constantFrom(-1, -(2 ** 52), 1.5, 0.5, -0, 2 ** 53, Number.NaN, Infinity, -Infinity), weight: 2 },
  { arbitrary: fc.constantFrom<unknown>("3", undefined, null, true, {}, 3n), weight: 1 },
);

function int8s(len: number, seed: number): Int8Array {
  return Int8Array.from({ length: len }, (_, i) => [-1, 0, 1, 0][(i * 7 + seed) % 4]!);
}
function f32s(len: number, seed: number): Float32Array {
  return Float32Array.from({ length: len }, (_, i) => fr(Math.sin(i * 1.3 + seed) * 4));
}

/** Typed arrays of the wanted kind (sometimes a view at an offset into a larger buffer), or something else. */
function arrayArb(kind: "i8" | "f32"): fc.Arbitrary<unknown> {
  const make = (len: number, seed: number, offset: number) => {
    const whole = kind === "i8" ? int8s(len + offset, seed) : f32s(len + offset, seed);
    return whole.subarray(offset);
  };
  return fc.oneof(
    { arbitrary: fc.tuple(fc.integer({ min: 0, max: 96 }), fc.nat(100), fc.constantFrom(0, 0, 0, 3)).map(([l, s, o]) => make(l, s, o)), weight: 20 },
    { arbitrary: fc.integer({ min: 0, max: 8 }).map((l) => (kind === "i8" ? new Uint8Array(l) : new Float64Array(l))), weight: 1 },
    { arbitrary: fc.integer({ min: 0, max: 8 }).map((l) => (kind === "i8" ? new Float32Array(l) : new Int8Array(l))), weight: 1 },
    { arbitrary: fc.constantFrom<unknown>(null, undefined, [1, 0, -1], new DataView(new ArrayBuffer(8)), "S"), weight: 1 },
  );
}

const scaleArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constant(null), weight: 6 },
  { arbitrary: fc.constant(undefined), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 8 }).map((l) => f32s(l, 5)), weight: 4 },
  { arbitrary: fc.constantFrom<unknown>(new Float64Array(4), [1, 2], 1), weight: 1 },
);

/**
 * Tuples at the edge of validity: natural or odd strides (0 included), arrays exactly as
 * long as the views need, or one element short, or longer; columns across a tile edge.
 */
const nearValidArgs: fc.Arbitrary<unknown[]> = fc
  .record({
    R: fc.integer({ min: 1, max: 6 }), K: fc.integer({ min: 0, max: 6 }), C: fc.constantFrom(1, 5, 127, 128, 129, 200), n: fc.integer({ min: 1, max: 3 }),
    sT: fc.boolean(), wT: fc.boolean(), oT: fc.boolean(), odd: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 6, maxLength: 6 }), useOdd: fc.boolean(),
    slack: fc.array(fc.constantFrom(-1, 0, 0, 0, 2), { minLength: 4, maxLength: 4 }), scaled: fc.boolean(), packed: fc.constantFrom(false, false, false, true), threads: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ R, K, C, n, sT, wT, oT, odd, useOdd, slack, scaled, packed, threads }) => {
    const [srs, scs] = useOdd ? [odd[0]!, odd[1]!] : sT ? [1, R] : [K, 1];
    const [wrs, wcs] = useOdd ? [odd[2]!, odd[3]!] : wT ? [1, K] : [C, 1];
    const [ors, ocs] = useOdd ? [odd[4]!, odd[5]!] : oT ? [1, R] : [C, 1];
    const span = (rows: number, cols: number, rs: number, cs: number) => (rows > 0 && cols > 0 ? (rows - 1) * rs + (cols - 1) * cs + 1 : 0);
    const [sSpan, wSpan, oSpan] = [span(R, K, srs, scs), span(K, C, wrs, wcs), span(R, C, ors, ocs)];
    const b = packed ? 1 : n;
    const len = (one: number, i: number) => Math.max(0, (b - 1) * one + one + slack[i]!);
    const wLen = packed ? Math.ceil(C / TW) * K * TW + slack[1]! : len(wSpan, 1);
    return [
      int8s(len(sSpan, 0), R + K), R, K, srs, scs,
      f32s(Math.max(0, wLen), C), C, wrs, wcs,
      new Float32Array(len(oSpan, 2)), ors, ocs, scaled ? f32s(Math.max(0, R + (b === 1 ? slack[3]! : 0)), 3) : null, threads,
      b, sSpan, wSpan, oSpan, packed,
    ];
  });

const spikeOpArgs: fc.Arbitrary<unknown[]> = fc
  .tuple(
    arrayArb("i8"), sizeArb, sizeArb, sizeArb, sizeArb,
    arrayArb("f32"), sizeArb, sizeArb, sizeArb,
    arrayArb("f32"), sizeArb, sizeArb, scaleArb, fc.oneof(fc.constantFrom(1, 2, 3), sizeArb),
    fc.oneof({ arbitrary: fc.constant(1), weight: 3 }, { arbitrary: sizeArb, weight: 1 }), sizeArb, sizeArb, sizeArb,
    fc.oneof({ arbitrary: fc.boolean(), weight: 8 }, { arbitrary: fc.constantFrom<unknown>(0, 1, "true", null), weight: 1 }),
  )
  .chain((args) =>
    // now and then too few or too many arguments
    fc.oneof({ arbitrary: fc.constant(args as unknown[]), weight: 20 }, { arbitrary: fc.integer({ min: 0, max: 21 }).map((k) => (k <= 19 ? args.slice(0, k) : [...args, 0, 0])), weight: 1 }),
  );

/** denseTimesLevels arguments: random, and near validity (natural strides, arrays exactly long enough or one short). */
const levelsArgs: fc.Arbitrary<unknown[]> = fc.oneof(
  fc.tuple(arrayArb("f32"), sizeArb, sizeArb, sizeArb, sizeArb, sizeArb, arrayArb("i8"), sizeArb, sizeArb, sizeArb, sizeArb, arrayArb("f32"), sizeArb, sizeArb, sizeArb, fc.oneof(fc.constant(1), sizeArb), fc.constantFrom(1, 2)).map((t) => [...t] as unknown[]),
  fc
    .record({
      M: fc.integer({ min: 1, max: 5 }), K: fc.integer({ min: 0, max: 6 }), N: fc.constantFrom(1, 3, 16, 17, 128, 130), n: fc.integer({ min: 1, max: 3 }),
      slack: fc.array(fc.constantFrom(-1, 0, 0, 0, 2), { minLength: 3, maxLength: 3 }), threads: fc.integer({ min: 1, max: 3 }),
      edge: fc.constantFrom("none", "none", "nan-level", "inf", "nan"),
    })
    .map(({ M, K, N, n, slack, threads, edge }) => {
      const A = f32s(Math.max(0, n * M * K + slack[0]!), M + K);
      const S = int8s(Math.max(0, n * K * N + slack[1]!), N);
      if (edge === "nan-level" && S.length > 0) S[S.length >> 1] = -128;
      if ((edge === "inf" || edge === "nan") && A.length > 0) A[A.length >> 1] = edge === "inf" ? -Infinity : Number.NaN;
      return [A, M, K, K, 1, M * K, S, N, N, 1, K * N, new Float32Array(Math.max(0, n * M * N + slack[2]!)), N, 1, M * N, n, threads];
    }),
);

/** A call whose args are those (typed arrays copied, so runs do not share output). */
function copyArgs(a: readonly unknown[]): unknown[] {
  return a.map((v) => (v instanceof Float32Array || v instanceof Int8Array ? v.slice() : v));
}

describe.skipIf(!status.ready || !addon)(`native addon argument checks${status.ready ? "" : ` (SKIPPED: ${status.reason})`}`, () => {
  const spikeOp = (...a: unknown[]) => addon!.spikeOp(...a);
  const pack = (...a: unknown[]) => addon!.pack(...a);
  const S = new Int8Array([1, 0, -1, 1]);
  const W = new Float32Array([1, 2, 3, 4]);
  /** A valid 2x2 @ 2x2 call with the given arguments replaced. */
  const call = (over: Record<number, unknown> = {}) => {
    const a: unknown[] = [S, 2, 2, 2, 1, W, 2, 2, 1, new Float32Array(4), 2, 1, null, 1, 1, 0, 0, 0, false];
    for (const [i, v] of Object.entries(over)) a[Number(i)] = v;
    return () => spikeOp(...a);
  };

  it("a valid call computes the contract; each kind of bad argument is a RangeError", () => {
    const out = new Float32Array(4);
    spikeOp(S, 2, 2, 2, 1, W, 2, 2, 1, out, 2, 1, null, 1, 1, 0, 0, 0, false);
    expect(Array.from(out)).toEqual([1, 2, 2, 2]); // [1,0;-1,1] @ [1,2;3,4]
    const bad: [string, Record<number, unknown>][] = [
      ["S not an Int8Array", { 0: new Uint8Array(4) }],
      ["W not a Float32Array", { 5: new Float64Array(4) }],
      ["out a plain array", { 9: [0, 0, 0, 0] }],
      ["scale of the wrong type", { 12: new Float64Array(2) }],
      ["scale shorter than R", { 12: new Float32Array(1) }],
      ["an empty scale (its data pointer may be NULL)", { 12: new Float32Array(0) }],
      ["a negative size", { 1: -1 }],
      ["a fractional size", { 2: 1.5 }],
      ["a size past 2^53", { 6: 2 ** 53 }],
      ["NaN", { 3: Number.NaN }],
      ["a string size", { 4: "1" }],
      ["a negative stride", { 10: -2 }],
      ["S's rows past its end", { 3: 3 }],
      ["W's columns past its end", { 8: 2 }],
      ["out's rows past its end", { 10: 3 }],
      ["a second contraction past out's end", { 14: 2, 15: 0, 16: 0, 17: 4 }],
      ["a view that wraps int64 (4097 rows, row stride 2^52)", { 1: 4097, 3: 2 ** 52, 10: 0 }],
      ["a batch stride that wraps int64", { 14: 4097, 15: 2 ** 52, 16: 0, 17: 0 }],
      ["packed weights too short", { 18: true }],
      ["packed weights with a batch", { 5: new Float32Array(2 * 128), 14: 2, 15: 0, 16: 0, 17: 0, 18: true }],
      ["K too large for the event lists", { 2: K_LIMIT, 3: 0, 4: 0, 7: 0 }],
      ["scratch past 2^40 events (zero strides)", { 1: 2 ** 41, 2: 1, 3: 0, 4: 0, 7: 0, 8: 0, 10: 0, 11: 0 }],
      ["wPacked not a boolean", { 18: 1 }],
    ];
    for (const [what, over] of bad) expect(call(over), what).toThrow(RangeError);
    expect(() => spikeOp(S, 2, 2)).toThrow(RangeError);
    expect(() => pack(W, 2, 2, 2, 1)).toThrow(RangeError);
    expect(() => pack(W, 2, 2, 2, 1, new Float32Array(2 * 128 - 1))).toThrow(RangeError);
    expect(() => pack(W, 1, 2 ** 52, 0, 0, new Float32Array(128))).toThrow(RangeError);
    expect(() => pack(W, 2, 2, 2, 2, new Float32Array(256))).toThrow(RangeError);
  });

  it("never crashes: random argument tuples throw a RangeError exactly when invalid, and valid ones compute the contract", () => {
    let runs = 0;
    let throws = 0;
    fc.assert(
      fc.property(fc.oneof(spikeOpArgs, nearValidArgs), (args) => {
        const verdict = spikeOpVerdict(args);
        if (verdict === "run" && work(args) > 200_000n) return; // valid but too big to run here
        const a = copyArgs(args);
        const want = verdict === "run" ? spikeOpOracle(a) : null;
        const before = a[9] instanceof Float32Array ? a[9].slice() : null;
        if (verdict === "throw") {
          throws++;
          expect(() => spikeOp(...a)).toThrow(RangeError);
          // a refused call writes nothing
          if (before) expect(Array.from(a[9] as Float32Array)).toEqual(Array.from(before));
          return;
        }
        spikeOp(...a);
        if (verdict === "noop") expect(Array.from(a[9] as Float32Array)).toEqual(Array.from(before!));
        else {
          runs++;
          if (want) {
            const got = a[9] as Float32Array;
            for (let i = 0; i < got.length; i++) expect(Object.is(got[i], want[i]), `out[${i}]: ${got[i]} vs ${want[i]}`).toBe(true);
          }
        }
      }),
      { numRuns: 3000 },
    );
    // the generator reaches both sides of the checks
    expect(runs).toBeGreaterThan(300);
    expect(throws).toBeGreaterThan(500);
  });

  it("pack: random arguments throw a RangeError exactly when invalid; valid ones write the tile layout", () => {
    const args = fc.tuple(arrayArb("f32"), sizeArb, sizeArb, sizeArb, sizeArb, arrayArb("f32"));
    let valid = 0;
    fc.assert(
      fc.property(args, (raw) => {
        const a = copyArgs(raw);
        const [Wa, K, C, wrs, wcs, D] = a as [unknown, unknown, unknown, unknown, unknown, unknown];
        let ok = Wa instanceof Float32Array && D instanceof Float32Array && [K, C, wrs, wcs].every((v) => isSafeSize(v) && v >= 0);
        if (ok) {
          const [k, c, rs, cs] = [K, C, wrs, wcs] as number[];
          ok = k! < K_LIMIT && BigInt(Math.ceil(c! / TW)) * BigInt(k!) * BigInt(TW) <= BigInt((D as Float32Array).length) && viewsFit(1, 0, k!, c!, rs!, cs!, (Wa as Float32Array).length);
        }
        if (!ok) {
          expect(() => pack(...a)).toThrow(RangeError);
          return;
        }
        const [src, k, c, rs, cs, dst] = a as [Float32Array, number, number, number, number, Float32Array];
        const want = dst.slice();
        // (when K is 0 there is nothing to write, however many tiles C makes: up to 2^46 of them)
        for (let t = 0; k > 0 && t < Math.ceil(c / TW); t++)
          for (let kk = 0; kk < k; kk++)
            for (let j = 0; j < TW; j++) want[(t * k + kk) * TW + j] = t * TW + j < c ? src[kk * rs + (t * TW + j) * cs]! : 0;
        pack(...a);
        valid++;
        for (let i = 0; i < dst.length; i++) expect(Object.is(dst[i], want[i]), `dst[${i}]`).toBe(true);
      }),
      { numRuns: 2000 },
    );
    expect(valid).toBeGreaterThan(20);
  });

  it("denseTimesLevels: random arguments throw a RangeError exactly when invalid; valid ones give the contract's bits, or false on a non-finite float or NaN level", () => {
    const dtl = addon!.denseTimesLevels;
    expect(typeof dtl).toBe("function");
    let runs = 0;
    let refused = 0;
    fc.assert(
      fc.property(levelsArgs, (raw) => {
        const a = copyArgs(raw);
        const verdict = levelsVerdict(a);
        if (verdict === "throw") {
          expect(() => dtl!(...a)).toThrow(RangeError);
          return;
        }
        const ints = LV_INTS.map((i) => BigInt(a[i] as number));
        if (verdict === "run" && ints[12]! * ints[0]! * ints[5]! * (ints[1]! + 1n) > 200_000n) return; // valid, too big to run here
        const before = (a[11] as Float32Array).slice();
        const want = verdict === "run" ? levelsOracle(a) : { ok: true, out: before };
        const got = dtl!(...a);
        expect(got).toBe(want.ok);
        if (!want.ok) {
          refused++;
          return; // out is undefined then: the caller runs its general path
        }
        runs++;
        if (want.out) {
          const out = a[11] as Float32Array;
          for (let i = 0; i < out.length; i++) expect(Object.is(out[i], want.out[i]), `out[${i}]: ${out[i]} vs ${want.out[i]}`).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
    expect(runs).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(30);
  });
});
