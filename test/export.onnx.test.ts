/**
 * `spikelm export --to onnx` (tools/export/onnx.ts) run in onnxruntime-node against spikelm's
 * reference interpreter on the same input: every neuron's spike levels are identical (the
 * export's `spikes/<path>` outputs), and outputs agree within 1e-5 (absolute, or relative to the
 * output's largest magnitude when that exceeds 1).
 *
 * Why not bit for bit: spikelm sums a matmul sequentially in float32 and ORT's MatMul,
 * Softmax, LayerNormalization and ReduceMean use their own order, and ORT's Erf/Exp/Tanh
 * are approximations. Elementwise + - * / are correctly rounded on both sides, so the membrane
 * and the spike rule agree exactly given the same inputs; spikes could in principle differ
 * where u/alpha lies within an ulp of ±0.5 after a float matmul, and on these inputs none does
 * (the test would show it).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import type { ArgValue } from "../interpreter/compile.js";
import { type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";
import { optimize } from "../interpreter/passes/pass.js";
import { loadModel, encodeTexts } from "../models/tasks.js";
import { prepareSpec } from "../tools/export/common.js";
import { exportOnnx } from "../tools/export/onnx.js";
import { exportCommand } from "../tools/cli/commands/export.js";
import { formatDiagnostics } from "../tools/cli/report-errors.js";
import { SpecError } from "../interpreter/compile.js";
import { seededIds, seededNormal } from "./helpers.js";

const root = path.resolve(__dirname, "..");
const EXAMPLES = path.join(root, "examples");

interface Case {
  file: string;
  entry: string;
  args?: Record<string, ArgValue>;
  inputs: Map<string, Tensor>;
  weights?: ReadonlyMap<string, Tensor>;
}

async function checkCase(c: Case): Promise<{ maxDiff: number; neurons: number; spikes: number }> {
  const p = prepareSpec({ file: c.file, entry: c.entry, args: c.args, inputs: c.inputs, weights: c.weights });
  const ex = exportOnnx({ graph: p.compiled.graph, params: p.params, program: p.compiled.program, spikes: true });
  const session = await ort.InferenceSession.create(ex.bytes);
  const feeds: Record<string, ort.Tensor> = {};
  for (const inp of ex.inputs) {
    const x = c.inputs.get(inp.name)!;
    feeds[inp.name] = new ort.Tensor(x.dtype === "i32" ? "int32" : "float32", x.data, inp.shape);
  }
  const r = await session.run(feeds);
  const ref = p.reference.output;
  const out = r.output!;
  expect(out.dims).toEqual(ref.shape);
  let maxDiff = 0;
  let maxAbs = 0;
  const o = out.data as Float32Array;
  for (let i = 0; i < o.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(o[i]! - ref.data[i]!));
    maxAbs = Math.max(maxAbs, Math.abs(ref.data[i]!));
  }
  expect(maxDiff, `${c.entry}: output differs from spikelm's by ${maxDiff}`).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs));
  let spikes = 0;
  for (const [key, rec] of p.reference.record) {
    const got = r[`spikes/${key}`];
    expect(got, `no spike output for ${key}`).toBeDefined();
    expect(got!.dims).toEqual(rec.levels.shape);
    const a = got!.data as Float32Array;
    let differ = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== rec.levels.data[i]) differ++;
      if (a[i] !== 0) spikes++;
    }
    expect(differ, `${c.entry}: ${differ} of ${a.length} spikes of ${key} differ`).toBe(0);
  }
  expect(Object.keys(r).length).toBe(1 + p.reference.record.size);
  await session.release();
  return { maxDiff, neurons: p.reference.record.size, spikes };
}

describe("ONNX export: onnxruntime agrees with spikelm", () => {
  const x = seededNormal([4, 2, 3, 8], 7);
  for (const neuron of ["LIF", "BiLIF", "ElasticBiSpike", "SpikeLMReference", "BiSpikeQuant"]) {
    it(`examples/neurons.spk ${neuron}`, async () => {
      const r = await checkCase({ file: path.join(EXAMPLES, "neurons.spk"), entry: neuron, inputs: new Map([["x", x]]) });
      expect(r.neurons).toBe(1);
    });
  }

  const tiny = path.join(EXAMPLES, "tiny_spikelm.spk");
  it("examples/tiny_spikelm.spk SpikeLinear, SpikeSelfAttention, SpikeBlock", async () => {
    await checkCase({ file: tiny, entry: "SpikeLinear", args: { inp: 8, out: 5 }, inputs: new Map([["x", seededNormal([4, 2, 3, 8], 1)]]) });
    await checkCase({ file: tiny, entry: "SpikeSelfAttention", args: { d: 16, heads: 2, causal: true }, inputs: new Map([["x", seededNormal([4, 2, 5, 16], 2)]]) });
    const r = await checkCase({ file: tiny, entry: "SpikeBlock", args: { d: 16, heads: 4, ffn: 32 }, inputs: new Map([["x", seededNormal([4, 1, 6, 16], 3)]]) });
    expect(r.neurons).toBe(8);
  });

  it("examples/tiny_spikelm.spk TinySpikeLM and a small SpikeLMClassifier (indexing [:, 0])", async () => {
    await checkCase({ file: tiny, entry: "TinySpikeLM", args: { d: 32, ffn: 64, depth: 1 }, inputs: new Map([["ids", seededIds(2, 9, 256, 5)]]) });
    await checkCase({
      file: tiny,
      entry: "SpikeLMClassifier",
      args: { vocab: 100, d: 32, heads: 4, depth: 1, ffn: 64, ctx: 16 },
      inputs: new Map([["ids", seededIds(2, 7, 100, 9)]]),
    });
  });

  it("models/tiny TinySpikeLM on the shipped prompt", async () => {
    const prompt = JSON.parse(fs.readFileSync(path.join(root, "models/tiny/prompt.json"), "utf8")) as { ids: { shape: number[]; data: number[] } };
    const r = await checkCase({ file: path.join(root, "models/tiny/tiny_spikelm.spk"), entry: "TinySpikeLM", inputs: new Map([["ids", i32(prompt.ids.shape, prompt.ids.data)]]) });
    expect(r.neurons).toBe(16);
    expect(r.spikes).toBeGreaterThan(0);
  });

  it("encoder-small (masked LM and classifier, shipped weights, a padded batch)", async () => {
    for (const name of ["mlm-small", "classifier-small"]) {
      const m = loadModel("any", { model: name });
      const batch = encodeTexts(m, ["the cat sat on the mat.", "a fine film"]);
      const inputs = new Map<string, Tensor>([
        ["ids", batch.ids],
        ["types", batch.types],
        ["mask", batch.mask],
      ]);
      const r = await checkCase({ file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs, weights: m.weights });
      expect(r.neurons).toBe(16);
    }
  });

  it("decoder-small (shipped weights)", async () => {
    const m = loadModel("generate", { model: "decoder-small" });
    const batch = encodeTexts(m, ["The spiking model reads"]);
    const r = await checkCase({ file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs: new Map([["ids", batch.ids]]), weights: m.weights });
    expect(r.neurons).toBe(16);
  });
});

describe("ONNX export: errors", () => {
  it("an op ONNX export does not handle is named with its position (an optimized graph's fused ops)", () => {
    const file = path.join(EXAMPLES, "tiny_spikelm.spk");
    const p = prepareSpec({ file, entry: "SpikeLinear", args: { inp: 8, out: 4 }, inputs: new Map([["x", seededNormal([4, 2, 3, 8], 1)]]) });
    const { graph } = optimize(p.compiled.graph);
    expect(() => exportOnnx({ graph, params: p.params, program: p.compiled.program })).toThrow(/\.spk:\d+:\d+: cannot export the IR op `\w+` to ONNX/);
  });

  const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(root, "tools/cli/main.ts"), ...args], { cwd: root, encoding: "utf8" });

  it("CLI: writes the model (exit 0, one file, a summary)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-onnx-"));
    try {
      const out = path.join(dir, "tiny.onnx");
      const ok = cli(["export", "models/tiny/tiny_spikelm.spk", "--entry", "TinySpikeLM", "--to", "onnx", "-o", out, "--input", "models/tiny/prompt.json"]);
      expect(ok.stderr).toBe("");
      expect(ok.status).toBe(0);
      expect(ok.stdout).toMatch(/ONNX opset 17, \d+ nodes/);
      expect(fs.statSync(out).size).toBeGreaterThan(100_000);
      expect(fs.readdirSync(dir)).toEqual(["tiny.onnx"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("without --input: says why, writes nothing; a spec error: diagnostics with file:line:col, nothing written", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-onnx-"));
    try {
      const out = path.join(dir, "tiny.onnx");
      await expect(exportCommand(path.join(root, "models/tiny/tiny_spikelm.spk"), { entry: "TinySpikeLM", to: "onnx", out })).rejects.toThrow(/needs --input FILE: a calibration input/);
      const spec = path.join(dir, "bad.spk");
      fs.writeFileSync(spec, "layer L(d) {\n  forward(x: [T, d]) -> [T, d] {\n    return y\n  }\n}\n");
      const err = await exportCommand(spec, { entry: "L", arg: ["d=2"], to: "onnx", out: path.join(dir, "bad.onnx"), input: path.join(root, "models/tiny/prompt.json") }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SpecError);
      const lines = formatDiagnostics((err as SpecError).diagnostics, (err as SpecError).program);
      expect(lines.join("\n")).toMatch(/bad\.spk:3:12: error SPK201/);
      expect(fs.readdirSync(dir)).toEqual(["bad.spk"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
