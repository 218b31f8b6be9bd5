/**
 * `spikelm train` and `spikelm eval` as a user runs them: eval's JSON fields per task,
 * mistakes (bad data files, missing columns, bad options) exit 1 with a clear message and
 * write nothing, and — on a tiny decoder — training is deterministic for a seed, resuming a
 * checkpoint is bit-identical to an uninterrupted run, the loss goes down, and the
 * checkpoint loads as ordinary weights.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { loadCheckpoint } from "../interpreter/train/checkpoint.js";
import { REPO } from "./helpers.js";

function spikelm(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "tools/cli/main.ts"), ...args], { cwd: REPO, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// Every case spawns the CLI (tsx start-up included); on a busy machine that takes a while.
vi.setConfig({ testTimeout: 300_000 });

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-train-cli-"));
const at = (f: string) => path.join(tmp, f);
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .*:\d+/);
const VALID = path.join(REPO, "models/data/kjv-valid.txt");
const SENT = path.join(REPO, "models/data/sentiment-test.tsv");
/** A tiny decoder: the shipped spec with small arguments (fast enough for tests). */
const TINY = ["--model", "decoder-small", "--arg", "d=16", "--arg", "ffn=32", "--arg", "depth=1", "--arg", "ctx=16", "--arg", "heads=2"];

describe("spikelm eval", () => {
  it("lm: JSON has loss, bits_per_byte, tokens (no accuracy)", () => {
    const json = at("lm.json");
    const r = spikelm("eval", "--model", "decoder-small", "--task", "lm", "--data", VALID, "--max-batches", "1", "--batch", "2", "--seq", "32", "--json", json);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/bits per byte +\d+\.\d{4}/);
    const j = JSON.parse(fs.readFileSync(json, "utf8"));
    expect(j.tokens).toBe(64);
    expect(j.loss).toBeGreaterThan(0);
    expect(j.bits_per_byte).toBeCloseTo(j.loss / Math.LN2, 9);
    expect(j.perplexity).toBeCloseTo(Math.exp(j.loss), 9);
    expect(j).not.toHaveProperty("accuracy");
  });

  it("classify: JSON has loss, accuracy, tokens (no bits_per_byte)", () => {
    const json = at("cls.json");
    const r = spikelm("eval", "--model", "classifier-small", "--task", "classify", "--data", SENT, "--max-batches", "1", "--batch", "4", "--json", json);
    expect(r.code).toBe(0);
    const j = JSON.parse(fs.readFileSync(json, "utf8"));
    expect(j.tokens).toBe(4);
    expect(j.accuracy).toBeGreaterThanOrEqual(0);
    expect(j.accuracy).toBeLessThanOrEqual(1);
    expect(j).not.toHaveProperty("bits_per_byte");
  });
});

describe("train / eval mistakes: exit 1, a clear message, no output", () => {
  const outs = () => ["ck.safetensors", "run.jsonl", "page.html", "e.json"].filter((f) => fs.existsSync(at(f)));
  const bad = (args: string[], message: RegExp) => {
    const r = spikelm(...args);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
    noStack(r.err);
    expect(r.out).toBe("");
    expect(outs()).toEqual([]);
  };
  const trainArgs = (data: string, task = "lm") => ["train", ...TINY, "--task", task, "--data", data, "--steps", "2", "--seq", "16", "--out", at("ck.safetensors"), "--log", at("run.jsonl"), "--html", at("page.html")];

  it("a missing data file", () => bad(trainArgs(at("nope.txt")), /cannot read data file .*nope\.txt: no such file/));
  it("an empty data file", () => {
    fs.writeFileSync(at("empty.txt"), "\n\n");
    bad(trainArgs(at("empty.txt")), /data file .*empty\.txt is empty/);
  });
  it("a TSV line without the label column", () => {
    fs.writeFileSync(at("cols.tsv"), "text\tlabel\na fine film\tpositive\njust text here\n");
    bad(["train", "--model", "classifier-small", "--task", "classify", "--data", at("cols.tsv"), "--steps", "1", "--out", at("ck.safetensors")], /cols\.tsv:3: expected two tab-separated columns, text<TAB>label/);
  });
  it("an unknown label", () => {
    fs.writeFileSync(at("lab.tsv"), "a fine film\tpositive\na dull film\tmeh\n");
    bad(["eval", "--model", "classifier-small", "--task", "classify", "--data", at("lab.tsv"), "--json", at("e.json")], /lab\.tsv:2: unknown label `meh`/);
  });
  it("no --task, an unknown task, mlm on a byte model", () => {
    bad(["train", ...TINY, "--data", VALID, "--steps", "1", "--out", at("ck.safetensors")], /--task is required/);
    bad(["train", ...TINY, "--task", "seq2seq", "--data", VALID, "--steps", "1", "--out", at("ck.safetensors")], /--task is one of lm, mlm, classify, found `seq2seq`/);
    bad(["train", "--model", "decoder-small", "--task", "mlm", "--data", VALID, "--steps", "1", "--out", at("ck.safetensors")], /decoder-small.* is a generate model; --task mlm needs a fill-mask model/);
  });
  it("bad numbers and paths", () => {
    bad(["train", ...TINY, "--task", "lm", "--data", VALID, "--steps", "0", "--out", at("ck.safetensors")], /--steps expects a whole number >= 1, found `0`/);
    bad(["train", ...TINY, "--task", "lm", "--data", VALID, "--steps", "1", "--out", at("missing-dir/ck.safetensors")], /--out .*missing-dir.*(does not exist|no such file or directory)/);
    bad(["train", ...TINY, "--task", "lm", "--data", VALID, "--steps", "1", "--out", at("ck.json")], /--out .*ck\.json: expected a \.safetensors file/);
    bad(["train", ...TINY, "--task", "lm", "--data", VALID, "--steps", "1", "--seq", "64", "--out", at("ck.safetensors")], /--seq 64 is longer than the context/);
    bad(["train", ...TINY, "--task", "lm", "--data", VALID, "--steps", "1", "--resume", at("none.safetensors"), "--out", at("ck.safetensors")], /cannot read checkpoint .*none\.safetensors: no such file/);
  });
});

