/**
 * Edge-value semantics (docs/language.md, "Non-finite values"), one regression test per
 * disagreement the widened equivalence property found or the issue reported:
 * - the design's example neuron (no amplitude clamp) on an all-zero input: the reference
 *   gave NaN, the optimized executor zeros (int8 levels turned a NaN level into 0);
 * - activations that overflow to Infinity (Inf vs NaN, same cause);
 * - zero spikes against non-finite dense operands (the fast kernels skipped 0 * Inf);
 * - stdlib neurons fire with an amplitude of at least 1e-5 (the reference's clamp), and the
 *   reset reads the stored, unclamped amplitude;
 * - compile-time folds of builtins used other scalar functions than the runtime ops
 *   (sign(-0) was -0 when folded, +0 when run);
 * - IR validation took the reduction `max` for a binary op (`h - max(h)` was "invalid").
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTINS } from "../interpreter/checker/builtins.js";
import { NAN_LEVEL, levelsToF32 } from "../interpreter/engine/levels.js";
import { type SpikeKernelOptions, denseTimesSpike, denseTimesSpikeT, initSpikeKernels, shutdownKernelPool, spikeMatmul } from "../interpreter/engine/kernels/spike-matmul.js";
import { binaryScalar, unaryScalar, type UnaryOp } from "../interpreter/engine/ops/elementwise.js";
import { matmul, transpose } from "../interpreter/engine/ops/index.js";
import { type Tensor, f32 } from "../interpreter/engine/tensor.js";
import { compile, scalarExpr } from "../interpreter/optimized/scalar-code.js";
import { compileEntry } from "../interpreter/compile.js";
import { validateGraph } from "../interpreter/ir/validate.js";
import { optimize } from "../interpreter/passes/pass.js";
import { runSpec } from "../interpreter/run.js";
import { FINITE_EDGES, NONFINITE_EDGES, fillValues } from "../interpreter/verify/arbitraries.js";
import { EXAMPLES } from "./helpers.js";

const EDGES = [...FINITE_EDGES, ...NONFINITE_EDGES, 3, -7.25, 1e-5];

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-edge-"));
let n = 0;
function specFile(text: string): string {
  const file = path.join(dir, `s${n++}.spk`);
  fs.writeFileSync(file, text);
  return file;
}

/** Both paths, both modes, two calls (calibration, then compiled kernels); returns the reference's. */
function bothPaths(file: string, entry: string, args: Record<string, number>, x: Tensor) {
  const inputs = new Map([["x", x]]);
  const runs = [];
  for (const optimize of [false, true])
    for (const mode of ["multi", "step"] as const) {
      const first = runSpec({ file, entry, args, inputs, optimize, mode, record: true });
      const later = runSpec({ file, entry, args, inputs, optimize, mode, record: true, params: first.params });
      runs.push({ what: `${optimize ? "optimized" : "reference"} ${mode}`, first, later });
    }
  const base = runs[0]!;
  for (const r of runs.slice(1))
    for (const call of ["first", "later"] as const) {
      expect(sameBits(r[call].output.data, base[call].output.data), `${r.what}, ${call} call: output`).toBe(true);
      for (const [k, rec] of base[call].record) expect(sameBits(r[call].record.get(k)!.levels.data, rec.levels.data), `${r.what}, ${call} call: spikes of ${k}`).toBe(true);
    }
  return base;
}

const STD_LINEAR = `import "std/layers"
import "std/neurons"
layer Lin(inp, out, k = 1.0) {
  lin = SpikeLinear(inp, out, act = SpikeLMReference(k))
  forward(x: [T, B, L, inp]) -> [T, B, L, out] {
    return lin(x)
  }
}
layer Quant(d) {
  fire = BiSpikeQuant()
  weight W: [d, d]
  forward(x: [T, B, L, d]) -> [T, B, L, d] {
    return fire(x) @ W
  }
}
`;

