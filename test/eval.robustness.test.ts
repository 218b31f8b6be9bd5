/**
 * `spikelm eval` on bad data and option values (tools/cli/commands/eval.ts, models/training.ts):
 * each is exit 1 with a message naming the file or option, nothing on stdout, no --json file
 * written, never a stack trace or a compile error in the model's spec; binary data is text
 * like any other (bytes and BPE tokenize every byte string).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { evalCommand, type EvalOptions } from "../tools/cli/commands/eval.js";
import { inProcess } from "./cli-in-process.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-eval-robust-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const write = (name: string, data: string | Uint8Array) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, data);
  return f;
};
const TEXT = write("text.txt", "In the beginning God created the heaven and the earth.\n".repeat(3));
const JSON_OUT = path.join(tmp, "metrics.json");
const evalOf = (opts: EvalOptions) => inProcess(() => evalCommand(undefined, { model: "decoder-small-bpe", task: "lm", seq: "16", batch: "2", maxBatches: "1", json: JSON_OUT, ...opts }));

describe("eval refuses bad data and options cleanly", () => {
  it("names the problem, exit 1, nothing on stdout, no --json file", async () => {
    const cases: [EvalOptions, RegExp][] = [
      [{ data: write("empty.txt", "") }, /data file .*empty\.txt is empty/],
      [{ data: write("blank.txt", " \n\t\n") }, /data file .*blank\.txt is empty/],
      [{ data: write("one.txt", "I") }, /one\.txt: no evaluation examples \(1 token; a language model is scored on at least 2\)/],
      [{ data: tmp }, /is a directory/],
      [{ data: path.join(tmp, "missing.txt") }, /missing\.txt.*no such file/],
      // the model's tensors cannot hold this batch: the option is named, not a spec line
      [{ data: TEXT, batch: "100000", seq: "128" }, /a batch of 100,000 × 128 tokens is more than the limit of 1,048,576: use a smaller --batch or --seq/],
      [{ data: TEXT, batch: "100000" , seq: undefined }, /a batch of 100,000 × 128 tokens .* \(sequence length from the default\)/],
      [{ data: TEXT, seq: "129" }, /--seq 129 is longer than the context of `decoder-small-bpe` \(128\)/],
      [{ data: TEXT, unigram: write("uni-empty.txt", "") }, /uni-empty\.txt is empty/],
      // (the CLI checks output paths before any work, main.ts; here the folder is missing at the end)
      [{ data: TEXT, json: path.join(tmp, "no", "such", "m.json") }, /m\.json: cannot write file/],
    ];
    for (const [opts, message] of cases) {
      fs.rmSync(JSON_OUT, { force: true });
      const r = await evalOf(opts);
      expect({ code: r.code, out: r.out, json: fs.existsSync(JSON_OUT) }).toEqual({ code: 1, out: "", json: false });
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/SPK\d|internal|\n\s+at /);
    }
  });

  it("scores binary data (every byte string tokenizes) and writes its --json", async () => {
    const bytes = new Uint8Array(3000).map((_, i) => (i * 131 + 7) & 255);
    fs.rmSync(JSON_OUT, { force: true });
    const r = await evalOf({ data: write("binary.bin", bytes) });
    expect(r.code).toBe(0);
    const m = JSON.parse(fs.readFileSync(JSON_OUT, "utf8")) as { loss: number; bits_per_byte: number };
    expect(Number.isFinite(m.loss) && Number.isFinite(m.bits_per_byte)).toBe(true);
  });
});
