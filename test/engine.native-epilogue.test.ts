/**
 * A spiking layer's output program run in the spike accumulate's store
 * (spike_native.c spikeOpAffine, spike-matmul.ts spikeMatmulAffine, optimized/spike-epilogue.ts):
 *  - the kernel equals its contract (oracleSW, then each float32 step of the program: scale,
 *    bias, residual), Object.is on every output, on edge values (±0, subnormals, overflow,
 *    NaN and ±Infinity in the scale, bias and residual), both weight layouts, 1 and 2 threads;
 *    NaN levels make it decline with nothing written;
 *  - which products the executor fuses (the block's five mul/add programs; none with
 *    keepValues, none whose product is a recorded tap or has a second reader);
 *  - a block large enough for the native pass (d 256) runs it five times per forward and
 *    equals the reference interpreter bit for bit, output and every neuron's spikes.
 * And the attention scores' program run inside their softmax (float_native.c softmaxPrologue,
 * optimized/softmax-prologue.ts): the kernel equals the program's float32 steps followed by the
 * reference softmax (engine/ops/nn.ts), in place too, on edge values; the executor runs it for
 * the block's scores (its output already checked against the reference interpreter above).
 * Skipped, with the reason, where the addon cannot be loaded.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { nativeAddon } from "../interpreter/engine/kernels/native-backend.js";
import { initSpikeKernels, nativeStatus, shutdownKernelPool, spikeMatmulAffine } from "../interpreter/engine/kernels/spike-matmul.js";
import { NAN_LEVEL } from "../interpreter/engine/levels.js";
import { nativeFloatCalls, nativeSoftmaxPrologueInto } from "../interpreter/engine/kernels/native-float.js";
import { softmax } from "../interpreter/engine/ops/nn.js";
import { streamFor } from "../interpreter/engine/random.js";
import { f32, type Tensor } from "../interpreter/engine/tensor.js";
import type { Graph } from "../interpreter/ir/graph.js";
import { OptimizedExecutor, executorStats } from "../interpreter/optimized/executor.js";
import { readThroughTransposes } from "../interpreter/optimized/read-through-transposes.js";
import { findSpikeEpilogues } from "../interpreter/optimized/spike-epilogue.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ReferenceInterpreter } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { runDifference } from "../interpreter/verify/compare.js";
import { oracleSW, prng } from "./spike-oracles.js";

const status = nativeStatus();
const skipReason = status.ready ? "" : ` (SKIPPED: ${status.reason})`;
const SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../tools/bench/specs/bench-layers.spk");
const fr = Math.fround;

function diff(a: Float32Array, b: Float32Array): string {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `at ${i}: ${a[i]} vs ${b[i]}`;
  return "";
}

const EDGES = [0, -0, 1e-40, -1.4e-45, 3e38, -3e38, 1, -1, Infinity, -Infinity, Number.NaN];
/** n float32 values, ordinary ones mixed with edges at a drawn rate. */
const floats = (n: number) =>
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 30 })).map(([seed, edgePct]) => {
    const rand = prng(seed);
    return Float32Array.from({ length: n }, () => (rand() * 100 < edgePct ? EDGES[Math.floor(rand() * EDGES.length)]! : fr((rand() - 0.5) * 8)));
  });

