/**
 * The native (AVX-512) GELU, softmax and LayerNorm kernels (engine/kernels/native-float.ts,
 * native/float_native.c) against the reference engine's definitions, bit for bit (Object.is,
 * so -0 against +0 and NaN against numbers count): GELU against engine/numerics.ts gelu (and
 * with its fused scale/bias prologue against the reference ops), softmax and LayerNorm
 * against the reference ops engine/ops/nn.ts softmax and layernorm. Inputs: random float32 incl.
 * ±0, subnormals, ±Infinity and NaN; values around erf's interval ends (|x / SQRT2| = 2^-28,
 * 0.84375, 1.25, 2.857, 6) and where 1 + erf cancels; dense where GELU's fast path is
 * tightest (x in [-8.5, -1.7], subnormals, |x| near 8.4999 and 8.5); softmax rows with masked entries
 * (F32_LOWEST), fully masked rows, -Infinity, and spreads where exp underflows float32 and
 * double; LayerNorm rows of tiny, huge, subnormal and non-finite entries; split over one to
 * three threads, in place and not. Then the optimized executor on a small encoder block
 * (causal, so softmax rows hold masked entries) with the native kernels, and with them turned
 * off, against the ReferenceInterpreter: output, every neuron's spikes and amplitudes.
 * Where the addon cannot be built or loaded, or the CPU lacks AVX-512, these tests are
 * reported as skipped with the reason, never passed.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { nativeStatus, setNativeEnabled } from "../interpreter/engine/kernels/native-backend.js";
import { nativeFloatCalls, nativeGeluAffineInto, nativeGeluInto, nativeLayernormInto, nativeSoftmaxInto, setNativeFloatThreadMin } from "../interpreter/engine/kernels/native-float.js";
import { initSpikeKernels, shutdownKernelPool } from "../interpreter/engine/kernels/spike-matmul.js";
import { F32_LOWEST, gelu } from "../interpreter/engine/numerics.js";
import { binary, unary } from "../interpreter/engine/ops/elementwise.js";
import { layernorm, softmax } from "../interpreter/engine/ops/nn.js";
import { type Tensor, f32 } from "../interpreter/engine/tensor.js";
import { OptimizedExecutor } from "../interpreter/optimized/executor.js";
import { matchAffineGelu } from "../interpreter/optimized/native-affine-gelu.js";
import type { FusedStep } from "../interpreter/passes/fuse-elementwise.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ReferenceInterpreter, type RunResult } from "../interpreter/reference/interpreter.js";
import { streamFor } from "../interpreter/engine/random.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { runDifference } from "../interpreter/verify/compare.js";

const status = nativeStatus();
const skipReason = status.ready ? "" : ` (SKIPPED: ${status.reason})`;

afterAll(() => {
  setNativeFloatThreadMin({});
  return shutdownKernelPool();
});

/** Where a and b first differ (Object.is), with the input there; "" when they are the same bits. */
function diff(got: Float32Array, want: Float32Array, input: Float32Array): string {
  if (got.length !== want.length) return `lengths ${got.length} vs ${want.length}`;
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) return `at ${i} (x = ${input[i]}): ${got[i]} vs ${want[i]}`;
  return "";
}

const f32bits = new Float32Array(1);
const u32bits = new Uint32Array(f32bits.buffer);
/** The float32 `steps` ulps from x (x a float32, finite). */
function ulps(x: number, steps: number): number {
  f32bits[0] = x;
  const neg = u32bits[0]! >>> 31;
  let mag = u32bits[0]! & 0x7fffffff;
  mag += neg ? -steps : steps;
  if (mag < 0) return ulps(-0, -mag); // crossed zero
  u32bits[0] = (mag & 0x7fffffff) | (neg << 31);
  return f32bits[0]!;
}

