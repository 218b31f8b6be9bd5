/**
 * The WebAssembly uniform seeder (interpreter/runtime/seed-wasm.ts) gives the documented
 * stream's values bit for bit: the oracle is initTensor on streamFor (engine/random.ts's
 * scheme as written), not the fast JavaScript fill. Bounds include negative, -0, subnormal
 * and ones whose products overflow float32 to ±Infinity or fall into its subnormals.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type Init, initTensor, streamFor } from "../interpreter/engine/random.js";
import { SEED_CHUNK } from "../interpreter/runtime/seed-wasm-wat.js";
import { fillUniformWasm, seedWasmReady, startSeedWasm } from "../interpreter/runtime/seed-wasm.js";
import { type SeedJob, prefillStats, seedThreadStats, seedWasmStats, seededValues } from "../interpreter/runtime/seed-threads.js";

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sameBits = (a: Float32Array, b: Float32Array) => bytes(a).equals(bytes(b));
/** Elements [first, first + count) of the tensor `path` seeded uniform(bound), per the documented scheme. */
const oracle = (seed: number, path: string, bound: number, first: number, count: number) =>
  (initTensor([first + count], { kind: "uniform", bound }, streamFor(seed, path)).data as Float32Array).subarray(first);

const bound = fc.oneof(
  fc.double({ min: -2, max: 2, noNaN: true }),
  fc.constantFrom(0, -0, 5e-324, -5e-324, 1e-40, 3.4028234663852886e38, -3.4028234663852886e38, 1e300, -1e300, 1e-310),
);

beforeAll(async () => {
  expect(await startSeedWasm()).toBe(true);
  expect(seedWasmReady()).toBe(true);
});

describe("fillUniformWasm", () => {
  it("fills any pieces (any start, any length, more pieces than lanes) with the documented stream's float32 bits", () => {
    const piece = fc.record({ path: fc.string({ minLength: 1, maxLength: 10 }), bound, first: fc.integer({ min: 0, max: 40 }), count: fc.integer({ min: 0, max: 2 * SEED_CHUNK + 9 }) });
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 9 }), fc.integer({ min: -3, max: 2 ** 40 }), (pieces, seed) => {
        const outs = pieces.map((p) => new Float32Array(p.count).fill(Number.NaN));
        fillUniformWasm(pieces.map((p, i) => ({ out: outs[i]!, bound: p.bound, path: p.path, first: p.first })), seed);
        pieces.forEach((p, i) => expect(bits(outs[i]!)).toEqual(bits(oracle(seed, p.path, p.bound, p.first, p.count))));
      }),
      { numRuns: 40 },
    );
  });

  it("fills a BERT-base layer's weights on two threads, each with its own instance, with the stream's bits", () => {
    const jobs: SeedJob[] = ["q", "k", "v", "o", "up", "down"].map((n, i) => ({ path: `blocks.3.${n}.W`, init: { kind: "uniform", bound: 1 / Math.sqrt(i < 5 ? 768 : 3072) }, size: i < 4 ? 768 * 768 : 768 * 3072 }));
    const got = seededValues(jobs, 7, { threads: 2, minSplitCost: 1 });
    expect(seedThreadStats.pieces).toBeGreaterThan(0);
    expect(seedThreadStats.filledByThread).toBe(true);
    expect(seedWasmStats.values).toBe(4 * 768 * 768 + 2 * 768 * 3072);
    jobs.forEach((j, i) => expect(sameBits(got[i]!, oracle(7, j.path, (j.init as { bound: number }).bound, 0, j.size))).toBe(true));
  });

  it("keeps lanes apart when four tensors of one size run side by side (a layer's q, k, v and output)", () => {
    const paths = ["blocks.0.q.W", "blocks.0.k.W", "blocks.0.v.W", "blocks.0.o.W", "blocks.0.up.W"];
    const n = 3 * SEED_CHUNK + 5;
    const outs = paths.map(() => new Float32Array(n));
    fillUniformWasm(paths.map((path, i) => ({ out: outs[i]!, bound: 1 / Math.sqrt(768 + i), path, first: 0 })), 0);
    paths.forEach((path, i) => expect(sameBits(outs[i]!, oracle(0, path, 1 / Math.sqrt(768 + i), 0, n))).toBe(true));
  });

  it("refuses a non-finite bound (its NaNs' bits are not promised): those stay in JavaScript", () => {
    for (const b of [Number.NaN, Infinity, -Infinity]) expect(() => fillUniformWasm([{ out: new Float32Array(4), bound: b, path: "w", first: 0 }], 0)).toThrow(RangeError);
  });
});