describe.skipIf(!status.ready)(`spike accumulate with its output program in the store${skipReason}`, () => {
  beforeAll(async () => {
    await initSpikeKernels({ threads: 2 });
  });
  afterAll(() => shutdownKernelPool());

  const caseArb = fc
    .record({ M: fc.integer({ min: 1, max: 24 }), K: fc.oneof(fc.constantFrom(0, 1, 64, 130), fc.integer({ min: 0, max: 300 })), N: fc.oneof(fc.constantFrom(1, 127, 128, 129), fc.integer({ min: 1, max: 300 })), nk: fc.boolean(), threads: fc.constantFrom(1, 2), withScale: fc.boolean(), withRes: fc.boolean(), permille: fc.integer({ min: 0, max: 1000 }), seed: fc.nat() })
    .chain((c) => fc.record({ c: fc.constant(c), W: floats(c.K * c.N).map((w) => w.map((v) => (Number.isFinite(v) ? v : 1))), scale: floats(c.M), bias: floats(c.N), res: floats(c.M * c.N) }));

  it("spikeOpAffine equals the product's oracle followed by each float32 step (scale, bias, residual), on edge values", () => {
    const a = nativeAddon()!;
    fc.assert(
      fc.property(caseArb, ({ c, W, scale, bias, res }) => {
        const rand = prng(c.seed);
        const S = Int8Array.from({ length: c.M * c.K }, () => (rand() * 1000 < c.permille ? (rand() < 0.5 ? -1 : 1) : 0));
        const out = new Float32Array(c.M * c.N).fill(7);
        const [wrs, wcs] = c.nk ? [1, c.K] : [c.N, 1];
        const ok = a.spikeOpAffine(S, c.M, c.K, c.K, 1, W, c.N, wrs, wcs, out, c.N, 1, c.withScale ? scale : null, c.threads, 1, 0, 0, 0, false, bias, c.withRes ? res : null);
        expect(ok).toBe(true);
        const want = oracleSW(S, c.M, c.K, W, c.N, c.nk, c.withScale ? scale : undefined);
        for (let i = 0; i < c.M; i++)
          for (let j = 0; j < c.N; j++) {
            let v = fr(want[i * c.N + j]! + bias[j]!);
            if (c.withRes) v = fr(res[i * c.N + j]! + v);
            want[i * c.N + j] = v;
          }
        expect(diff(out, want)).toBe("");
      }),
      { numRuns: 80 },
    );
  });

  it("the residual may be the output array itself (read before it is written)", () => {
    const a = nativeAddon()!;
    const [M, K, N] = [9, 200, 150];
    const rand = prng(11);
    const S = Int8Array.from({ length: M * K }, () => (rand() < 0.2 ? (rand() < 0.5 ? -1 : 1) : 0));
    const W = Float32Array.from({ length: K * N }, () => fr(rand() - 0.5));
    const bias = Float32Array.from({ length: N }, () => fr(rand()));
    const res = Float32Array.from({ length: M * N }, () => fr(rand() * 3));
    const want = oracleSW(S, M, K, W, N).map((v, i) => fr(res[i]! + fr(v + bias[i % N]!)));
    const out = res.slice();
    expect(a.spikeOpAffine(S, M, K, K, 1, W, N, N, 1, out, N, 1, null, 2, 1, 0, 0, 0, false, bias, out)).toBe(true);
    expect(diff(out, want)).toBe("");
  });

  it("a NaN level: the kernel declines and writes nothing; spikeMatmulAffine then returns false", () => {
    const a = nativeAddon()!;
    const [M, K, N] = [256, 256, 256]; // M·K·N = 2^24: spikeMatmulAffine's size for the native pass
    const rand = prng(5);
    const S = Int8Array.from({ length: M * K }, () => (rand() < 0.2 ? (rand() < 0.5 ? -1 : 1) : 0));
    const W = Float32Array.from({ length: K * N }, () => fr(rand() - 0.5));
    const bias = new Float32Array(N).fill(1);
    const scale = Float32Array.from([0.5, 2]);
    const out = new Float32Array(M * N);
    expect(spikeMatmulAffine(S, M, K, W, N, out, { threads: 2 }, { scale, scaleBlock: M / 2, bias })).toBe(true);
    const want = oracleSW(S, M, K, W, N).map((v, i) => fr(fr(scale[Math.floor(i / N / (M / 2))]! * v) + 1));
    expect(diff(out, want)).toBe("");
    S[M * K - 3] = NAN_LEVEL;
    const untouched = new Float32Array(M * N).fill(3);
    expect(a.spikeOpAffine(S, M, K, K, 1, W, N, N, 1, untouched, N, 1, null, 2, 1, 0, 0, 0, false, bias, null)).toBe(false);
    expect(untouched.every((v) => v === 3)).toBe(true);
    expect(spikeMatmulAffine(S, M, K, W, N, untouched, { threads: 2 }, { scale, scaleBlock: M / 2, bias })).toBe(false);
    expect(untouched.every((v) => v === 3)).toBe(true);
  });

  it("bad arguments are RangeErrors: a short bias, a residual shorter than the output, a batch", () => {
    const a = nativeAddon()!;
    const S = new Int8Array(4 * 8), W = new Float32Array(8 * 5), out = new Float32Array(4 * 5);
    expect(() => a.spikeOpAffine(S, 4, 8, 8, 1, W, 5, 5, 1, out, 5, 1, null, 1, 1, 0, 0, 0, false, new Float32Array(4), null)).toThrow(RangeError);
    expect(() => a.spikeOpAffine(S, 4, 8, 8, 1, W, 5, 5, 1, out, 5, 1, null, 1, 1, 0, 0, 0, false, new Float32Array(5), new Float32Array(19))).toThrow(RangeError);
    expect(() => a.spikeOpAffine(S, 2, 8, 8, 1, W, 5, 5, 1, out, 5, 1, null, 1, 2, 16, 0, 10, false, new Float32Array(5), null)).toThrow(RangeError);
  });

  const blockGraph = (d: number, L: number): { graph: Graph; inputs: Map<string, Tensor>; compiled: ReturnType<typeof compileEntry> } => {
    const T = 4;
    const rng = streamFor(1, "native-epilogue-test");
    const inputs = new Map<string, Tensor>([["x", f32([T, 1, L, d], Array.from({ length: T * L * d }, () => rng.normal()))]]);
    const compiled = compileEntry({ file: SPEC, entry: "BenchBlock", args: { d, heads: 4, ffn: 4 * d, k: 1 }, inputs });
    return { graph: optimize(compiled.graph).graph, inputs, compiled };
  };

  it("findSpikeEpilogues: the block's q, k, v, output and down projections (not the GELU one); none with keepAll, for a tapped product, or a product read twice", () => {
    const { graph } = blockGraph(32, 8);
    const g = readThroughTransposes(graph);
    const found = findSpikeEpilogues(g, false);
    expect(found.size).toBe(5);
    expect([...found.values()].filter((e) => e.residual !== undefined).length).toBe(2);
    for (const [mm, e] of found) {
      expect(g.nodes.find((n) => n.id === mm)!.op).toBe("spike_matmul");
      expect(g.nodes.find((n) => n.id === e.fused)!.inputs).toContain(mm);
    }
    expect(findSpikeEpilogues(g, true).size).toBe(0);
    const [first] = [...found.keys()];
    expect(findSpikeEpilogues({ ...g, taps: [...(g.taps ?? []), { path: "t", node: first! }] }, false).has(first!)).toBe(false);
    // a second reader of the product: an extra node reading it
    const extra = { ...g.nodes.find((n) => n.id === found.get(first!)!.fused)!, id: 99999 };
    expect(findSpikeEpilogues({ ...g, nodes: [...g.nodes, extra] }, false).has(first!)).toBe(false);
  });

  it("a block large enough for the native pass (d 256, L 64) runs it for five programs per forward and equals the reference interpreter bit for bit", () => {
    const { graph, inputs, compiled } = blockGraph(256, 64);
    const ex = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { threads: 2 });
    const ref = new ReferenceInterpreter(compiled.graph, ParamStore.create(compiled.graph.params, new Map(), { seed: 1 }));
    const before = executorStats.spikeEpilogues;
    const prologuesBefore = nativeFloatCalls.softmaxPrologue;
    const first = ex.run(inputs, { record: true });
    // the scores' program ran inside the softmax
    expect(nativeFloatCalls.softmaxPrologue - prologuesBefore).toBe(1);
    const got = { ...first, output: { ...first.output, data: first.output.data.slice() } as Tensor };
    expect(executorStats.spikeEpilogues - before).toBe(5);
    const want = ref.run(inputs, { record: true });
    expect([...want.record.values()].some((r) => r.levels.data.some((v) => v !== 0))).toBe(true);
    expect(runDifference(want, got)).toBeUndefined();
    // a second forward (calibrated amplitudes, packed weights reused) fuses again, same bits
    const second = ex.run(inputs, { record: true });
    expect(executorStats.spikeEpilogues - before).toBe(10);
    expect(runDifference(ref.run(inputs, { record: true }), second)).toBeUndefined();
  });

  it("softmaxPrologue equals the program's float32 steps (scale per step, divisor, mask repeating over rows) then the reference softmax, in place too, on edge values", () => {
    const arb = fc
      .record({ stepsRows: fc.integer({ min: 1, max: 6 }), T: fc.integer({ min: 1, max: 4 }), maskRows: fc.integer({ min: 1, max: 3 }), n: fc.oneof(fc.constantFrom(1, 16, 17, 128), fc.integer({ min: 1, max: 70 })), divisor: fc.constantFrom(8, 1, -0.5, 3, 0, Infinity, Number.NaN), inPlace: fc.boolean(), threads: fc.constantFrom(1, 2) })
      .chain((c) => fc.record({ c: fc.constant(c), x: floats(c.T * c.stepsRows * c.maskRows * c.n), scale: floats(c.T), mask: floats(c.maskRows * c.n) }));
    fc.assert(
      fc.property(arb, ({ c, x, scale, mask }) => {
        const rows = c.T * c.stepsRows * c.maskRows;
        const rowsPerScale = rows / c.T;
        const y = new Float32Array(x.length);
        for (let r = 0; r < rows; r++)
          for (let i = 0; i < c.n; i++) y[r * c.n + i] = fr(fr(fr(scale[Math.floor(r / rowsPerScale)]! * x[r * c.n + i]!) / fr(c.divisor)) + mask[(r % c.maskRows) * c.n + i]!);
        const want = softmax(f32([rows, c.n], y)).data as Float32Array;
        const out = c.inPlace ? x : new Float32Array(x.length).fill(5);
        expect(nativeSoftmaxPrologueInto(x, c.n, out, c.threads, { scale, rowsPerScale, divisor: fr(c.divisor), mask, maskRows: c.maskRows })).toBe(true);
        expect(diff(out, want)).toBe("");
      }),
      { numRuns: 80 },
    );
  });

  it("softmaxPrologue declines (false, nothing written) when the scale or mask is too short or overlaps the output", () => {
    const x = new Float32Array(4 * 8).fill(1), out = new Float32Array(32).fill(9);
    const p = { scale: new Float32Array(2).fill(1), rowsPerScale: 2, divisor: 1, mask: new Float32Array(8), maskRows: 1 };
    expect(nativeSoftmaxPrologueInto(x, 8, out, 1, { ...p, scale: new Float32Array(1) })).toBe(false);
    expect(nativeSoftmaxPrologueInto(x, 8, out, 1, { ...p, maskRows: 2 })).toBe(false);
    expect(nativeSoftmaxPrologueInto(x, 8, out, 1, { ...p, mask: out.subarray(0, 8) })).toBe(false);
    expect(out.every((v) => v === 9)).toBe(true);
    expect(nativeSoftmaxPrologueInto(x, 8, out, 1, p)).toBe(true);
    expect(out.every((v) => v === 0.125)).toBe(true);
  });
});