describe("zero and overflowing activations, both paths", () => {
  it("the design's example neuron (no amplitude clamp) on an all-zero input: NaN on both paths, as PyTorch without the clamp", () => {
    const r = bothPaths(path.join(EXAMPLES, "tiny_spikelm.spk"), "SpikeLinear", { inp: 16, out: 8 }, f32([4, 1, 2, 16]));
    // alpha_0 = 0, u = 0: 0/0 is a NaN level; NaN * w poisons every output it reaches.
    expect([...r.first.output.data].every(Number.isNaN)).toBe(true);
    expect([...r.first.record.get("fire")!.levels.data].every(Number.isNaN)).toBe(true);
  });

  it("stdlib SpikeLMReference on an all-zero input fires nothing: amplitude 0 stored, clamped to 1e-5 to fire", () => {
    const file = specFile(STD_LINEAR);
    const r = bothPaths(file, "Lin", { inp: 16, out: 8 }, f32([4, 1, 2, 16]));
    expect(sameBits(r.first.output.data, new Float32Array(64))).toBe(true);
    expect([...r.first.record.get("lin.fire")!.levels.data].every((v) => Object.is(v, 0))).toBe(true);
    // stored unclamped: the reset reads it; the scale is the clamped value it fired with
    expect([...r.first.params.get("lin.fire.alpha").tensor.data]).toEqual([0, 0, 0, 0]);
    expect([...r.first.record.get("lin.fire")!.scale!]).toEqual(new Array(4).fill(Math.fround(1e-5)));
  });

  it("-0 inputs fire like +0 and record level +0", () => {
    const file = specFile(STD_LINEAR);
    const r = bothPaths(file, "Lin", { inp: 4, out: 3 }, f32([2, 1, 1, 4], new Float32Array(8).fill(-0)));
    expect([...r.first.record.get("lin.fire")!.levels.data].every((v) => Object.is(v, 0))).toBe(true);
  });

  for (const [name, data] of [
    ["an activation whose mean overflows to Infinity", fillValues(64, "huge", 3)],
    ["Infinity, -Infinity and NaN inputs", fillValues(64, "nonfinite", 11)],
    ["float32 max everywhere", new Float32Array(64).fill(3.4028234663852886e38)],
  ] as const) {
    it(`${name}: the same bits on both paths (stdlib, quantiser and the design's example)`, () => {
      const x = f32([4, 1, 1, 16], data);
      bothPaths(specFile(STD_LINEAR), "Lin", { inp: 16, out: 8 }, x);
      bothPaths(specFile(STD_LINEAR), "Quant", { d: 16 }, x);
      bothPaths(path.join(EXAMPLES, "tiny_spikelm.spk"), "SpikeLinear", { inp: 16, out: 8 }, x);
    });
  }
});

