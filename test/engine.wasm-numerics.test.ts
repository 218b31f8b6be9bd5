/**
 * The WebAssembly float kernels (engine/kernels/wasm-numerics*.ts) against the JavaScript
 * definitions they replace, bit for bit: exp against V8's Math.exp, erf and GELU against
 * engine/numerics.ts, softmax and LayerNorm rows against engine/fast/rows.ts — on random
 * doubles and floats, edge values (±0, subnormals, ±Infinity, NaN, the float32 extremes,
 * the thresholds of exp and erf), all-silent and saturated rows, on one and two threads.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initSpikeKernels, shutdownKernelPool } from "../interpreter/engine/kernels/spike-matmul.js";
import { setNumericsThreadMin, wasmGeluInto, wasmLayernormInto, wasmScalarNumerics, wasmSoftmaxInto } from "../interpreter/engine/kernels/wasm-numerics.js";
import { f64Literal } from "../interpreter/engine/kernels/wasm-numerics-wat.js";
import { layernormInto, softmaxInto } from "../interpreter/engine/fast/rows.js";
import { erf, gelu } from "../interpreter/engine/numerics.js";

const F32_EDGE = [0, -0, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38, 0.5, -0.5, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, Infinity, -Infinity, NaN, 1.1920929e-7, 8.3744, -8.3744, -5.5, 6, -6];
/** Thresholds of fdlibm's exp (overflow, underflow, 0.5 ln2, 1.5 ln2, 2^-28, exp(1)) and erf (0.84375, 1.25, 1/0.35, 6), each with its neighbours. */
const F64_EDGE = [
  709.782712893384, 709.7827128933841, -745.1332191019411, -745.1332191019412, -745.13321910194122, 0.34657359027997264, 1.0397207708399179,
  3.725290298461914e-9, 1, -1, 0.84375, 1.25, 2.857142857142857, 2.8571434020996094, 6, 2 ** -1022, 5e-324, -5e-324, 2.8480945388892178e-306, 1e-300,
].flatMap((x) => [x, -x, nextUp(x), nextDown(x)]);

function nextUp(x: number): number {
  const b = new Float64Array([x]);
  const u = new BigInt64Array(b.buffer);
  if (x === 0) return 5e-324;
  u[0] = x > 0 ? u[0]! + 1n : u[0]! - 1n;
  return b[0]!;
}
function nextDown(x: number): number {
  return -nextUp(-x);
}

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

const float32 = fc.oneof(
  fc.float({ noDefaultInfinity: false, noNaN: false }),
  fc.constantFrom(...F32_EDGE),
  fc.float({ min: -8, max: 8, noNaN: true }),
);
const anyDouble = fc.oneof(fc.double({ noDefaultInfinity: false, noNaN: false }), fc.constantFrom(...F64_EDGE), fc.double({ min: -40, max: 40, noNaN: true }));

beforeAll(async () => {
  const { wasm, threads } = await initSpikeKernels({ threads: 2 });
  expect(wasm).toBe(true);
  expect(threads).toBe(2);
});
afterAll(() => {
  setNumericsThreadMin({});
  return shutdownKernelPool();
});

describe("f64Literal", () => {
  it("writes every double exactly (read back through WebAssembly's parser in the kernels; here through the hex-float grammar)", () => {
    const parse = (s: string): number => {
      if (s === "inf") return Infinity;
      if (s === "-inf") return -Infinity;
      if (s === "nan") return NaN;
      const m = /^(-?)0x([01])(?:\.([0-9a-f]+))?p([+-]?\d+)$/.exec(s)!;
      const frac = m[3] ?? "0";
      const v = (Number(m[2]) + Number(BigInt("0x" + frac)) / 2 ** (4 * frac.length)) * 2 ** Number(m[4]);
      return m[1] ? -v : v;
    };
    fc.assert(fc.property(anyDouble, (x) => Object.is(parse(f64Literal(x)), x)), { numRuns: 3000 });
  });
});