/** erf's interval ends in u = x / SQRT2, as x, with float32 neighbours on either side. */
const ERF_EDGES = [3.725290298461914e-9, 0.84375, 1.25, 2, 2.857142857142857, 2.8571434020996094, 4, 6].flatMap((u) =>
  [u, -u].flatMap((v) => {
    const x = Math.fround(v * Math.SQRT2);
    return [-3, -2, -1, 0, 1, 2, 3].map((k) => ulps(x, k));
  }),
);
const F32_EDGES = [0, -0, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38, 1.1754944e-38, 3.4028234663852886e38, -3.4028234663852886e38, Infinity, -Infinity, NaN, 1, -1, 0.5, -0.5];
/** Where 1 + erf(x / SQRT2) cancels to few bits, and to exactly 0 (x below about -8.3744). */
const CANCEL = [-5, -5.5, -6.5, -7.9, -8.3, -8.3744, -8.375, -8.5, -9, -12, -40].map(Math.fround);

const geluInput = fc.oneof(
  { weight: 3, arbitrary: fc.float({ noDefaultInfinity: false, noNaN: false }) },
  { weight: 3, arbitrary: fc.float({ min: -9, max: 9, noNaN: true }) },
  { weight: 2, arbitrary: fc.constantFrom(...ERF_EDGES, ...F32_EDGES, ...CANCEL) },
  { weight: 1, arbitrary: fc.float({ min: Math.fround(-1e-30), max: Math.fround(1e-30), noNaN: true }) },
);

describe.skipIf(!status.ready)(`native GELU${skipReason}`, () => {
  for (const threads of [1, 2, 3]) {
    it(`is engine/numerics gelu bit for bit (${threads} thread${threads > 1 ? "s" : ""}), into another array and in place`, () => {
      setNativeFloatThreadMin(threads > 1 ? { gelu: 0 } : {});
      fc.assert(
        fc.property(fc.array(geluInput, { minLength: 0, maxLength: 700 }), (xs) => {
          const x = Float32Array.from(xs);
          const want = x.map(gelu);
          const out = new Float32Array(x.length);
          expect(nativeGeluInto(x, out, threads)).toBe(true);
          expect(diff(out, want, x)).toBe("");
          const inPlace = x.slice();
          expect(nativeGeluInto(inPlace, inPlace, threads)).toBe(true);
          expect(diff(inPlace, want, x)).toBe("");
        }),
        { numRuns: 200 },
      );
    });
  }

  it("is gelu bit for bit over every 61st float32 with 2^-4 <= |x| < 16 and every float32 near erf's interval ends", () => {
    // a dense sweep: a wrong low-order constant or a reordered operation shows only on rare
    // rounding boundaries, which random inputs seldom hit
    const xs: number[] = [];
    for (const sign of [0, 0x80000000]) {
      for (let b = 0x3d800000; b < 0x41800000; b += 61) {
        u32bits[0] = (b | sign) >>> 0;
        xs.push(f32bits[0]!);
      }
    }
    for (const e of ERF_EDGES) for (let k = -200; k <= 200; k++) if (Number.isFinite(e)) xs.push(ulps(e, k));
    const x = Float32Array.from(xs);
    const out = new Float32Array(x.length);
    setNativeFloatThreadMin({});
    expect(nativeGeluInto(x, out, 2)).toBe(true);
    expect(diff(out, x.map(gelu), x)).toBe("");
  });

  it("is gelu bit for bit where the fast path's bracket is tightest: every 7th float32 in [-8.5, -1.7], subnormals, and around |x| = 8.4999 and 8.5", () => {
    // below -1.77 the reference's 1 + erf is erfc rounded to a multiple of 2^-53 (coarse for
    // the float32 result where it is tiny); subnormal x halve to ties; 8.4999 is where the fast
    // path's last interval ends
    const xs: number[] = [];
    for (let b = 0xbfd9999a; b <= 0xc1080000; b += 7) {
      u32bits[0] = b >>> 0;
      xs.push(f32bits[0]!);
    }
    for (let b = 1; b < 0x00800000; b += 1001) for (const sign of [0, 0x80000000]) {
      u32bits[0] = (b | sign) >>> 0;
      xs.push(f32bits[0]!);
    }
    for (const e of [8.4999, 8.5, -8.4999, -8.5].map(Math.fround)) for (let k = -300; k <= 300; k++) xs.push(ulps(e, k));
    const x = Float32Array.from(xs);
    const out = new Float32Array(x.length);
    setNativeFloatThreadMin({});
    expect(nativeGeluInto(x, out, 2)).toBe(true);
    expect(diff(out, x.map(gelu), x)).toBe("");
  });

  it("refuses (false, nothing written) an output that partly overlaps the input or is shorter", () => {
    const buf = new Float32Array(40).fill(1);
    expect(nativeGeluInto(buf.subarray(0, 32), buf.subarray(8, 40))).toBe(false);
    expect(nativeGeluInto(buf.subarray(0, 32), new Float32Array(31))).toBe(false);
    expect([...buf].every((v) => v === 1)).toBe(true);
  });
});