describe("spike kernels: NaN levels and non-finite operands mean the reference loop", () => {
  const KERNELS: SpikeKernelOptions[] = [
    { backend: "js", variant: "event" },
    { backend: "js", variant: "dense" },
    { backend: "wasm", variant: "event", threads: 1 },
    { backend: "wasm", variant: "dense", threads: 1 },
    { backend: "wasm", variant: "event", threads: 2 },
    {},
  ];
  beforeAll(async () => {
    await initSpikeKernels({ threads: 2 });
  });
  afterAll(() => shutdownKernelPool());

  const caseArb = fc.record({
    M: fc.integer({ min: 1, max: 9 }),
    K: fc.integer({ min: 1, max: 40 }),
    N: fc.integer({ min: 1, max: 30 }),
    nanLevels: fc.boolean(),
    profile: fc.constantFrom("normal", "nonfinite", "huge", "mixed"),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
  });
  const levels = (n: number, seed: number, nan: boolean) => {
    const u = fillValues(n, "normal", seed);
    return Int8Array.from(u, (v, i) => (nan && i % 7 === 3 ? NAN_LEVEL : v > 1 ? 1 : v < -1 ? -1 : 0));
  };

  it("S @ W, Q @ Sᵀ and A @ S equal ops/matmul on float levels, bit for bit, on every backend", () => {
    fc.assert(
      fc.property(caseArb, ({ M, K, N, nanLevels, profile, seed }) => {
        const S = levels(M * K, seed, nanLevels);
        const W = fillValues(K * N, profile, seed + 1);
        const ref = matmul(f32([M, K], levelsToF32(S)), f32([K, N], W)).data;
        const Wnk = transpose(f32([K, N], W)).data as Float32Array;
        const St = levels(N * K, seed + 2, nanLevels);
        const Q = fillValues(M * K, profile, seed + 3);
        const refT = matmul(f32([M, K], Q), transpose(f32([N, K], levelsToF32(St)))).data;
        const S2 = levels(K * N, seed + 4, nanLevels);
        const ref2 = matmul(f32([M, K], Q), f32([K, N], levelsToF32(S2))).data;
        for (const k of KERNELS) {
          expect(sameBits(spikeMatmul(S, M, K, W, N, undefined, k), ref), `S @ W ${JSON.stringify(k)}`).toBe(true);
          expect(sameBits(spikeMatmul(S, M, K, Wnk, N, undefined, { ...k, weightLayout: "nk" }), ref), `S @ Wᵀ (W stored [N, K]) ${JSON.stringify(k)}`).toBe(true);
          expect(sameBits(denseTimesSpikeT(Q, M, K, St, N, undefined, k), refT), `Q @ S^T ${JSON.stringify(k)}`).toBe(true);
          expect(sameBits(denseTimesSpike(Q, M, K, S2, N, undefined, k), ref2), `A @ S ${JSON.stringify(k)}`).toBe(true);
        }
      }),
      { numRuns: 60, seed: 42 },
    );
  });

  it("batched Q @ Sᵀ and A @ S (every step and head in one call) equal ops/matmul on each product, bit for bit", () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 2, max: 5 }), ({ M, K, N, nanLevels, profile, seed }, B) => {
        const Q = fillValues(B * M * K, profile, seed + 3);
        const St = levels(B * N * K, seed + 2, nanLevels);
        const S2 = levels(B * K * N, seed + 4, nanLevels);
        const refT = new Float32Array(B * M * N);
        const ref2 = new Float32Array(B * M * N);
        for (let b = 0; b < B; b++) {
          const q = f32([M, K], Q.slice(b * M * K, (b + 1) * M * K));
          refT.set(matmul(q, transpose(f32([N, K], levelsToF32(St.slice(b * N * K, (b + 1) * N * K))))).data as Float32Array, b * M * N);
          ref2.set(matmul(q, f32([K, N], levelsToF32(S2.slice(b * K * N, (b + 1) * K * N)))).data as Float32Array, b * M * N);
        }
        for (const k of KERNELS) {
          const opts = { ...k, batch: B };
          expect(sameBits(denseTimesSpikeT(Q, M, K, St, N, undefined, opts), refT), `Q @ S^T ${JSON.stringify(opts)}`).toBe(true);
          expect(sameBits(denseTimesSpike(Q, M, K, S2, N, undefined, opts), ref2), `A @ S ${JSON.stringify(opts)}`).toBe(true);
        }
      }),
      { numRuns: 40, seed: 43 },
    );
  });

  it("cached weights: finiteness is remembered per array and forgotten on release", async () => {
    const { releasePackedWeights } = await import("../interpreter/engine/kernels/spike-matmul.js");
    const S = Int8Array.from([0, 1, -1, 0]);
    const W = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const opts = { cacheWeights: true, backend: "js" as const };
    expect([...spikeMatmul(S, 1, 4, W, 2, undefined, opts)]).toEqual([-2, -2]);
    releasePackedWeights(W);
    W[0] = Infinity; // row 0 meets a zero spike: 0 * Infinity = NaN in column 0
    expect(sameBits(spikeMatmul(S, 1, 4, W, 2, undefined, opts), [NaN, -2])).toBe(true);
  });

  it("weights declared finite (what the parameter store makes or checked) are not scanned; undeclared ones are, once", async () => {
    const { declareFiniteWeights, weightScanStats } = await import("../interpreter/engine/kernels/spike-matmul.js");
    const S = Int8Array.from([0, 1, -1, 0]);
    const opts = { cacheWeights: true, backend: "js" as const };
    const declared = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    declareFiniteWeights(declared);
    const before = weightScanStats.elements;
    expect([...spikeMatmul(S, 1, 4, declared, 2, undefined, opts)]).toEqual([-2, -2]);
    expect(weightScanStats.elements).toBe(before);
    const other = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    spikeMatmul(S, 1, 4, other, 2, undefined, opts);
    spikeMatmul(S, 1, 4, other, 2, undefined, opts);
    expect(weightScanStats.elements).toBe(before + 8);
  });
});

