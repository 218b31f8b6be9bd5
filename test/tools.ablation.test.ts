/**
 * tools/ablation (`npm run ablation`): the library on a minimal budget — two variants, one
 * seed, two steps, a tiny model and a short held-out file — gives a table and JSON of the
 * documented structure, finite numbers, and numbers from real runs (the variants differ).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ABLATION_DEFAULTS, type AblationResult, VALID_FILE, formatTable, inProcessRunner, parseVariants, renderHtml, runAblation, stat } from "../tools/ablation/ablation.js";

describe("ablation", () => {
  it("stat: mean and sample std", () => {
    expect(stat([1, 3])).toEqual({ mean: 2, std: Math.SQRT2 });
    expect(stat([5])).toEqual({ mean: 5, std: 0 });
  });

  it("parseVariants: all by default, unknown names rejected", () => {
    expect(parseVariants(undefined)).toEqual(["lif", "bilif", "elastic", "elastic-k", "reference", "dense"]);
    expect(parseVariants("dense, lif")).toEqual(["dense", "lif"]);
    expect(() => parseVariants("lif,relu")).toThrow(/unknown variant `relu`/);
  });

  it("trains two variants for real and reports the table, JSON and HTML", { timeout: 30_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-ablation-"));
    const valid = path.join(dir, "valid.txt");
    fs.writeFileSync(valid, fs.readFileSync(VALID_FILE, "utf8").slice(0, 600));
    const progress: number[] = [];
    const r: AblationResult = await runAblation(
      { ...ABLATION_DEFAULTS, steps: 2, seeds: 1, batch: 2, seq: 16, d: 8, depth: 1, heads: 2, variants: ["lif", "dense"], validFile: valid },
      inProcessRunner(),
      (done) => progress.push(done),
    );
    expect(progress.at(-1)).toBe(2);
    expect(r.tuning).toBeUndefined();
    expect(r.rows.map((x) => x.variant)).toEqual(["lif", "dense"]);
    for (const row of r.rows) {
      expect(row.runs).toHaveLength(1);
      for (const v of [row.loss.mean, row.bitsPerByte.mean, row.trainLoss.mean]) expect(Number.isFinite(v)).toBe(true);
      expect(row.loss.std).toBe(0);
      // Two steps from a seeded start: about ln(256) nats per byte.
      expect(row.loss.mean).toBeGreaterThan(4);
      expect(row.loss.mean).toBeLessThan(7);
      expect(row.params).toBeGreaterThan(0);
    }
    const [lif, dense] = r.rows;
    expect(lif!.loss.mean).not.toBe(dense!.loss.mean);
    expect(lif!.firingRate!.mean).toBeGreaterThan(0);
    expect(lif!.firingRate!.mean).toBeLessThanOrEqual(1);
    expect(lif!.runs[0]!.neurons).toBeGreaterThan(0);
    expect(dense!.firingRate).toBeUndefined();
    expect([...r.measuredOrder].sort()).toEqual(["dense", "lif"]);

    const json = JSON.parse(JSON.stringify(r)) as AblationResult;
    expect(json.budget).toMatchObject({ steps: 2, seeds: 1, d: 8, validFile: expect.any(String) });
    const table = formatTable(r);
    expect(table).toContain("| variant");
    expect(table).toContain("LIF {0,1}");
    expect(table).toContain("dense ANN");
    expect(table).toContain(lif!.loss.mean.toFixed(4));
    expect(table).toMatch(/paper's order: .* (matches|differs)/);
    const html = renderHtml(r);
    expect(html).toContain("<svg");
    expect((html.match(/<rect /g) ?? []).length).toBe(2);
  });
});
