/**
 * The invalid-program corpus: each file in test/fixtures/invalid ends with
 * `// expect: CODE line:col`, the diagnostic that `spikelm check` must report first, and may
 * add `// expect-count: N`, how many diagnostics the file gets in all (no follow-on errors).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { checkFiles } from "../interpreter/checker/check.js";
import { FIXTURES } from "./helpers.js";

const dir = path.join(FIXTURES, "invalid");
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".spk")).sort();

describe("invalid programs", () => {
  it("has at least 30 programs covering many codes", () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
    const codes = new Set(files.map((f) => /expect: (SPK\d+)/.exec(fs.readFileSync(path.join(dir, f), "utf8"))![1]));
    expect(codes.size).toBeGreaterThanOrEqual(30);
  });

  it.each(files)("%s", (name) => {
    const file = path.join(dir, name);
    const text = fs.readFileSync(file, "utf8");
    const m = /\/\/ expect: (SPK\d+) (\d+):(\d+)/.exec(text);
    expect(m, "fixture needs an `// expect: CODE line:col` line").not.toBeNull();
    const [, code, line, col] = m!;
    const r = checkFiles([file]);
    const mine = r.diagnostics.filter((d) => d.uri === file);
    expect(mine.length).toBeGreaterThan(0);
    const lines = r.program.files.get(file)!.lines;
    const first = mine[0]!;
    const pos = lines.position(first.span.start);
    expect(`${first.code} ${pos.line + 1}:${pos.character + 1}`).toBe(`${code} ${line}:${col}`);
    const count = /\/\/ expect-count: (\d+)/.exec(text);
    if (count) expect(mine.map((d) => `${d.code} ${d.message}`)).toHaveLength(Number(count[1]));
    for (const d of r.diagnostics) {
      expect(d.message.length).toBeGreaterThan(10);
      const len = r.program.files.get(d.uri)!.text.length;
      expect(d.span.start).toBeGreaterThanOrEqual(0);
      expect(d.span.end).toBeLessThanOrEqual(len);
      expect(d.span.start).toBeLessThanOrEqual(d.span.end);
    }
  });
});