describe("seededValues with the WebAssembly seeder ready", () => {
  const init: fc.Arbitrary<Init> = fc.oneof(
    fc.record({ kind: fc.constant("uniform" as const), bound }),
    fc.record({ kind: fc.constant("uniform" as const), bound: fc.constantFrom(Number.NaN, Infinity) }),
    fc.record({ kind: fc.constant("normal" as const), std: fc.double({ min: 1e-3, max: 2, noNaN: true }) }),
    fc.constantFrom({ kind: "zeros" as const }, { kind: "ones" as const }),
  );
  const job: fc.Arbitrary<SeedJob> = fc.oneof(
    fc.record({ path: fc.string({ minLength: 1, maxLength: 12 }), init, size: fc.integer({ min: 0, max: 5000 }) }),
    // a table seeded only at some rows
    fc.record({
      path: fc.string({ minLength: 1, maxLength: 12 }),
      init,
      size: fc.constant(60),
      rows: fc.record({ width: fc.constant(6), indices: fc.uniqueArray(fc.integer({ min: 0, max: 9 }), { maxLength: 4 }).map((r) => r.sort((a, b) => a - b)) }),
    }),
  );

  it("gives what it gives without it (uniform, normal, fills, tables by rows, one or two threads), bit for bit", () => {
    fc.assert(
      fc.property(fc.array(job, { minLength: 1, maxLength: 7 }), fc.integer({ min: 0, max: 1e6 }), fc.constantFrom(1, 2), (jobs, seed, threads) => {
        const withWasm = seededValues(jobs, seed, { threads, minSplitCost: 1 });
        const onWasm = seedWasmStats.values;
        // with two threads, the other thread filled its share (on its own instance of the seeder)
        if (threads === 2 && seedThreadStats.pieces > 0) expect(seedThreadStats.filledByThread).toBe(true);
        const without = seededValues(jobs, seed, { threads, minSplitCost: 1, wasm: false });
        expect(seedWasmStats.values).toBe(0);
        jobs.forEach((_, i) => expect(bits(withWasm[i]!)).toEqual(bits(without[i]!)));
        // the finite-bound uniform tensors (not by rows) were the seeder's
        const expected = jobs.reduce((a, j) => a + (!j.rows && j.init.kind === "uniform" && Number.isFinite(j.init.bound) ? j.size : 0), 0);
        expect(onWasm).toBe(expected);
      }),
      { numRuns: 30 },
    );
  });
});

describe("a model seeded on the WebAssembly seeder", () => {
  it("classifier-base gives the logits pinned in models.oneshot.test.ts (seeded there in JavaScript), bit for bit, seeded after its compile and during it", async () => {
    const { createHash } = await import("node:crypto");
    const { i32 } = await import("../interpreter/engine/tensor.js");
    const { loadModel, runModel } = await import("../models/tasks.js");
    const IDS = [2, 40, 510, 611, 3, 2, 110, 4, 608, 3];
    const batch = { ids: i32([2, 5], IDS), types: i32([2, 5]), mask: i32([2, 5], IDS.map(() => 1)) };
    const hash = (out: Float32Array) => createHash("sha256").update(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)).digest("hex");
    const PINNED = "8b80bdcee5b9363c0a8faef4c8b717831a5a4d54407576140062b53c9a9f524b";
    // every linear weight of BERT-base: 12 x (4 x 768 x 768 + 2 x 768 x 3072), the pooler and the classifier
    const linear = 12 * (4 * 768 * 768 + 2 * 768 * 3072);
    const first = runModel(loadModel("classify", { model: "classifier-base", noTokenizer: true }), batch).output.data as Float32Array;
    // (seeded after the compile, or, when an earlier run left the list, during it: both count)
    expect(seedWasmStats.values + prefillStats.onWasm).toBeGreaterThan(linear);
    expect(hash(first)).toBe(PINNED);
    // The first run left the list of what it seeded: the second seeds during its compile.
    const second = runModel(loadModel("classify", { model: "classifier-base", noTokenizer: true }), batch).output.data as Float32Array;
    expect(prefillStats.onWasm).toBeGreaterThan(linear);
    expect(prefillStats.values).toBeGreaterThan(linear);
    expect(hash(second)).toBe(PINNED);
  }, 240_000);
});
