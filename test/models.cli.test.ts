/**
 * `spikelm models`, `classify`, `fill-mask`, `report` and `run --report` as a user runs them
 * (child processes: exit code, stdout, stderr), and their bad inputs: clear messages, exit 1,
 * no stack trace, no output file.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../interpreter/io/errors.js";
import { classifyCommand } from "../tools/cli/commands/classify.js";
import { fillMaskCommand } from "../tools/cli/commands/fill-mask.js";
import { reportCommand } from "../tools/cli/commands/report.js";
import { REPO } from "./helpers.js";

function spikelm(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "tools/cli/main.ts"), ...args], { cwd: REPO, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-models-cli-"));
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .*:\d+/);

/** Runs a command in-process; returns its UserError message. */
async function userError(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error("expected a UserError");
}

describe("spikelm models", () => {
  it("lists the shipped models; the small BPE decoder is generate's default", () => {
    const r = spikelm("models");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^model +task +entry/);
    expect(r.out).toMatch(/\ndecoder-small +generate +SpikeLMDecoder +2×d64/);
    expect(r.out).toMatch(/\ndecoder-small-bpe \* +generate +SpikeLMDecoder +2×d64.* bpe 2048 \(models\/spikelm\/bpe-kjv\.txt\) +models\/spikelm\/trained-decoder-small-bpe\.safetensors/);
    expect(r.out).toMatch(/\ndecoder-base +generate +SpikeLMDecoder +12×d768, 12 heads, ffn 3072 +1024 +bytes/);
    expect(r.out).toMatch(/\nmlm-base +fill-mask .*12×d768.* 512 +wordpiece 30522 \(--vocab\)/);
    expect(r.out).toMatch(/\nclassifier-small \* .*models\/spikelm\/trained-classifier-small\.safetensors/);
  });
});

describe("spikelm classify / fill-mask", () => {
  it("classify: a label and class probabilities per text (batched with padding); --report writes JSON", () => {
    const json = path.join(tmp, "cls.json");
    const r = spikelm("classify", "i loved this movie", "the film was boring and too long.", "--report", json);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[0]).toMatch(/^text +label +p\(negative\) +p\(positive\)$/);
    expect(lines[2]).toMatch(/^i loved this movie +(negative|positive) +0\.\d{4} +0\.\d{4}$/);
    expect(lines[3]).toMatch(/^the film was boring and too long\. +(negative|positive) /);
    const p = lines[2]!.trim().split(/\s+/).slice(-2).map(Number);
    expect(Math.abs(p[0]! + p[1]! - 1)).toBeLessThan(2e-4);
    expect(r.out).toMatch(/spike and energy report: classifier-small/);
    const j = JSON.parse(fs.readFileSync(json, "utf8"));
    expect(j.total.spike_driven).toBe(false);
    expect(j.layers.length).toBeGreaterThan(10);
  });

  it("fill-mask: top-k tokens with probabilities for the [MASK]", () => {
    const r = spikelm("fill-mask", "--top-k", "3", "the [MASK] sat on the mat.");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const rows = r.out.trim().split("\n").slice(2);
    expect(rows).toHaveLength(3);
    for (const [i, row] of rows.entries()) expect(row).toMatch(new RegExp(`^ +${i + 1} +\\S+ +0\\.\\d{4} +the ?\\S+ sat on the mat\\.$`)); // "the ##a": a word piece joins the word before it
  });

  it("bad inputs are clear errors: exit 1, no stack trace, no report file", () => {
    const out = path.join(tmp, "never.json");
    let r = spikelm("classify", "--model", "clasifier-small", "--report", out, "hello");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: unknown model `clasifier-small`; did you mean `classifier-small`\? \(shipped models: decoder-small, /);
    noStack(r.err);
    expect(fs.existsSync(out)).toBe(false);
    r = spikelm("fill-mask", "--model", "mlm-base", "the [MASK] sat");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/`mlm-base` needs a WordPiece vocabulary of 30522 tokens \(BERT's vocab\.txt\): pass --vocab FILE/);
    noStack(r.err);
  });

  it("bad inputs (in-process): empty text, too long, no [MASK], missing vocab file, wrong kind of model, bad report file", async () => {
    expect(await userError(() => classifyCommand(["fine", "  "], {}))).toBe("text 2 is empty");
    expect(await userError(() => classifyCommand([], {}))).toMatch(/no text to classify/);
    expect(await userError(() => classifyCommand(["the cat ".repeat(100)], {}))).toMatch(/^the text is 202 tokens \(with \[CLS\] and \[SEP\]\), longer than the context of `classifier-small` \(128\): shorten it$/);
    expect(await userError(() => fillMaskCommand(["the cat sat"], {}))).toMatch(/the text has no \[MASK\] token to fill/);
    expect(await userError(() => fillMaskCommand(["the [MASK] sat"], { vocab: path.join(tmp, "nope.txt") }))).toMatch(/cannot read the vocab file .*nope\.txt: no such file/);
    expect(await userError(() => fillMaskCommand(["the [MASK] sat"], { model: "classifier-small" }))).toMatch(/`classifier-small` is a classify model and cannot fill-mask; e\.g\. `mlm-small` can/);
    expect(await userError(() => classifyCommand(["hi"], { report: "r.txt" }))).toMatch(/a report file ends in \.json or \.html/);
    expect(await userError(() => classifyCommand(["hi"], { weights: path.join(tmp, "none.safetensors") }))).toMatch(/cannot read weights file .*none\.safetensors/);
    expect(await userError(() => reportCommand({ json: "r.html" }))).toMatch(/--json expects a \.json file/);
    expect(await userError(() => classifyCommand(["hi"], { model: path.join(REPO, "models/spikelm/spikelm_encoder.spk"), arg: ["d=64"] }))).toMatch(/needs a WordPiece vocabulary: pass --vocab/);
  });

  it("a .spk file with --entry and --vocab works like a shipped model (reference-named weights are mapped)", () => {
    const spec = path.join(REPO, "models/spikelm/spikelm_encoder.spk");
    const args = ["--arg", "vocab=625", "--arg", "d=64", "--arg", "heads=4", "--arg", "depth=2", "--arg", "ffn=256", "--arg", "ctx=128"];
    const r = spikelm("classify", "--model", spec, ...args, "--vocab", path.join(REPO, "models/spikelm/vocab-small.txt"), "--weights", path.join(REPO, "models/spikelm/trained-classifier-small.safetensors"), "i loved this movie");
    expect(r.err).toMatch(/^weights: .*trained-classifier-small\.safetensors through the mapping "spikelm-classifier"\n$/);
    const shipped = spikelm("classify", "i loved this movie");
    // Same spec, weights and input: the same probabilities (labels differ: LABEL_i for a spec).
    expect(r.out.split("\n")[2]!.trim().split(/\s+/).slice(-2)).toEqual(shipped.out.split("\n")[2]!.trim().split(/\s+/).slice(-2));
  });
});

