/**
 * Seeding started before the compile (seed-threads.ts prefillOnThread, param-list.ts, used by
 * models/tasks.ts prepareRun): the parameter store takes a prefilled tensor only where the
 * compiled spec asks for the same path, size, init and seed, and seeds everything else itself;
 * a prefill whose thread failed is not used at all. The oracle is the store built without
 * any prefill.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Init } from "../interpreter/engine/random.js";
import type { ParamSpec } from "../interpreter/ir/graph.js";
import { MAX_REMEMBERED_VALUES, listKey, rememberJobs, rememberedJobs } from "../interpreter/runtime/param-list.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { type Prefill, type SeedJob, prefillOnThread, prefillStats } from "../interpreter/runtime/seed-threads.js";
import { REPO } from "./helpers.js";

const origin = { uri: "test.spk", span: { start: 0, end: 0 } } as unknown as ParamSpec["origin"];
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const init: fc.Arbitrary<Init> = fc.oneof(
  fc.record({ kind: fc.constant("uniform" as const), bound: fc.constantFrom(0.5, 0.25, 1 / Math.sqrt(7)) }),
  fc.record({ kind: fc.constant("normal" as const), std: fc.constantFrom(1, 0.02) }),
);
const spec: fc.Arbitrary<ParamSpec> = fc.record({ path: fc.constantFrom("a.W", "b.W", "c.W", "d.table", "e.W"), shape: fc.constantFrom([4, 6], [6, 4], [2, 2], [10, 3]), init }).map(
  (s) => ({ ...s, kind: "weight", origin }) as ParamSpec,
);
/** A remembered job for a spec: the same, or another size, init or path (a stale list). */
const jobFor = (s: ParamSpec): fc.Arbitrary<SeedJob> =>
  fc.constantFrom("same", "size", "init", "path").map((how) => ({
    path: how === "path" ? `${s.path}.old` : s.path,
    size: numel(s.shape) + (how === "size" ? 2 : 0),
    init: how === "init" ? (s.init.kind === "uniform" ? { kind: "uniform" as const, bound: (s.init as { bound: number }).bound * 2 } : { kind: "uniform" as const, bound: 1 }) : (s.init as Init),
  }));

const values = (store: ParamStore) => new Map([...store.entries].map(([k, e]) => [k, bits(e.tensor.data)]));

describe("a prefill started before the compile", () => {
  it("gives the store the values it makes without one, taking exactly the tensors that match (path, size, init, seed)", () => {
    const specsAndJobs = fc.uniqueArray(spec, { minLength: 1, maxLength: 5, selector: (s) => s.path }).chain((specs) => fc.tuple(fc.constant(specs), fc.tuple(...specs.map(jobFor))));
    fc.assert(
      fc.property(specsAndJobs, fc.integer({ min: 0, max: 100 }), fc.boolean(), ([specs, jobs], seed, sameSeed) => {
        const prefill = prefillOnThread(jobs, sameSeed ? seed : seed + 1);
        // only uniform tensors are prefilled (normal ones are split between both threads later)
        expect(prefill === undefined).toBe(jobs.every((j) => j.init.kind !== "uniform"));
        expect(prefill?.jobs.every((j) => j.init.kind === "uniform") ?? true).toBe(true);
        const got = ParamStore.create(specs, undefined, { seed, prefill });
        const matching = specs.filter((s, i) => sameSeed && jobs[i]!.init.kind === "uniform" && jobs[i]!.path === s.path && jobs[i]!.size === numel(s.shape) && JSON.stringify(jobs[i]!.init) === JSON.stringify(s.init));
        expect(prefillStats.tensors).toBe(matching.length);
        expect(values(got)).toEqual(values(ParamStore.create(specs, undefined, { seed })));
      }),
      { numRuns: 25 },
    );
  });

  it("takes a matching tensor as the thread left it (it really is used) ...", () => {
    const specs = [{ path: "w", kind: "weight", shape: [2, 2], init: { kind: "uniform", bound: 1 }, origin } as ParamSpec];
    const fake: Prefill = { seed: 0, jobs: [{ path: "w", size: 4, init: { kind: "uniform", bound: 1 } }], values: [Float32Array.of(1, 2, 3, 4)], wait: () => true };
    expect(Array.from(ParamStore.create(specs, undefined, { seed: 0, prefill: fake }).get("w").tensor.data)).toEqual([1, 2, 3, 4]);
  });

  it("... and nothing from a thread that failed", () => {
    const specs = [{ path: "w", kind: "weight", shape: [2, 2], init: { kind: "uniform", bound: 1 }, origin } as ParamSpec];
    const failed: Prefill = { seed: 0, jobs: [{ path: "w", size: 4, init: { kind: "uniform", bound: 1 } }], values: [Float32Array.of(1, 2, 3, 4)], wait: () => false };
    expect(values(ParamStore.create(specs, undefined, { seed: 0, prefill: failed }))).toEqual(values(ParamStore.create(specs, undefined, { seed: 0 })));
    expect(prefillStats.tensors).toBe(0);
  });
});

