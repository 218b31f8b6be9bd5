/**
 * `spikelm grad` as a user runs it (a child process): the golden SpikeLinear case through
 * the command line, a reference-named checkpoint giving reference-named gradients (with the
 * [PAD] row of the word embeddings left at zero), and a bad probe failing cleanly.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readSafetensors } from "../interpreter/io/safetensors.js";
import { GOLDEN, REPO, nested, readJson } from "./helpers.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-gradcli-"));
const file = (name: string) => path.join(dir, name);

function spikelm(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "tools/cli/main.ts"), ...args], { cwd: REPO, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tensor = (shape: number[], data: number[]) => ({ shape, data });

function relErr(want: readonly number[], got: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  want.forEach((v, i) => ((d = Math.max(d, Math.abs(v - got[i]!))), (s = Math.max(s, Math.abs(v)))));
  return d / s;
}

describe("spikelm grad", () => {
  const g = readJson(path.join(GOLDEN, "caseA_T4_B2_L5_Din16_Dout8_iid_train.json")) as Record<string, any>;
  fs.writeFileSync(file("x.json"), JSON.stringify({ x: tensor([4, 2, 5, 16], nested(g.input)) }));
  fs.writeFileSync(file("w.json"), JSON.stringify({ W: tensor([8, 16], nested(g.weight)), b: tensor([8], nested(g.bias)) }));
  fs.writeFileSync(file("ones.json"), JSON.stringify(tensor([4, 2, 5, 8], new Array(320).fill(1))));
  fs.writeFileSync(file("bad.json"), JSON.stringify(tensor([4, 2, 5, 7], new Array(280).fill(1))));
  const base = ["grad", "stdlib/layers.spk", "--entry", "SpikeLinear", "--arg", "inp=16", "--arg", "out=8", "--weights", file("w.json"), "--input", file("x.json")];

  it("the golden case: output.sum().backward() of the reference code, under the weights file's names", () => {
    const out = file("g.safetensors");
    const r = spikelm(...base, "--probe", file("ones.json"), "--out", out, "--train-amplitudes");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sum\(output \* probe\) = 15\.4890/);
    const t = readSafetensors(out).tensors;
    expect([...t.keys()].sort()).toEqual(["W", "b", "fire.alpha", "x"]);
    expect(relErr(nested(g.grad_weight), t.get("W")!.data)).toBeLessThan(1e-5);
    expect(relErr(nested(g.grad_bias), t.get("b")!.data)).toBeLessThan(1e-5);
    expect(relErr(nested(g.grad_input), t.get("x")!.data)).toBeLessThan(1e-5);
    expect(relErr(nested(g.grad_alpha_if_alpha_requires_grad), t.get("fire.alpha")!.data)).toBeLessThan(1e-5);
    // frozen amplitudes by default: no amplitude gradient in the file
    const out2 = file("g2.json");
    expect(spikelm(...base, "--probe", file("ones.json"), "--out", out2, "--no-opt", "--mode", "step").code).toBe(0);
    expect(Object.keys(readJson(out2)).filter((k) => k !== "__metadata__").sort()).toEqual(["W", "b", "x"]);
  });

  it("a probe of the wrong shape: exit 1, both shapes named, nothing written", () => {
    const out = file("never.safetensors");
    const r = spikelm(...base, "--probe", file("bad.json"), "--out", out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[4, 2, 5, 7]");
    expect(r.stderr).toContain("[4, 2, 5, 8]");
    expect(fs.existsSync(out)).toBe(false);
  });

  it("a reference-named checkpoint gives reference-named gradients; the [PAD] row gets none", () => {
    const weights = path.join(REPO, "models/spikelm/spikelm-small.safetensors");
    const ids = [2, 7, 9, 0, 0, 11, 3, 0];
    fs.writeFileSync(file("enc.json"), JSON.stringify({ ids: { shape: [1, 8], dtype: "i32", data: ids }, types: { shape: [1, 8], dtype: "i32", data: new Array(8).fill(0) }, mask: { shape: [1, 8], dtype: "i32", data: ids.map((v) => (v === 0 ? 0 : 1)) } }));
    fs.writeFileSync(file("probe64.json"), JSON.stringify(tensor([1, 8, 64], Array.from({ length: 512 }, (_, i) => Math.sin(i)))));
    const out = file("enc.safetensors");
    const args = ["vocab=625", "d=64", "heads=4", "depth=2", "ffn=256", "ctx=128"].flatMap((a) => ["--arg", a]);
    const r = spikelm("grad", "models/spikelm/spikelm_encoder.spk", "--entry", "SpikeLMEncoder", ...args, "--weights", weights, "--input", file("enc.json"), "--probe", file("probe64.json"), "--out", out, "--train-amplitudes");
    expect(r.code, r.stderr).toBe(0);
    const names = new Set(readSafetensors(weights).tensors.keys());
    const t = readSafetensors(out).tensors;
    for (const k of t.keys()) expect(names.has(k), `${k} is a name of the checkpoint`).toBe(true);
    expect(t.has("bert.encoder.layer.0.attention.self.query.weight")).toBe(true);
    expect(t.has("bert.encoder.layer.1.output.dense.act_clip_val.3")).toBe(true);
    const word = t.get("bert.embeddings.word_embeddings.weight")!;
    expect(word.shape).toEqual([625, 64]);
    expect(Array.from(word.data.subarray(0, 64)).every((v) => v === 0)).toBe(true);
    expect(Array.from(word.data.subarray(2 * 64, 3 * 64)).some((v) => v !== 0)).toBe(true);
    // position embeddings have no padding id: position 3 (a [PAD] token) still gets its gradient
    const pos = t.get("bert.embeddings.position_embeddings.weight")!;
    expect(Array.from(pos.data.subarray(3 * 64, 4 * 64)).some((v) => v !== 0)).toBe(true);
  });
});
