import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { type Init, initTensor, streamFor } from "../interpreter/engine/random.js";
import { MIN_SPLIT_COST, type SeedJob, seedThreadStats, seededValues } from "../interpreter/runtime/seed-threads.js";

// The oracle is the documented stream (initTensor on streamFor), not the fast fill.
const expected = (j: SeedJob, seed: number) => initTensor([j.size], j.init, streamFor(seed, j.path)).data;
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

const init: fc.Arbitrary<Init> = fc.oneof(
  fc.record({ kind: fc.constant("uniform" as const), bound: fc.double({ min: 1e-3, max: 2, noNaN: true }) }),
  fc.record({ kind: fc.constant("normal" as const), std: fc.double({ min: 1e-3, max: 2, noNaN: true }) }),
  fc.constant({ kind: "zeros" as const }),
);
const job: fc.Arbitrary<SeedJob> = fc.record({ path: fc.string({ minLength: 1, maxLength: 12 }), init, size: fc.integer({ min: 0, max: 301 }) });

describe("seededValues", () => {
  it("gives every tensor's seeded values when split between two threads at any point (odd sizes, normal pairs)", () => {
    fc.assert(
      fc.property(fc.array(job, { minLength: 1, maxLength: 6 }), fc.integer({ min: -5, max: 1e9 }), (jobs, seed) => {
        const got = seededValues(jobs, seed, { threads: 2, minSplitCost: 1 });
        const total = jobs.reduce((a, j) => a + (j.init.kind === "zeros" ? 0 : j.size), 0);
        // The other thread really filled its share (otherwise this would test the fallback).
        if (total > 0) expect(seedThreadStats.filledByThread).toBe(true);
        return jobs.every((j, i) => same(got[i]!, expected(j, seed)));
      }),
      { numRuns: 12 },
    );
  });

  it("splits a BERT-sized embedding table and keeps the values", () => {
    const jobs: SeedJob[] = [
      { path: "embeddings.word.table", init: { kind: "normal", std: 1 }, size: 2_000_001 },
      { path: "blocks.0.up.W", init: { kind: "uniform", bound: 1 / Math.sqrt(768) }, size: 768 * 3072 },
    ];
    expect(jobs[0]!.size * 6 + jobs[1]!.size).toBeGreaterThan(MIN_SPLIT_COST);
    const got = seededValues(jobs, 0, { threads: 2 });
    expect(seedThreadStats.pieces).toBeGreaterThan(0);
    expect(seedThreadStats.filledByThread).toBe(true);
    jobs.forEach((j, i) => expect(same(got[i]!, expected(j, 0))).toBe(true));
  });

  it("one thread: the same values, no thread started", () => {
    const jobs: SeedJob[] = [{ path: "w", init: { kind: "uniform", bound: 0.5 }, size: 999 }];
    const got = seededValues(jobs, 3, { threads: 1, minSplitCost: 1 });
    expect(seedThreadStats.pieces).toBe(0);
    expect(same(got[0]!, expected(jobs[0]!, 3))).toBe(true);
  });
});
