/**
 * The CLI as a user runs it: a child process, its exit code, stdout and stderr. User
 * mistakes give a clear message with a position or a tensor name, exit 1, no stack trace
 * and no partial output file.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { EXAMPLES, FIXTURES, GOLDEN, REPO, nested } from "./helpers.js";

function spikelm(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "tools/cli/main.ts"), ...args], { cwd: REPO, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-cli-"));
const write = (name: string, obj: unknown) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, JSON.stringify(obj));
  return f;
};

describe("spikelm check", () => {
  it("accepts the examples unchanged", () => {
    const r = spikelm("check", path.join(EXAMPLES, "neurons.spk"), path.join(EXAMPLES, "tiny_spikelm.spk"));
    expect(r.code).toBe(0);
    expect(r.out).toBe("");
  });

  it("prints file:line:col: error CODE: message and exits 1", () => {
    const r = spikelm("check", path.join(FIXTURES, "invalid/unknown_name.spk"));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/unknown_name\.spk:4:13: error SPK201: unknown name `xx`; did you mean `x`\?/);
    expect(r.err).not.toMatch(/at .*\.ts:\d+/);
  });

  it("a missing file is a clear error", () => {
    const r = spikelm("check", "no/such.spk");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot read no\/such\.spk/);
  });
});

describe("spikelm run", () => {
  const g = JSON.parse(fs.readFileSync(path.join(GOLDEN, "caseA_T4_B2_L5_Din16_Dout8_iid_eval.json"), "utf8"));
  const tensor = (x: unknown) => ({ shape: shapeOf(x), data: nested(x) });
  const weights = write("w.json", { W: tensor(g.weight), b: tensor(g.bias), "fire.alpha": { shape: [4], data: g.alpha_init } });
  const input = write("x.json", { x: tensor(g.input) });

  it("runs the golden layer and writes output and recorded spikes", () => {
    const out = path.join(tmp, "out.json");
    const r = spikelm("run", path.join(EXAMPLES, "tiny_spikelm.spk"), "--entry", "SpikeLinear", "--arg", "inp=16", "--arg", "out=8", "--weights", weights, "--input", input, "--out", out, "--record", "--mode", "step");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const res = JSON.parse(fs.readFileSync(out, "utf8"));
    expect(res.output.shape).toEqual([4, 2, 5, 8]);
    expect(res.record.fire.spikes.shape).toEqual([4, 2, 5, 16]);
    expect(res.record.fire.spikes.data).toEqual(nested(g.spikes_s).map((v: number) => v + 0));
    const want = nested(g.output);
    want.forEach((v: number, i: number) => expect(Math.abs(v - res.output.data[i])).toBeLessThan(1e-5));
  });

  it("a weight of the wrong shape names the path and both shapes; no output file", () => {
    const bad = write("bad.json", { W: { shape: [16, 8], data: new Array(128).fill(0) } });
    const out = path.join(tmp, "never.json");
    const r = spikelm("run", path.join(EXAMPLES, "tiny_spikelm.spk"), "--entry", "SpikeLinear", "--arg", "inp=16", "--arg", "out=8", "--weights", bad, "--input", input, "--out", out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/"W" has shape \[16, 8\] but the spec declares \[8, 16\]/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(out)).toBe(false);
  });

  it("unknown weights, entries, arguments and inputs are clear errors", () => {
    const extra = write("extra.json", { Wx: { shape: [1], data: [0] } });
    const base = [path.join(EXAMPLES, "tiny_spikelm.spk"), "--arg", "inp=16", "--arg", "out=8", "--input", input];
    let r = spikelm("run", ...base, "--entry", "SpikeLinear", "--weights", extra);
    expect(r.err).toMatch(/extra\.json: the tensor names fit no weight naming of `SpikeLinear`; closest: spec paths \(0 of 1 names known\)\n  unknown to spec paths \(1\): "Wx" \(did you mean "W"\?\)/);
    r = spikelm("run", ...base, "--entry", "SpikeLinearr");
    expect(r.err).toMatch(/no neuron, layer or model named `SpikeLinearr`; did you mean `SpikeLinear`\?/);
    r = spikelm("run", ...base, "--entry", "SpikeLinear", "--arg", "inpt=3");
    expect(r.err).toMatch(/no parameter `inpt`; did you mean `inp`\?/);
    r = spikelm("run", path.join(EXAMPLES, "tiny_spikelm.spk"), "--entry", "SpikeLinear", "--arg", "inp=32", "--arg", "out=8", "--input", input);
    expect(r.err).toMatch(/input `x` of `SpikeLinear` expects \[T, 2, 5, 32\], found f32\[T, 2, 5, 16\]/);
    expect(r.code).toBe(1);
  });

  it("a reference-named checkpoint on the encoder spec: the mapping is named on stderr; --record PATH writes layer outputs", () => {
    const out = path.join(tmp, "enc.json");
    const ids = write("ids.json", { ids: { shape: [1, 4], dtype: "i32", data: [2, 110, 607, 3] }, types: { shape: [1, 4], dtype: "i32", data: [0, 0, 0, 0] }, mask: { shape: [1, 4], dtype: "i32", data: [1, 1, 1, 1] } });
    const args = ["vocab=625", "d=64", "heads=4", "depth=2", "ffn=256", "ctx=128"].flatMap((a) => ["--arg", a]);
    const r = spikelm("run", path.join(REPO, "models/spikelm/spikelm_encoder.spk"), "--entry", "SpikeLMEncoder", ...args, "--weights", path.join(REPO, "models/spikelm/spikelm-small.safetensors"), "--input", ids, "--record", "blocks.*", "--record", "embeddings", "--out", out);
    expect(r.err).toBe(`weights: ${path.join(REPO, "models/spikelm/spikelm-small.safetensors")} through the mapping "spikelm-encoder"\n`);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\nrecorded layer outputs:\n  record\.embeddings\.output f32\[1, 4, 64\]\n  record\.blocks\.0\.output f32\[4, 1, 4, 64\]\n/);
    const j = JSON.parse(fs.readFileSync(out, "utf8"));
    expect(Object.keys(j.record)).toEqual(["embeddings", "blocks.0", "blocks.1"]);
    const bad = spikelm("encode", "--record", "blocks.7", "the cat", "--out", path.join(tmp, "never.json"));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^error: --record blocks\.7: no layer or neuron has this path; did you mean `blocks\.0`\?/);
    expect(fs.existsSync(path.join(tmp, "never.json"))).toBe(false);
  });

  it("a spec with errors prints its diagnostics with positions", () => {
    const r = spikelm("run", path.join(FIXTURES, "invalid/matmul_inner.spk"), "--entry", "L1", "--arg", "inp=2", "--arg", "out=3");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/matmul_inner\.spk:4:12: error SPK302/);
  });
});

describe("npm start", () => {
  it("generates with the spike cache, checks every path agrees, and reports energy", () => {
    const r = spikelm("start");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/tokens identical/);
    expect(r.out).toMatch(/multi-step and step-by-step: outputs and spikes identical/);
    expect(r.out).toMatch(/total: .* ACs \+ .* MACs = .*J; as a dense ANN/);
  }, 180_000); // a whole child process: two generations, four forwards and a report; slow on a loaded 2-core CI machine
});

describe("spikelm generate", () => {
  it("streams a deterministic continuation of the prompt for a seed, with cache statistics", () => {
    const a = spikelm("generate", "--prompt", "Hello", "-n", "12", "--seed", "4");
    const b = spikelm("generate", "--prompt", "Hello", "-n", "12", "--seed", "4", "--no-cache");
    const c = spikelm("generate", "--prompt", "Hello", "-n", "12", "--seed", "4", "--no-opt");
    expect(a.code).toBe(0);
    expect(a.out.startsWith("Hello")).toBe(true);
    expect(a.out).toBe(b.out);
    expect(c.out).toBe(a.out); // the reference interpreter
    expect(a.err).toMatch(/decoder-small-bpe: 12 tokens .* key\/value cache 1024 bytes\/token as spikes \(int8 levels\) vs 4096 as float32/);
  });

  it("rejects an unknown model, an empty prompt and a prompt longer than the context", () => {
    let r = spikelm("generate", "--model", "gpt-7", "--prompt", "x");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/gpt-7/);
    r = spikelm("generate", "--prompt", "");
    expect(r.err).toMatch(/the prompt is empty/);
    r = spikelm("generate", "--prompt", "y".repeat(300));
    expect(r.err).toMatch(/context of 128/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});

function shapeOf(x: unknown): number[] {
  const s: number[] = [];
  for (let c = x; Array.isArray(c); c = c[0]) s.push(c.length);
  return s;
}

describe("output paths", () => {
  it("are checked before any work starts, for every command and output option", () => {
    const missing = path.join(tmp, "no-such-dir");
    const cases: string[][] = [
      ["generate", "--prompt", "Hello", "-n", "2000", "--report", path.join(missing, "r.html")],
      ["report", "--json", path.join(missing, "r.json")],
      ["report", "--html", tmp], // a folder, not a file
      ["run", path.join(EXAMPLES, "tiny_spikelm.spk"), "--entry", "SpikeLinear", "--arg", "inp=16", "--arg", "out=8", "--out", path.join(missing, "o.json")],
      ["classify", "good movie", "--report", path.join(missing, "r.json")],
    ];
    for (const args of cases) {
      const t0 = performance.now();
      const r = spikelm(...args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.err).toMatch(/^error: --(report|json|html|out) .*: cannot write there: /);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect(r.out).toBe("");
      // `-n 2000` would take far longer than this if the run started.
      expect(performance.now() - t0).toBeLessThan(15_000);
    }
    expect(fs.existsSync(missing)).toBe(false);
  });
});