describe("scalar exp and erf", () => {
  it("exp is Math.exp's double for every input", () => {
    const s = wasmScalarNumerics()!;
    for (const x of [...F64_EDGE, 0, -0, Infinity, -Infinity, NaN]) expect(Object.is(s.exp(x), Math.exp(x)), `exp(${x})`).toBe(true);
    fc.assert(fc.property(anyDouble, (x) => Object.is(s.exp(x), Math.exp(x))), { numRuns: 20000 });
    // a dense sweep too: a wrong low-order constant shows only on rare rounding boundaries
    let bad = 0;
    for (let i = 0; i < 400_000; i++) {
      const x = -40 + i * 1.0000000001e-4 * (1 + (i % 7) * 1e-9);
      if (!Object.is(s.exp(x), Math.exp(x))) bad++;
    }
    expect(bad).toBe(0);
  });

  it("erf is engine/numerics erf's double for every input", () => {
    const s = wasmScalarNumerics()!;
    for (const x of [...F64_EDGE, 0, -0, Infinity, -Infinity, NaN]) expect(Object.is(s.erf(x), erf(x)), `erf(${x})`).toBe(true);
    fc.assert(fc.property(anyDouble, (x) => Object.is(s.erf(x), erf(x))), { numRuns: 20000 });
  });
});

describe("row kernels equal the JavaScript ones", () => {
  for (const threads of [1, 2]) {
    it(`GELU (${threads} thread${threads > 1 ? "s" : ""})`, () => {
      setNumericsThreadMin(threads > 1 ? { gelu: 0 } : {});
      fc.assert(
        fc.property(fc.array(float32, { minLength: 0, maxLength: 300 }), (xs) => {
          const x = Float32Array.from(xs);
          const out = new Float32Array(x.length);
          expect(wasmGeluInto(x, out, threads)).toBe(true);
          return same(out, x.map(gelu));
        }),
        { numRuns: 300 },
      );
    });

    it(`softmax rows (${threads} thread${threads > 1 ? "s" : ""}), in place too`, () => {
      setNumericsThreadMin(threads > 1 ? { softmax: 0 } : {});
      const rowsArb = fc.integer({ min: 1, max: 9 }).chain((n) =>
        fc.record({ n: fc.constant(n), xs: fc.array(fc.oneof(float32, fc.constant(-Infinity)), { minLength: n, maxLength: 8 * n }).map((a) => a.slice(0, a.length - (a.length % n))) }),
      );
      fc.assert(
        fc.property(rowsArb, ({ n, xs }) => {
          const x = Float32Array.from(xs);
          const want = new Float32Array(x.length);
          softmaxInto(x, n, want);
          const out = new Float32Array(x.length);
          expect(wasmSoftmaxInto(x, n, out, threads)).toBe(true);
          const inPlace = x.slice();
          wasmSoftmaxInto(inPlace, n, inPlace, threads);
          return same(out, want) && same(inPlace, want);
        }),
        { numRuns: 300 },
      );
      // an all-silent row (every logit -Infinity) and a saturated one (+Infinity)
      const x = new Float32Array([-Infinity, -Infinity, -Infinity, Infinity, 1, 2]);
      const want = new Float32Array(6);
      softmaxInto(x, 3, want);
      const out = new Float32Array(6);
      wasmSoftmaxInto(x, 3, out, threads);
      expect(same(out, want)).toBe(true);
    });

    it(`LayerNorm rows (${threads} thread${threads > 1 ? "s" : ""})`, () => {
      setNumericsThreadMin(threads > 1 ? { layernorm: 0 } : {});
      const arb = fc.integer({ min: 1, max: 40 }).chain((d) =>
        fc.record({
          d: fc.constant(d),
          rows: fc.integer({ min: 1, max: 5 }),
          xs: fc.array(float32, { minLength: 5 * d, maxLength: 5 * d }),
          g: fc.array(float32, { minLength: d, maxLength: d }),
          b: fc.array(float32, { minLength: d, maxLength: d }),
          eps: fc.constantFrom(1e-5, 9.999999960041972e-13, 0, 1e-12),
        }),
      );
      fc.assert(
        fc.property(arb, ({ d, rows, xs, g, b, eps }) => {
          const x = Float32Array.from(xs.slice(0, rows * d));
          const gamma = Float32Array.from(g);
          const beta = Float32Array.from(b);
          const want = new Float32Array(x.length);
          layernormInto(x, gamma, beta, eps, d, want, new Float64Array(d));
          const out = new Float32Array(x.length);
          expect(wasmLayernormInto(x, gamma, beta, eps, d, out, threads)).toBe(true);
          return same(out, want);
        }),
        { numRuns: 300 },
      );
    });
  }
});