describe("one scalar definition per op", () => {
  it("at_least(x, lo) is where(x > lo, x, lo): NaN gives lo, -0/+0 as selected, Infinity kept", () => {
    const f = binaryScalar("at_least");
    expect(f(NaN, 1e-5)).toBe(1e-5);
    expect(Object.is(f(-0, 0), 0)).toBe(true);
    expect(Object.is(f(0, -0), -0)).toBe(true);
    expect(f(Infinity, 1e-5)).toBe(Infinity);
    expect(f(-Infinity, 1e-5)).toBe(1e-5);
    expect(Number.isNaN(f(1, NaN))).toBe(true);
  });

  it("generated scalar code equals the reference scalar functions on edge values", () => {
    const ops = ["add", "sub", "mul", "div", "max", "min", "at_least"] as const;
    for (const op of ops) {
      const env = { functions: new Map() };
      const g = compile<(a: number, b: number) => number>(`return (a, b) => ${scalarExpr(op, ["a", "b"], env)};`, env);
      for (const a of EDGES) for (const b of EDGES) expect(Object.is(g(Math.fround(a), Math.fround(b)), Math.fround(binaryScalar(op)(Math.fround(a), Math.fround(b)))), `${op}(${a}, ${b})`).toBe(true);
    }
  });

  it("clamp's cheaper generated form with constant bounds equals min(max(x, lo), hi) on edge values", () => {
    for (const [lo, hi] of [[-1, 1], [0.5, 2], [-Infinity, Infinity], [-3, -3]]) {
      const env = { functions: new Map(), constants: new Map([["lo", lo!], ["hi", hi!]]) };
      const src = scalarExpr("clamp", ["x", "lo", "hi"], env)!;
      const g = compile<(x: number, lo: number, hi: number) => number>(`return (x, lo, hi) => ${src};`, env);
      for (const x of EDGES) expect(Object.is(g(Math.fround(x), lo!, hi!), Math.fround(Math.min(Math.max(Math.fround(x), lo!), hi!))), `clamp(${x}, ${lo}, ${hi})`).toBe(true);
    }
  });

  it("compile-time folds of builtins give the runtime op's bits (sign(-0) = +0, sign(NaN) = 0, round ties to even)", () => {
    for (const [name, spec] of BUILTINS) {
      if (!spec.fold || spec.minArgs !== 1) continue;
      const op = unaryScalar(name as UnaryOp);
      for (const x of EDGES) expect(Object.is(Math.fround(spec.fold(Math.fround(x))), Math.fround(op(Math.fround(x)))), `${name}(${x})`).toBe(true);
    }
    const lo = BUILTINS.get("at_least")!.fold!;
    for (const x of EDGES) expect(Object.is(lo(x, 1e-5), binaryScalar("at_least")(x, 1e-5))).toBe(true);
  });
});

describe("IR validity", () => {
  it("a reduction max (one input) is valid IR before and after every pass", () => {
    const file = specFile(`layer M(d) {
  weight W: [d, d]
  forward(x: [T, B, L, d]) -> [T, B, L, d] {
    let h = x @ W
    return h - max(h)
  }
}
`);
    const x = f32([2, 1, 3, 4], fillValues(24, "normal", 9));
    const { graph } = compileEntry({ file, entry: "M", args: { d: 4 }, inputs: new Map([["x", x]]) });
    expect(validateGraph(graph)).toEqual([]);
    for (const step of optimize(graph).log) expect(validateGraph(step.graph), step.pass).toEqual([]);
  });
});
