/**
 * checkOutputPaths (the preAction hook every command passes through): each option that names
 * a file the command writes is checked before any work, under the flag's own spelling. --log
 * (train) and --case-out (verify) were missing: `train --log FOLDER` trained, wrote the
 * checkpoint, and only then failed writing the log.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../interpreter/io/errors.js";
import { checkOutputPaths } from "../tools/cli/output-paths.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-outpaths-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const OPTIONS: [string, string][] = [
  ["out", "--out"],
  ["report", "--report"],
  ["html", "--html"],
  ["json", "--json"],
  ["log", "--log"],
  ["caseOut", "--case-out"],
];

describe("checkOutputPaths", () => {
  it("refuses a folder and a path under a missing folder for every output option, naming the flag; creates nothing", () => {
    const missing = path.join(tmp, "no-such-dir", "f.json");
    for (const [key, flag] of OPTIONS) {
      for (const [value, why] of [[tmp, /it is a folder/], [missing, /no such file or directory/], ["  ", /the path is empty/]] as const) {
        let thrown: unknown;
        try {
          checkOutputPaths({ [key]: value });
        } catch (e) {
          thrown = e;
        }
        expect(thrown, `${key} = ${value}`).toBeInstanceOf(UserError);
        expect((thrown as Error).message).toMatch(new RegExp(`^${flag} .*: cannot write there: `));
        expect((thrown as Error).message).toMatch(why);
      }
    }
    expect(fs.existsSync(path.dirname(missing))).toBe(false);
  });

  it("accepts a writable new file without creating it, and ignores non-output options", () => {
    for (const [key] of OPTIONS) {
      const file = path.join(tmp, `${key}.out`);
      expect(() => checkOutputPaths({ [key]: file })).not.toThrow();
      expect(fs.existsSync(file)).toBe(false);
    }
    expect(() => checkOutputPaths({ data: tmp, weights: tmp, report: true })).not.toThrow();
  });
});
