/**
 * Token ids from a user's --input file on both execution paths: an id outside [0, vocab) is a
 * clear error naming that id (exit 1, no --out file), the same on the reference interpreter
 * and the optimized executor. The optimized gather used to return the bad id itself, so a
 * negative id (-1 above all) read as "no problem" and the run exited 0 with rows left over
 * from an earlier step. Runs `run` in-process behind the `guarded` wrapper commander calls.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { runCommand } from "../tools/cli/commands/run.js";
import { inProcess } from "./cli-in-process.js";
import { REPO } from "./helpers.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-ids-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const TINY = path.join(REPO, "models/tiny/tiny_spikelm.spk");
const ARGS = ["d=16", "heads=2", "depth=1", "ffn=32", "ctx=8", "vocab=16"];
const VOCAB = 16;


async function runIds(ids: number[], opt: boolean) {
  const input = path.join(tmp, "ids.json");
  const out = path.join(tmp, "out.json");
  fs.writeFileSync(input, JSON.stringify({ ids: { dtype: "i32", shape: [1, ids.length], data: ids } }));
  fs.rmSync(out, { force: true });
  const r = await inProcess(() => runCommand(TINY, { entry: "TinySpikeLM", arg: ARGS, input, out, opt }));
  return { ...r, wrote: fs.existsSync(out) };
}

describe("token ids out of range", () => {
  it("-1, a large negative and vocab itself are refused on both paths, naming the id", async () => {
    for (const opt of [false, true]) {
      for (const [ids, bad] of [[[3, -1, 2], -1], [[-5], -5], [[1, 2, VOCAB], VOCAB]] as const) {
        const r = await runIds([...ids], opt);
        expect(r.code, `${ids} opt=${opt}: ${r.err}`).toBe(1);
        expect(r.err).toContain(`token id ${bad} is out of range for an embedding table of ${VOCAB} rows`);
        expect(r.wrote).toBe(false);
      }
    }
  }, 60_000);

  it("property: exit 1 naming the first bad id exactly when one is out of range, on both paths", async () => {
    const id = fc.oneof(fc.integer({ min: 0, max: VOCAB - 1 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(-1, VOCAB));
    await fc.assert(
      fc.asyncProperty(fc.array(id, { minLength: 1, maxLength: 8 }), async (ids) => {
        const firstBad = ids.find((x) => x < 0 || x >= VOCAB);
        for (const opt of [false, true]) {
          const r = await runIds(ids, opt);
          if (firstBad === undefined) {
            expect(r.code, r.err).toBe(0);
            expect(r.wrote).toBe(true);
          } else {
            expect(r.code, `${ids} opt=${opt}: ${r.err}`).toBe(1);
            expect(r.err).toMatch(/^error: token id -?\d+ is out of range for an embedding table of 16 rows\n$/);
            // The reference reports the first bad id it meets; the optimized path the first bad
            // position at its first time step: both are the first in the sequence.
            expect(r.err).toContain(`token id ${firstBad} `);
            expect(r.wrote).toBe(false);
          }
        }
      }),
      { numRuns: 12, seed: 5 },
    );
  }, 120_000);
});