/** A case of the fused prologue: x [S, rows, C], scale [S] (or one value), bias [C]. */
const affineCase = fc
  .record({ S: fc.integer({ min: 1, max: 4 }), rows: fc.integer({ min: 1, max: 5 }), C: fc.integer({ min: 1, max: 70 }), oneScale: fc.boolean() })
  .chain(({ S, rows, C, oneScale }) =>
    fc.record({
      S: fc.constant(oneScale ? 1 : S),
      steps: fc.constant(S),
      rows: fc.constant(rows),
      C: fc.constant(C),
      x: fc.array(geluInput, { minLength: S * rows * C, maxLength: S * rows * C }),
      scale: fc.array(fc.oneof(fc.float({ min: -4, max: 4, noNaN: true }), fc.constantFrom(0, -0, 1, Infinity, NaN, 1e-40)), { minLength: oneScale ? 1 : S, maxLength: oneScale ? 1 : S }),
      bias: fc.array(fc.oneof(fc.float({ min: -4, max: 4, noNaN: true }), fc.constantFrom(0, -0, -Infinity, NaN, 3e38)), { minLength: C, maxLength: C }),
    }),
  );

describe.skipIf(!status.ready)(`native GELU of scale * x + bias${skipReason}`, () => {
  for (const threads of [1, 2, 3]) {
    it(`is the reference ops' gelu(add(mul(scale, x), bias)) bit for bit (${threads} thread${threads > 1 ? "s" : ""}), into another array and in place`, () => {
      setNativeFloatThreadMin(threads > 1 ? { gelu: 0 } : {});
      fc.assert(
        fc.property(affineCase, ({ S, steps, rows, C, x: xs, scale: ss, bias: bs }) => {
          const x = Float32Array.from(xs);
          const scale = Float32Array.from(ss);
          const bias = Float32Array.from(bs);
          // the oracle: the reference engine's broadcasting ops, one rounding each
          const scaleT = S === 1 ? f32([], scale) : f32([S, 1, 1], scale);
          const want = unary("gelu", binary("add", binary("mul", scaleT, f32([steps, rows, C], x)), f32([C], bias))).data as Float32Array;
          const out = new Float32Array(x.length);
          expect(nativeGeluAffineInto(x, scale, bias, out, threads)).toBe(true);
          expect(diff(out, want, x)).toBe("");
          const inPlace = x.slice();
          expect(nativeGeluAffineInto(inPlace, scale, bias, inPlace, threads)).toBe(true);
          expect(diff(inPlace, want, x)).toBe("");
        }),
        { numRuns: 200 },
      );
    });
  }

  it("indexes scale[i / (n / S)] and bias[i % C] also where steps do not hold whole bias rows (n = 12, S = 3, C = 8 ...)", () => {
    const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
    const arb = fc.record({ S: fc.integer({ min: 1, max: 9 }), C: fc.integer({ min: 1, max: 40 }), m: fc.integer({ min: 1, max: 3 }) }).chain(({ S, C, m }) => {
      const n = ((S * C) / gcd(S, C)) * m;
      return fc.record({ x: fc.array(geluInput, { minLength: n, maxLength: n }), scale: fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: S, maxLength: S }), bias: fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: C, maxLength: C }) });
    });
    setNativeFloatThreadMin({ gelu: 0 });
    fc.assert(
      fc.property(arb, ({ x: xs, scale: ss, bias: bs }) => {
        const x = Float32Array.from(xs);
        const step = x.length / ss.length;
        // the oracle: the fused program's steps, written out
        const want = x.map((v, i) => gelu(Math.fround(Math.fround(ss[Math.floor(i / step)]! * v) + bs[i % bs.length]!)));
        const out = new Float32Array(x.length);
        expect(nativeGeluAffineInto(x, Float32Array.from(ss), Float32Array.from(bs), out, 2)).toBe(true);
        expect(diff(out, want, x)).toBe("");
      }),
      { numRuns: 200 },
    );
  });

  it("refuses (false) lengths that are not multiples of the scale's and the bias's", () => {
    expect(nativeGeluAffineInto(new Float32Array(12), new Float32Array(5), new Float32Array(3), new Float32Array(12))).toBe(false);
    expect(nativeGeluAffineInto(new Float32Array(12), new Float32Array(2), new Float32Array(5), new Float32Array(12))).toBe(false);
    expect(nativeGeluAffineInto(new Float32Array(12), new Float32Array(0), new Float32Array(3), new Float32Array(12))).toBe(false);
  });
});