describe("the remembered list of seeded tensors (param-list.ts)", () => {
  it("is kept for the repository's specs only (a spec in a temporary folder has no key)", () => {
    expect(listKey(path.join(REPO, "models/spikelm/spikelm_encoder.spk"), "SpikeLMEncoder", {})).toBeDefined();
    expect(listKey(path.join(REPO, "models/spikelm/spikelm_encoder.spk"), "A", {})).not.toBe(listKey(path.join(REPO, "models/spikelm/spikelm_encoder.spk"), "B", {}));
    expect(listKey(path.join(os.tmpdir(), "m.spk"), "SpikeLMEncoder", {})).toBeUndefined();
  });

  const key = `test ${process.pid} ${Date.now()}`;
  const jobs: SeedJob[] = [
    { path: "blocks.0.q.W", init: { kind: "uniform", bound: 0.036 }, size: 589824 },
    { path: "pos.table", init: { kind: "normal", std: 1 }, size: 393216 },
  ];
  const dir = path.join(REPO, "node_modules", ".cache", "spikelm");
  const files = () => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith("seeded-params-")) : []);

  it("round-trips, and a damaged or foreign file is no list", () => {
    fs.mkdirSync(dir, { recursive: true });
    const before = new Set(files());
    rememberJobs(key, jobs);
    const mine = files().filter((f) => !before.has(f));
    expect(mine).toHaveLength(1);
    const file = path.join(dir, mine[0]!);
    try {
      expect(rememberedJobs(key)).toEqual(jobs);
      expect(rememberedJobs(`${key} other`)).toBeUndefined();
      const text = fs.readFileSync(file, "utf8");
      fs.writeFileSync(file, text.slice(0, text.length / 2));
      expect(rememberedJobs(key)).toBeUndefined();
      fs.writeFileSync(file, JSON.stringify({ key, jobs: [{ path: "x", size: -1, init: { kind: "uniform", bound: 1 } }] }));
      expect(rememberedJobs(key)).toBeUndefined();
      fs.writeFileSync(file, JSON.stringify({ key, jobs: [{ path: "x", size: 4, init: { kind: "gamma" } }] }));
      expect(rememberedJobs(key)).toBeUndefined();
      // absurd sizes (a tampered list) are no list: the prefill must not allocate 10^12 values
      const job = (size: number) => ({ path: `p${size}`, size, init: { kind: "uniform", bound: 1 } });
      fs.writeFileSync(file, JSON.stringify({ key, jobs: [job(1e12)] }));
      expect(rememberedJobs(key)).toBeUndefined();
      fs.writeFileSync(file, JSON.stringify({ key, jobs: Array.from({ length: 5 }, () => job(MAX_REMEMBERED_VALUES / 4)) }));
      expect(rememberedJobs(key)).toBeUndefined();
      fs.writeFileSync(file, JSON.stringify({ key, jobs: [job(MAX_REMEMBERED_VALUES)] }));
      expect(rememberedJobs(key)).toEqual([job(MAX_REMEMBERED_VALUES)]);
      // a list that changed is written again
      rememberJobs(key, jobs.slice(1));
      expect(rememberedJobs(key)).toEqual(jobs.slice(1));
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
