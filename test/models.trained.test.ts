/**
 * The shipped small models have learned, by the numbers the READMEs state: each claim is
 * re-measured here by `spikelm eval` on the held-out files, through the CLI a user runs, so a
 * change of weights, tokenizer, data split or evaluation code that moves a number fails.
 * Baselines (unigram, majority class) are computed from the data, not written down.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { BpeTokenizer } from "../models/tokenizers/bpe.js";
import { REPO } from "./helpers.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-trained-"));

function evaluate(name: string, ...args: string[]): Record<string, number> {
  return evaluateWith(name, ["--model", name, ...args]);
}

function evaluateWith(label: string, args: string[]): Record<string, number> {
  const out = path.join(tmp, `${label.replace(/[^\w.-]/g, "_")}.json`);
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "tools/cli/main.ts"), "eval", ...args, "--json", out], { cwd: REPO, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(fs.readFileSync(out, "utf8")) as Record<string, number>;
}

describe("shipped trained models (README numbers)", () => {
  it("decoder-small: 2.93 bits/byte on the held-out KJV text, below the unigram baseline fitted on the training text", () => {
    const j = evaluate("decoder-small", "--task", "lm", "--data", "models/data/kjv-valid.txt", "--seq", "64", "--unigram", "models/data/kjv-train.txt");
    expect(j.bits_per_byte).toBeCloseTo(2.931, 2);
    expect(j.unigram_bits_per_byte).toBeCloseTo(4.35, 2);
    expect(j.bits_per_byte!).toBeLessThan(j.unigram_bits_per_byte! - 0.8);
  }, 180_000);

  it("the same architecture as a dense ANN, trained with decoder-small's budget: 2.30 bits/byte on the same held-out text", () => {
    const dense = evaluateWith("dense", ["models/spikelm/decoder_dense.spk", "--entry", "DenseDecoder", "--weights", "models/spikelm/trained-decoder-dense-small.safetensors", "--task", "lm", "--data", "models/data/kjv-valid.txt", "--seq", "64"]);
    expect(dense.tokens).toBe(19632);
    expect(dense.bits_per_byte).toBeCloseTo(2.298, 2);
  }, 180_000);

  it("decoder-small-bpe: 1.854 bits/byte on the held-out KJV text (NLL of every scored token over the bytes they cover), below the token unigram baseline and the byte model", () => {
    const j = evaluate("decoder-small-bpe", "--task", "lm", "--data", "models/data/kjv-valid.txt", "--seq", "128", "--unigram", "models/data/kjv-train.txt");
    const held = fs.readFileSync(path.join(REPO, "models/data/kjv-valid.txt"));
    const tok = BpeTokenizer.fromFile(path.join(REPO, "models/spikelm/bpe-kjv.txt"));
    const ids = tok.encode(held.toString("utf8"));
    // Every token but the first is scored, and every byte but the first token's is covered.
    expect(j.tokens).toBe(ids.length - 1);
    expect(j.bytes).toBe(held.length - tok.bytesOf(ids[0]!).length);
    expect(j.bits_per_byte).toBeCloseTo(1.8541, 3);
    expect(j.unigram_bits_per_byte).toBeCloseTo(2.5026, 3);
    expect(j.bits_per_byte!).toBeLessThan(j.unigram_bits_per_byte! - 0.6);
    expect(j.bits_per_byte!).toBeLessThan(2.931 - 0.3); // the byte model's figure above
  }, 180_000);

  it("decoder-small-bpe's architecture as a dense ANN, trained with the same budget: 1.790 bits/byte on the same held-out text", () => {
    const dense = evaluateWith("dense-bpe", ["models/spikelm/decoder_dense.spk", "--entry", "DenseDecoder", "--arg", "vocab=2048", "--vocab", "models/spikelm/bpe-kjv.txt", "--weights", "models/spikelm/trained-decoder-dense-bpe.safetensors", "--task", "lm", "--data", "models/data/kjv-valid.txt", "--seq", "128"]);
    expect(dense.bits_per_byte).toBeCloseTo(1.7904, 3);
  }, 180_000);

  it("classifier-small: 77.0% on the 500 held-out sentences, against a 51% majority class", () => {
    const j = evaluate("classifier-small", "--task", "classify", "--data", "models/data/sentiment-test.tsv");
    expect(j.tokens).toBe(500);
    expect(j.accuracy).toBeCloseTo(0.77, 3);
    const labels = fs
      .readFileSync(path.join(REPO, "models/data/sentiment-test.tsv"), "utf8")
      .split("\n")
      .slice(1) // the header row: text<TAB>label
      .filter((l) => l.includes("\t"))
      .map((l) => l.slice(l.lastIndexOf("\t") + 1).trim());
    const counts = new Map<string, number>();
    for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    const majority = Math.max(...counts.values()) / labels.length;
    expect(labels.length).toBe(500);
    expect(majority).toBeLessThan(0.52);
    expect(j.accuracy!).toBeGreaterThan(majority + 0.2);
  }, 180_000);

  it("mlm-small: masked-token perplexity 117.7 on the held-out KJV text (seeded: 739)", () => {
    const j = evaluate("mlm-small", "--task", "mlm", "--data", "models/data/kjv-valid.txt", "--seq", "32");
    expect(j.perplexity).toBeCloseTo(117.7, 0);
  }, 180_000);
});