describe("matchAffineGelu", () => {
  const mul = (a: FusedStep["args"][number], b: FusedStep["args"][number]): FusedStep => ({ op: "mul", args: [a, b] });
  const add = (a: FusedStep["args"][number], b: FusedStep["args"][number]): FusedStep => ({ op: "add", args: [a, b] });
  const gelu: FusedStep = { op: "gelu", args: [{ tmp: 1 }] };
  const out = [4, 1, 8, 6];

  it("finds accumulate, scale and bias in either operand order, the scale one value or one per leading index", () => {
    expect(matchAffineGelu([mul({ in: 0 }, { in: 1 }), add({ tmp: 0 }, { in: 2 }), gelu], [[4, 1, 1, 1], out, [1, 1, 1, 6]], out)).toEqual({ x: 1, scale: 0, bias: 2, n: 192, S: 4, C: 6 });
    expect(matchAffineGelu([mul({ in: 1 }, { in: 2 }), add({ in: 0 }, { tmp: 0 }), gelu], [[6], out, []], out)).toEqual({ x: 1, scale: 2, bias: 0, n: 192, S: 1, C: 6 });
    // step mode: shapes without the time axis
    expect(matchAffineGelu([mul({ in: 0 }, { in: 1 }), add({ tmp: 0 }, { in: 2 }), gelu], [[], [1, 8, 6], [6]], [1, 8, 6])).toEqual({ x: 1, scale: 0, bias: 2, n: 48, S: 1, C: 6 });
  });

  it("declines every other program or broadcast", () => {
    const shapes = [[4, 1, 1, 1], out, [1, 1, 1, 6]];
    expect(matchAffineGelu([mul({ in: 0 }, { in: 1 }), add({ tmp: 0 }, { in: 2 }), { op: "relu", args: [{ tmp: 1 }] }], shapes, out)).toBeUndefined();
    expect(matchAffineGelu([{ op: "sub", args: [{ in: 0 }, { in: 1 }] }, add({ tmp: 0 }, { in: 2 }), gelu], shapes, out)).toBeUndefined();
    expect(matchAffineGelu([mul({ in: 0 }, { in: 1 }), add({ in: 0 }, { in: 2 }), gelu], shapes, out)).toBeUndefined(); // add does not take the product
    expect(matchAffineGelu([mul({ in: 0 }, { in: 1 }), add({ tmp: 0 }, { in: 2 }), gelu], [out, out, [1, 1, 1, 6]], out)).toBeUndefined(); // x * y
    expect(matchAffineGelu([mul({ in: 0 }, { in: 1 }), add({ tmp: 0 }, { in: 2 }), gelu], [[4, 1, 1, 1], out, [1, 1, 8, 1]], out)).toBeUndefined(); // bias along another axis
    expect(matchAffineGelu([mul({ in: 0 }, { in: 1 }), add({ tmp: 0 }, { in: 2 }), gelu], [[1, 1, 8, 1], out, [1, 1, 1, 6]], out)).toBeUndefined(); // scale along another axis
    expect(matchAffineGelu([mul({ in: 0 }, { in: 1 }), add({ tmp: 0 }, { in: 2 }), gelu, gelu], shapes, out)).toBeUndefined();
  });
});