describe("spikelm report and run --report", () => {
  it("report alone: the default model on the shipped sample, terminal table plus JSON and HTML", () => {
    const json = path.join(tmp, "r.json");
    const html = path.join(tmp, "r.html");
    const r = spikelm("report", "--json", json, "--html", html);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^spike and energy report: decoder-small \(T = 4, 128 tokens/);
    expect(r.out).toMatch(/\nspike-driven: no — 1 of 17 matmuls have no spike operand/);
    const j = JSON.parse(fs.readFileSync(json, "utf8"));
    expect(Object.keys(j).sort()).toEqual(["costs", "layers", "matmuls", "model", "neurons", "non_spike_matmuls", "timesteps", "tokens", "total"]);
    for (const l of j.layers) for (const k of ["name", "rate_pos", "rate_neg", "acs", "macs", "energy_pj"]) expect(l).toHaveProperty(k);
    expect(j.total.energy_pj).toBeGreaterThan(0);
    expect(j.total.ann_energy_pj).toBeGreaterThan(0);
    expect(fs.readFileSync(html, "utf8")).toMatch(/^<!doctype html>[\s\S]*<svg /);
  });

  it("run --report: the run's summary, then the report of the same spec and inputs", () => {
    const input = path.join(tmp, "x.json");
    fs.writeFileSync(input, JSON.stringify({ x: { shape: [4, 1, 2, 4], data: Array.from({ length: 8 }, () => [1, -1, 0, 0.3]).flat() } }));
    const weights = path.join(tmp, "w.json");
    fs.writeFileSync(weights, JSON.stringify({ "fire.alpha": { shape: [4], data: [1, 1, 1, 1] } }));
    const r = spikelm("run", path.join(REPO, "stdlib/layers.spk"), "--entry", "SpikeLinear", "--arg", "inp=4", "--arg", "out=3", "--input", input, "--weights", weights, "--report");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^SpikeLinear: output f32\[4, 1, 2, 3\]/);
    expect(r.out).toMatch(/\ntotal: 48 ACs \+ 48 MACs = 264\.0 pJ/);
  });
});