// The training runs below need gradients (interpreter/autodiff).
describe("spikelm train on a tiny decoder", () => {
  const run = (out: string, ...extra: string[]) =>
    spikelm("train", ...TINY, "--task", "lm", "--data", VALID, "--steps", "8", "--batch", "2", "--seq", "16", "--lr", "0.01", "--warmup", "2", "--accum", "2", "--eval-every", "4", "--eval-batches", "2", "--seed", "5", "--out", out, "-q", ...extra);
  const tensors = (f: string) => loadCheckpoint(f);
  const same = (a: string, b: string) => {
    const x = tensors(a);
    const y = tensors(b);
    expect([...x.weights.keys()].sort()).toEqual([...y.weights.keys()].sort());
    for (const [k, t] of x.weights) expect(Buffer.from(t.data.buffer).equals(Buffer.from(y.weights.get(k)!.data.buffer)), k).toBe(true);
    for (const [k, m] of x.m) expect(Buffer.from(m.buffer).equals(Buffer.from(y.m.get(k)!.buffer)), `m ${k}`).toBe(true);
    for (const [k, v] of x.v) expect(Buffer.from(v.buffer).equals(Buffer.from(y.v.get(k)!.buffer)), `v ${k}`).toBe(true);
    expect(x.state?.step).toBe(y.state?.step);
    expect(x.state?.rng).toEqual(y.state?.rng);
  };

  it("is deterministic; resume is bit-identical to an uninterrupted run; the log, page and checkpoint are written", () => {
    const a = run(at("a.safetensors"), "--log", at("a.jsonl"), "--html", at("a.html"));
    expect(a.err).toBe("");
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/8 steps/);
    expect(a.out).toMatch(/held-out loss \d+\.\d+, \d+\.\d+ bits\/byte/);
    const b = run(at("b.safetensors"));
    expect(b.code).toBe(0);
    same(at("a.safetensors"), at("b.safetensors"));
    // Stopped after 5 steps (as a killed run's last --save-every checkpoint), then resumed.
    const half = run(at("c.safetensors"), "--stop-after", "5", "--log", at("c.jsonl"));
    expect(half.code).toBe(0);
    expect(loadCheckpoint(at("c.safetensors")).state?.step).toBe(5);
    const rest = spikelm("train", ...TINY, "--task", "lm", "--data", VALID, "--resume", at("c.safetensors"), "--out", at("c.safetensors"), "--log", at("c.jsonl"), "-q");
    expect(rest.err).toBe("");
    expect(rest.code).toBe(0);
    same(at("a.safetensors"), at("c.safetensors"));
    const log = (f: string) => fs.readFileSync(at(f), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const lines = log("a.jsonl");
    expect(lines[0].kind).toBe("start");
    expect(lines[0].spec).toBe(path.join("models", "spikelm", "spikelm_decoder.spk")); // repo-relative, as the shipped logs
    expect(lines.filter((l) => l.kind === "step").map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(lines.filter((l) => l.kind === "eval").map((l) => l.step)).toEqual([4, 8]);
    expect(lines.find((l) => l.kind === "eval").rates["blocks.0.up.fire"]).toBeGreaterThan(0);
    // The resumed log holds the same losses as the uninterrupted one.
    const losses = (ls: { kind: string; loss: number }[]) => ls.filter((l) => l.kind === "step").map((l) => l.loss);
    expect(losses(log("c.jsonl"))).toEqual(losses(lines));
    expect(fs.readFileSync(at("a.html"), "utf8")).toMatch(/<svg[^>]*>.*firing rate per layer/s);
  }, 300_000);

  it("the loss goes down, and the checkpoint loads with run --weights and eval --weights", () => {
    const out = at("learn.safetensors");
    const r = spikelm("train", ...TINY, "--task", "lm", "--data", VALID, "--steps", "30", "--batch", "4", "--seq", "16", "--lr", "0.01", "--warmup", "3", "--eval-every", "30", "--seed", "1", "--out", out, "--log", at("learn.jsonl"), "-q");
    expect(r.code).toBe(0);
    const steps = fs.readFileSync(at("learn.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((l) => l.kind === "step");
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(steps.slice(-5).map((s) => s.loss))).toBeLessThan(mean(steps.slice(0, 5).map((s) => s.loss)) - 0.5);
    const e = spikelm("eval", ...TINY, "--task", "lm", "--data", VALID, "--weights", out, "--seq", "16", "--max-batches", "2", "--json", at("learn-eval.json"));
    expect(e.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(at("learn-eval.json"), "utf8")).bits_per_byte).toBeLessThan(7);
    fs.writeFileSync(at("ids.json"), JSON.stringify({ ids: { shape: [1, 4], data: [84, 104, 101, 32], dtype: "i32" } }));
    const run_ = spikelm("run", path.join(REPO, "models/spikelm/spikelm_decoder.spk"), "--entry", "SpikeLMDecoder", "--arg", "d=16", "--arg", "ffn=32", "--arg", "depth=1", "--arg", "ctx=16", "--arg", "heads=2", "--weights", out, "--input", at("ids.json"));
    expect(run_.err).toBe("");
    expect(run_.code).toBe(0);
  }, 300_000);
});