/** Softmax rows: a row length and entries from a mix chosen per row (plain, masked, spread, non-finite). */
const rowEntry = (kind: number): fc.Arbitrary<number> =>
  [
    fc.float({ min: -20, max: 20, noNaN: true }),
    fc.oneof(fc.float({ min: -20, max: 20, noNaN: true }), fc.constant(F32_LOWEST)), // masked entries
    fc.constant(F32_LOWEST), // a fully masked row
    fc.float({ min: -2000, max: 10, noNaN: true }), // exp underflows float32 (< -103.3) and double (< -745)
    fc.oneof(fc.float({ noDefaultInfinity: false, noNaN: false }), fc.constantFrom(...F32_EDGES, -Infinity, 1e-40, -1e-40)),
    fc.constantFrom(0, -0, 1e-45, -1e-45),
  ][kind]!;

const softmaxCase = fc.integer({ min: 1, max: 140 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    rows: fc.array(fc.integer({ min: 0, max: 5 }).chain((kind) => fc.array(rowEntry(kind), { minLength: n, maxLength: n })), { minLength: 1, maxLength: 6 }),
  }),
);

describe.skipIf(!status.ready)(`native softmax${skipReason}`, () => {
  for (const threads of [1, 2, 3]) {
    it(`is engine/ops softmax bit for bit (${threads} thread${threads > 1 ? "s" : ""}), masked and non-finite rows, into another array and in place`, () => {
      setNativeFloatThreadMin(threads > 1 ? { softmax: 0 } : {});
      fc.assert(
        fc.property(softmaxCase, ({ n, rows }) => {
          const x = Float32Array.from(rows.flat());
          const want = softmax(f32([rows.length, n], x)).data as Float32Array;
          const out = new Float32Array(x.length);
          expect(nativeSoftmaxInto(x, n, out, threads)).toBe(true);
          expect(diff(out, want, x)).toBe("");
          const inPlace = x.slice();
          expect(nativeSoftmaxInto(inPlace, n, inPlace, threads)).toBe(true);
          expect(diff(inPlace, want, x)).toBe("");
        }),
        { numRuns: 300 },
      );
    });
  }

  it("is softmax bit for bit where exp's argument crosses its thresholds (float32 and double underflow, 2^-28, 0.5 ln2, 1.5 ln2)", () => {
    // rows [0, w]: the first entry's exp argument is exactly -w
    const ws = [0.34657359, 0.3465736, 1.0397207, 1.0397208, 3.7252903e-9, 87.33654, 87.33655, 103.27893, 103.97208, 104, 707.9, 708, 708.1, 745.1, 745.2, 1e4, 1e30, 3e38];
    const xs: number[] = [];
    for (const w of ws) for (let k = -4; k <= 4; k++) xs.push(-Math.abs(ulps(Math.fround(w), k)), 0);
    const x = Float32Array.from(xs);
    const out = new Float32Array(x.length);
    expect(nativeSoftmaxInto(x, 2, out, 1)).toBe(true);
    expect(diff(out, softmax(f32([x.length / 2, 2], x)).data as Float32Array, x)).toBe("");
  });

  it("refuses (false) a length that is not a multiple of the row length, and a partly overlapping output", () => {
    expect(nativeSoftmaxInto(new Float32Array(10), 3, new Float32Array(10))).toBe(false);
    const buf = new Float32Array(40).fill(1);
    expect(nativeSoftmaxInto(buf.subarray(0, 32), 8, buf.subarray(8, 40))).toBe(false);
    expect([...buf].every((v) => v === 1)).toBe(true);
  });
});

/** LayerNorm rows: d, a row count, entries of one kind per row, gamma, beta and eps. */
const layernormCase = fc.integer({ min: 1, max: 90 }).chain((d) =>
  fc.record({
    d: fc.constant(d),
    rows: fc.array(fc.integer({ min: 0, max: 3 }).chain((kind) => fc.array([fc.float({ min: -20, max: 20, noNaN: true }), fc.float({ noDefaultInfinity: false, noNaN: false }), fc.constantFrom(0, -0, 1e-45, 1e-40, 3e38, -3e38), fc.float({ min: Math.fround(-1e-3), max: Math.fround(1e-3), noNaN: true })][kind]!, { minLength: d, maxLength: d })), { minLength: 1, maxLength: 19 }),
    gamma: fc.array(fc.oneof(fc.float({ min: -3, max: 3, noNaN: true }), fc.constantFrom(0, -0, NaN, Infinity)), { minLength: d, maxLength: d }),
    beta: fc.array(fc.oneof(fc.float({ min: -3, max: 3, noNaN: true }), fc.constantFrom(0, -0, -Infinity)), { minLength: d, maxLength: d }),
    eps: fc.constantFrom(1e-12, 1e-5, 0, 1e-3, 0.1),
  }),
);

describe.skipIf(!status.ready)(`native LayerNorm${skipReason}`, () => {
  for (const threads of [1, 2, 3]) {
    it(`is engine/ops layernorm bit for bit (${threads} thread${threads > 1 ? "s" : ""}), into another array and in place`, () => {
      setNativeFloatThreadMin(threads > 1 ? { layernorm: 0 } : {});
      fc.assert(
        fc.property(layernormCase, ({ d, rows, gamma: gs, beta: bs, eps }) => {
          const x = Float32Array.from(rows.flat());
          const gamma = Float32Array.from(gs);
          const beta = Float32Array.from(bs);
          const want = layernorm(f32([rows.length, d], x), f32([d], gamma), f32([d], beta), eps).data as Float32Array;
          const out = new Float32Array(x.length);
          expect(nativeLayernormInto(x, gamma, beta, eps, d, out, threads)).toBe(true);
          expect(diff(out, want, x)).toBe("");
          const inPlace = x.slice();
          expect(nativeLayernormInto(inPlace, gamma, beta, eps, d, inPlace, threads)).toBe(true);
          expect(diff(inPlace, want, x)).toBe("");
        }),
        { numRuns: 250 },
      );
    });
  }

  it("refuses (false) a length that is not a multiple of d, a short gamma or beta, a partly overlapping output", () => {
    const g = new Float32Array(4).fill(1);
    expect(nativeLayernormInto(new Float32Array(10), g, g, 1e-5, 4, new Float32Array(10))).toBe(false);
    expect(nativeLayernormInto(new Float32Array(8), g.subarray(0, 3), g, 1e-5, 4, new Float32Array(8))).toBe(false);
    const buf = new Float32Array(12).fill(2);
    expect(nativeLayernormInto(buf.subarray(0, 8), g, g, 1e-5, 4, buf.subarray(4, 12))).toBe(false);
    expect([...buf].every((v) => v === 2)).toBe(true);
  });
});

/** A causal SpikeLM encoder block with the reference neuron, written to a temp file: its path. */
function causalBlockSpec(): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-native-float-")), "block.spk");
  fs.writeFileSync(
    file,
    `import "std/layers"
import "std/neurons"

layer Block(d, heads, ffn) {
  block = SpikeBlock(d, heads, ffn, true, SpikeLMReference(1.0))
  forward(x: [T, B, L, d]) -> [T, B, L, d] {
    return block(x)
  }
}
`,
  );
  return file;
}

describe.skipIf(!status.ready)(`the optimized executor with the native float kernels${skipReason}`, () => {
  it("runs a causal encoder block's GELU, softmax and LayerNorm on them, with the ReferenceInterpreter's output, spikes and amplitudes", () => {
    const file = causalBlockSpec();
    const [T, B, L, d] = [3, 2, 9, 16];
    const rng = streamFor(7, "native-float-block");
    const inputs = new Map<string, Tensor>([["x", f32([T, B, L, d], Array.from({ length: T * B * L * d }, () => 2 * rng.normal()))]]);
    const { graph } = compileEntry({ file, entry: "Block", args: { d, heads: 2, ffn: 4 * d }, inputs });
    const params = (g: typeof graph) => ParamStore.create(g.params, new Map(), { seed: 3 });
    const optimized = optimize(graph).graph;
    setNativeFloatThreadMin({ gelu: 0, softmax: 0, layernorm: 0 }); // split over two threads even at this size
    for (const mode of ["multi", "step"] as const) {
      const ref = new ReferenceInterpreter(graph, params(graph));
      const opt = new OptimizedExecutor(optimized, params(optimized), { threads: 2 });
      for (let call = 0; call < 2; call++) {
        // (the first call calibrates the amplitudes)
        const want = ref.run(inputs, { mode, record: true });
        const before = { ...nativeFloatCalls };
        const got = copy(opt.run(inputs, { mode, record: true }));
        expect(nativeFloatCalls.geluAffine, `${mode} call ${call}: scale, bias and GELU in one native pass`).toBeGreaterThan(before.geluAffine);
        // alone, or (whole-time runs) with the scores' program in front of it (softmax-prologue.ts)
        expect(nativeFloatCalls.softmax + nativeFloatCalls.softmaxPrologue, `${mode} call ${call}: softmax on the native kernel`).toBeGreaterThan(before.softmax + before.softmaxPrologue);
        expect(nativeFloatCalls.layernorm, `${mode} call ${call}: LayerNorm on the native kernel`).toBeGreaterThan(before.layernorm);
        expect(runDifference(want, got), `${mode} call ${call}`).toBeUndefined();
      }
    }
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it("runs a GELU after another elementwise program (x * x + x, non-finite inputs) on the native kernel, with the reference's output", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-native-float-"));
    const file = path.join(dir, "tail.spk");
    fs.writeFileSync(
      file,
      `layer Tail() {
  forward(x: [T, B, n]) -> [T, B, n] {
    return gelu(x * x + x)
  }
}
`,
    );
    const [T, B, n] = [2, 3, 67];
    const rng = streamFor(8, "native-float-tail");
    const edges = [NaN, Infinity, -Infinity, -0, 0, 1e-45, -3, 2.5, -8.4];
    const data = Array.from({ length: T * B * n }, (_, i) => (i % 11 === 0 ? edges[(i / 11) % edges.length]! : 3 * rng.normal()));
    const inputs = new Map<string, Tensor>([["x", f32([T, B, n], data)]]);
    const { graph } = compileEntry({ file, entry: "Tail", args: {}, inputs });
    const optimized = optimize(graph).graph;
    setNativeFloatThreadMin({ gelu: 0 });
    for (const mode of ["multi", "step"] as const) {
      const want = new ReferenceInterpreter(graph, ParamStore.create(graph.params, new Map(), { seed: 1 })).run(inputs, { mode, record: true });
      const before = { ...nativeFloatCalls };
      const got = copy(new OptimizedExecutor(optimized, ParamStore.create(optimized.params, new Map(), { seed: 1 }), { threads: 2 }).run(inputs, { mode, record: true }));
      expect(nativeFloatCalls.gelu, `${mode}: GELU on the native kernel`).toBeGreaterThan(before.gelu);
      expect(runDifference(want, got), mode).toBeUndefined();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe.skipIf(!status.ready)(`the optimized executor with the native kernels turned off${skipReason}`, () => {
  it("runs GELU, softmax and LayerNorm on the WebAssembly kernels instead, with the same output, spikes and amplitudes", async () => {
    await initSpikeKernels({ threads: 2 });
    const file = causalBlockSpec();
    const [T, B, L, d] = [2, 1, 7, 16];
    const rng = streamFor(9, "native-float-off");
    const inputs = new Map<string, Tensor>([["x", f32([T, B, L, d], Array.from({ length: T * B * L * d }, () => 2 * rng.normal()))]]);
    const { graph } = compileEntry({ file, entry: "Block", args: { d, heads: 2, ffn: 4 * d }, inputs });
    const optimized = optimize(graph).graph;
    const want = new ReferenceInterpreter(graph, ParamStore.create(graph.params, new Map(), { seed: 4 })).run(inputs, { record: true });
    const ex = new OptimizedExecutor(optimized, ParamStore.create(optimized.params, new Map(), { seed: 4 }), { threads: 2 });
    setNativeEnabled(false);
    try {
      const before = { ...nativeFloatCalls };
      const got = copy(ex.run(inputs, { record: true }));
      expect(nativeFloatCalls).toEqual(before);
      expect(runDifference(want, got)).toBeUndefined();
    } finally {
      setNativeEnabled(true);
    }
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});

/** The executor's output is a view of its arena: copy before the next call. */
function copy(r: RunResult): RunResult {
  return { ...r, output: { ...r.output, data: r.output.data.slice() } as Tensor };
}

describe.skipIf(status.ready)(`native float kernels unavailable${status.ready ? "" : `: ${status.reason}`}`, () => {
  it("report false, so that callers run the WebAssembly or JavaScript kernels", () => {
    expect(status.reason).not.toBe("");
    expect(nativeGeluInto(new Float32Array(4), new Float32Array(4))).toBe(false);
    expect(nativeSoftmaxInto(new Float32Array(4), 2, new Float32Array(4))).toBe(false);
  });
});
