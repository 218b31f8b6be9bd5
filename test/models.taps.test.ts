/**
 * Taps (`--record PATH`): any layer's output by instance path, recorded identically by the
 * reference interpreter and the optimized executor in multi-step and step mode (the passes
 * keep tapped nodes alive and unfused); `spikelm run --record` and `spikelm encode` write
 * them as `record.<path>`; the encode output equals run's; the energy report names layers by
 * the same paths.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";
import { initSpikeKernels } from "../interpreter/engine/kernels/spike-matmul.js";
import { UserError } from "../interpreter/io/errors.js";
import { readSafetensors } from "../interpreter/io/safetensors.js";
import { optimize } from "../interpreter/passes/pass.js";
import { TOP_SCOPE } from "../interpreter/report/counts.js";
import { runWithReport } from "../interpreter/report/run.js";
import { runSpec } from "../interpreter/run.js";
import { pathMatches, selectTaps } from "../interpreter/taps.js";
import { loadWeightsFor } from "../models/load-weights.js";
import { MODELS, SMALL_ENCODER_ARGS, SMALL_ENCODER_WEIGHTS } from "../models/registry.js";
import { encodeCommand } from "../tools/cli/commands/encode.js";
import { runCommand } from "../tools/cli/commands/run.js";
import { OptimizedExecutor } from "../interpreter/optimized/executor.js";
import { ReferenceInterpreter } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { validateGraph } from "../interpreter/ir/validate.js";
import { specArb } from "./generators/spec-gen.js";
import { REPO, readJson, sameBits } from "./helpers.js";

await initSpikeKernels();

const SPEC = path.join(REPO, "models/spikelm/spikelm_encoder.spk");
const ARGS = Object.entries(SMALL_ENCODER_ARGS).map(([k, v]) => `${k}=${v}`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-taps-"));
const file = (name: string) => path.join(tmp, name);

const ids = i32([2, 7], [2, 110, 607, 608, 122, 609, 3, 2, 40, 423, 3, 0, 0, 0]);
const mask = i32([2, 7], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
const inputs = new Map<string, Tensor>([
  ["ids", ids],
  ["types", i32([2, 7])],
  ["mask", mask],
]);
const inputFile = file("ids.json");
fs.writeFileSync(inputFile, JSON.stringify(Object.fromEntries([...inputs].map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype, data: Array.from(t.data) }]))));
const weights = loadWeightsFor(compileEntry({ file: SPEC, entry: "SpikeLMEncoder", args: SMALL_ENCODER_ARGS, inputs }), SMALL_ENCODER_WEIGHTS).weights;

const TAPS = ["embeddings", "blocks.*", "blocks", "blocks.0.attn", "blocks.1.up", "blocks.1.up.fire"];

/** Runs a command in-process with stdout and stderr swallowed. */
async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const a = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  const b = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    return await f();
  } finally {
    a.mockRestore();
    b.mockRestore();
  }
}

describe("tap paths", () => {
  it("`*` matches inside one segment, `**` across segments; patterns match whole paths", () => {
    expect(pathMatches("blocks.*", "blocks.3")).toBe(true);
    expect(pathMatches("blocks.*", "blocks.3.attn")).toBe(false);
    expect(pathMatches("blocks.*", "blocks")).toBe(false);
    expect(pathMatches("blocks.*.attn", "blocks.11.attn")).toBe(true);
    expect(pathMatches("blocks.**.fire", "blocks.0.attn.q.fire")).toBe(true);
    expect(pathMatches("blocks.**.fire", "blocks.0.up.fire")).toBe(true);
    expect(pathMatches("**", "embeddings.word")).toBe(true);
    expect(pathMatches("blocks.1*", "blocks.10")).toBe(true);
    expect(pathMatches("blocks.1", "blocks.10")).toBe(false);
    expect(pathMatches("embeddings", "embeddings.norm")).toBe(false);
  });

  it("a pattern matching nothing is a UserError with the closest path", () => {
    const layers = [
      { path: "embeddings", node: 1 },
      { path: "blocks.0", node: 2 },
      { path: "blocks", node: 3 },
    ];
    expect(() => selectTaps(["blocks.7"], layers, ["blocks.0.up.fire"])).toThrow(UserError);
    expect(() => selectTaps(["embedings"], layers, [])).toThrow(/--record embedings: no layer or neuron has this path; did you mean `embeddings`\?/);
    expect(selectTaps(["blocks*", "embeddings"], layers, []).layers.map((l) => l.path)).toEqual(["embeddings", "blocks.0", "blocks"].filter((p) => p !== "blocks.0"));
  });

  it("the compiled encoder knows every layer call's output and every neuron, by the paths its parameters use", () => {
    const c = compileEntry({ file: SPEC, entry: "SpikeLMEncoder", args: SMALL_ENCODER_ARGS, inputs });
    const layers = c.layerOutputs.map((l) => l.path);
    for (const p of ["embeddings", "embeddings.word", "embeddings.norm", "blocks.0.attn.q", "blocks.0.attn", "blocks.0.proj", "blocks.0.norm2", "blocks.0", "blocks.1", "blocks"]) expect(layers).toContain(p);
    expect(c.neuronPaths).toContain("blocks.1.attn.kfire");
    // Every parameter's owner is a tappable layer.
    for (const p of c.graph.params) expect(layers, p.path).toContain(p.path.split(".").slice(0, p.path.endsWith(".alpha") ? -2 : -1).join("."));
  });
});

describe("both interpreters, both modes: the same taps, bit for bit", () => {
  const runs = [false, true].flatMap((opt) => (["multi", "step"] as const).map((mode) => ({ opt, mode, r: runSpec({ file: SPEC, entry: "SpikeLMEncoder", args: SMALL_ENCODER_ARGS, inputs, weights, taps: TAPS, optimize: opt, mode }) })));
  const ref = runs[0]!.r;

  it("taps, selected spikes and outputs agree", () => {
    expect([...ref.taps.keys()]).toEqual(["embeddings", "blocks.0.attn", "blocks.0", "blocks.1.up", "blocks.1", "blocks"]);
    expect([...ref.record.keys()]).toEqual(["blocks.1.up.fire"]);
    expect(ref.taps.get("embeddings")!.shape).toEqual([2, 7, 64]);
    expect(ref.taps.get("blocks.1.up")!.shape).toEqual([4, 2, 7, 256]);
    for (const { opt, mode, r } of runs.slice(1)) {
      expect([...r.taps.keys()], `${opt} ${mode}`).toEqual([...ref.taps.keys()]);
      for (const [k, t] of ref.taps) expect(sameBits(r.taps.get(k)!, t), `${k} (optimized ${opt}, ${mode})`).toBe(true);
      expect(sameBits(r.record.get("blocks.1.up.fire")!.levels, ref.record.get("blocks.1.up.fire")!.levels)).toBe(true);
      expect(sameBits(r.output, ref.output)).toBe(true);
    }
  });

  it("taps do not change the output; `blocks` is its last layer's output, and the output its mean over T", () => {
    const plain = runSpec({ file: SPEC, entry: "SpikeLMEncoder", args: SMALL_ENCODER_ARGS, inputs, weights });
    expect(sameBits(plain.output, ref.output)).toBe(true);
    expect(plain.taps.size).toBe(0);
    expect(sameBits(ref.taps.get("blocks")!, ref.taps.get("blocks.1")!)).toBe(true);
    const b = ref.taps.get("blocks")!;
    const n = b.data.length / 4;
    const mean = new Float32Array(n);
    for (let t = 0; t < 4; t++) for (let i = 0; i < n; i++) mean[i] = Math.fround(mean[i]! + b.data[t * n + i]!);
    for (let i = 0; i < n; i++) mean[i] = Math.fround(mean[i]! / 4);
    expect(sameBits(f32(ref.output.shape, mean), ref.output)).toBe(true);
  });

  it("the optimized graph keeps every tapped node", () => {
    const c = compileEntry({ file: SPEC, entry: "SpikeLMEncoder", args: SMALL_ENCODER_ARGS, inputs, taps: ["**"] });
    const g = optimize(c.graph).graph;
    expect(g.taps!.length).toBe(c.layerOutputs.length);
    const ids = new Set(g.nodes.map((n) => n.id));
    for (const t of g.taps!) expect(ids.has(t.node), t.path).toBe(true);
  });
});

describe("taps inside fused chains and repeated calls", () => {
  const spec = file("chain.spk");
  fs.writeFileSync(
    spec,
    `import "std/layers"

layer Scale(d) {
  weight g: [d] = ones
  forward(x: [..., d]) -> [..., d] {
    return x * g + 0.5
  }
}

model Chain(d = 8) {
  timesteps T = 3
  a = Scale(d)
  b = Scale(d)
  lin = SpikeLinear(d, d)
  forward(x: [T, B, L, d]) -> [T, B, L, d] {
    return lin(lin(b(a(x)) * 2.0)) - 1.0
  }
}
`,
  );
  const x = f32([3, 1, 2, 8], Array.from({ length: 48 }, (_, i) => Math.sin(i * 1.7) * 2));
  const w = new Map<string, Tensor>([
    ["a.g", f32([8], Array.from({ length: 8 }, (_, i) => 0.5 + i / 8))],
    ["b.g", f32([8], Array.from({ length: 8 }, (_, i) => 1.5 - i / 10))],
  ]);

  it("a layer whose output is inside a fused elementwise chain, and one called twice (`lin`, `lin#2`)", () => {
    const runs = [false, true].flatMap((opt) => (["multi", "step"] as const).map((mode) => runSpec({ file: spec, entry: "Chain", inputs: new Map([["x", x]]), weights: w, taps: ["a", "b", "lin"], optimize: opt, mode })));
    const ref = runs[0]!;
    expect([...ref.taps.keys()]).toEqual(["a", "b", "lin", "lin#2"]);
    // a(x) = x * g + 0.5, computed in float32.
    const g = w.get("a.g")!.data;
    expect(Array.from(ref.taps.get("a")!.data)).toEqual(Array.from(x.data, (v, i) => Math.fround(Math.fround(v * g[i % 8]!) + 0.5)));
    for (const r of runs.slice(1)) {
      for (const [k, t] of ref.taps) expect(sameBits(r.taps.get(k)!, t), k).toBe(true);
      expect(sameBits(r.output, ref.output)).toBe(true);
    }
    const fusedWithout = optimize(compileEntry({ file: spec, entry: "Chain", inputs: new Map([["x", x]]) }).graph).graph;
    const fusedWith = optimize(compileEntry({ file: spec, entry: "Chain", inputs: new Map([["x", x]]), taps: ["a"] }).graph).graph;
    // Without the tap, a's output lives only inside a fused loop; with it, it is materialised.
    const aNode = fusedWith.taps![0]!.node;
    expect(fusedWith.nodes.some((n) => n.id === aNode)).toBe(true);
    expect(fusedWithout.nodes.some((n) => n.id === aNode)).toBe(false);
  });
});

describe("generated specs: every layer tapped (`**`)", () => {
  it("the optimized executor's taps equal the reference's in both modes; the passes keep the IR valid", () => {
    let n = 0;
    fc.assert(
      fc.property(specArb, fc.integer({ min: 0, max: 1000 }), (g, seed) => {
        const spec = file(`gen${n++}.spk`);
        fs.writeFileSync(spec, g.text);
        const c = compileEntry({ file: spec, entry: g.entry, inputs: g.inputs, taps: c0Taps(spec, g) });
        const optimized = optimize(c.graph).graph;
        expect(validateGraph(optimized)).toEqual([]);
        for (const mode of ["multi", "step"] as const) {
          const ref = new ReferenceInterpreter(c.graph, ParamStore.create(c.graph.params, g.weights, { seed })).run(g.inputs, { mode });
          const opt = new OptimizedExecutor(optimized, ParamStore.create(c.graph.params, g.weights, { seed })).run(g.inputs, { mode });
          expect([...opt.taps!.keys()]).toEqual([...ref.taps!.keys()]);
          // As the optimizer's own property: Object.is per value (NaN payloads may differ).
          for (const [k, t] of ref.taps!) expect(sameValues(opt.taps!.get(k)!, t), `${k} (${mode})`).toBe(true);
          expect(sameValues(opt.output, ref.output)).toBe(true);
        }
      }),
      { numRuns: 25, seed: 10 },
    );
  });
});

function sameValues(a: Tensor, b: Tensor): boolean {
  return a.shape.join() === b.shape.join() && a.data.length === b.data.length && Array.from(a.data).every((v, i) => Object.is(v, b.data[i]));
}

/** `**` when the spec has layers to tap (a bare neuron entry has none). */
function c0Taps(spec: string, g: { entry: string; inputs: ReadonlyMap<string, Tensor> }): string[] {
  return compileEntry({ file: spec, entry: g.entry, inputs: g.inputs }).layerOutputs.length > 0 ? ["**"] : [];
}

describe("spikelm run --record PATH and spikelm encode", () => {
  it("run writes record.<path>.output next to the neuron spikes; safetensors holds the same tensors flat", async () => {
    const out = file("run.json");
    const st = file("run.safetensors");
    const opts = { entry: "SpikeLMEncoder", arg: ARGS, weights: SMALL_ENCODER_WEIGHTS, input: inputFile, record: ["blocks.*", "blocks.0.attn.q.fire"] };
    await quietly(() => runCommand(SPEC, { ...opts, out }));
    await quietly(() => runCommand(SPEC, { ...opts, out: st, mode: "step", opt: false }));
    const j = readJson(out) as { output: { shape: number[]; data: number[] }; record: Record<string, { output?: { shape: number[]; data: number[] }; spikes?: { shape: number[] } }> };
    expect(Object.keys(j.record)).toEqual(["blocks.0.attn.q.fire", "blocks.0", "blocks.1"]);
    expect(j.record["blocks.0"]!.output!.shape).toEqual([4, 2, 7, 64]);
    expect(j.record["blocks.0.attn.q.fire"]!.spikes!.shape).toEqual([4, 2, 7, 64]);
    const s = readSafetensors(st).tensors;
    expect([...s.keys()].sort()).toEqual(["output", "record.blocks.0.attn.q.fire.spikes", "record.blocks.0.output", "record.blocks.1.output"]);
    // JSON holds the shortest decimal that rounds back to each float32.
    expect(Array.from(s.get("record.blocks.1.output")!.data)).toEqual(j.record["blocks.1"]!.output!.data.map(Math.fround));
    expect(Array.from(s.get("output")!.data)).toEqual(j.output.data.map(Math.fround));
    // Bare --record next to paths: every neuron's spikes as well.
    const all = file("all.json");
    await quietly(() => runCommand(SPEC, { ...opts, record: ["\u0000all", "blocks.1"], out: all }));
    expect(Object.keys((readJson(all) as { record: object }).record).length).toBe(16 + 1);
  });

  it("encode --input: the hidden states and taps equal run's, in JSON and safetensors", async () => {
    const run = file("enc-run.json");
    // encode runs the shipped encoder-small: run the same spec on that model's own weights file.
    const shipped = MODELS.find((m) => m.name === "encoder-small")!.weights!;
    await quietly(() => runCommand(SPEC, { entry: "SpikeLMEncoder", arg: ARGS, weights: shipped, input: inputFile, record: ["blocks.*", "embeddings"], out: run }));
    const enc = file("enc.json");
    const encSt = file("enc.safetensors");
    await quietly(() => encodeCommand([], { input: inputFile, record: ["blocks.*", "embeddings"], out: enc }));
    await quietly(() => encodeCommand([], { input: inputFile, record: ["blocks.*", "embeddings"], out: encSt, mode: "step" }));
    const r = readJson(run) as { output: { shape: number[]; data: number[] }; record: Record<string, { output: { shape: number[]; data: number[] } }> };
    const e = readJson(enc) as typeof r & { ids: { data: number[] }; mask: { data: number[] } };
    expect(e.output.shape).toEqual([2, 7, 64]);
    expect(e.output).toEqual(r.output);
    expect(e.record).toEqual(r.record);
    expect(e.ids.data).toEqual(Array.from(ids.data));
    expect(e.mask.data).toEqual(Array.from(mask.data));
    const s = readSafetensors(encSt).tensors;
    expect(Array.from(s.get("output")!.data)).toEqual(r.output.data.map(Math.fround));
    expect(s.get("record.blocks.1.output")!.shape).toEqual([4, 2, 7, 64]);
    expect(Array.from(s.get("record.blocks.1.output")!.data)).toEqual(r.record["blocks.1"]!.output.data.map(Math.fround));
    expect(s.get("ids")!.dtype).toBe("i32");
  });

  it("encode TEXT: tokenized with [CLS]/[SEP] and padding; bad input files and options are UserErrors", async () => {
    const out = file("texts.json");
    await quietly(() => encodeCommand(["the cat sat", "a much longer sentence about the cat"], { out }));
    const j = readJson(out) as { output: { shape: number[] }; mask: { shape: number[]; data: number[] } };
    expect(j.output.shape[0]).toBe(2);
    expect(j.output.shape[2]).toBe(64);
    expect(j.mask.data.slice(0, j.mask.shape[1]).includes(0)).toBe(true);
    const bad = file("bad-ids.json");
    fs.writeFileSync(bad, JSON.stringify({ ids: { shape: [1, 3], data: [1, 2.5, 3] } }));
    await expect(encodeCommand([], { input: bad })).rejects.toThrow(/`ids`\[1\] = 2\.5 is not a whole number/);
    fs.writeFileSync(bad, JSON.stringify({ ids: { shape: [1, 3], data: [1, 2, 3] }, mask: { shape: [1, 2], data: [1, 1] } }));
    await expect(encodeCommand([], { input: bad })).rejects.toThrow(/`mask` has shape \[1, 2\] but `ids` is \[1, 3\]/);
    await expect(encodeCommand(["x"], { input: inputFile })).rejects.toThrow(/not both/);
    await expect(encodeCommand(["x"], { out: file("x.txt") })).rejects.toThrow(/expected a \.json or \.safetensors file/);
    await expect(encodeCommand(["x"], { model: "mlm-small" })).rejects.toThrow(/is a fill-mask model and cannot encode/);
    await expect(quietly(() => encodeCommand(["the cat"], { record: ["blocks.9"] }))).rejects.toThrow(/--record blocks\.9: no layer or neuron has this path/);
  });
});

describe("the energy report names layers by tap paths", () => {
  it("every layer of the encoder's report is a path --record accepts", () => {
    const r = runWithReport({ file: SPEC, entry: "SpikeLMEncoder", args: SMALL_ENCODER_ARGS, inputs, weights });
    const paths = new Set([...r.compiled.layerOutputs.map((l) => l.path), ...r.compiled.neuronPaths]);
    const names = r.report.layers.map((l) => l.name).filter((n) => n !== TOP_SCOPE && !n.startsWith("("));
    expect(names.length).toBeGreaterThan(10);
    for (const n of names) expect(paths, n).toContain(n);
    for (const n of r.report.neurons) expect(paths, n.path).toContain(n.path);
  });
});

describe("the language server's hover shows the same paths", () => {
  it("a model's field: its --record path (each copy of a repeat); a layer's field: its path relative to the instance", async () => {
    const { inProcessClient } = await import("./lsp.client.js");
    const { pathToFileURL } = await import("node:url");
    const text = fs.readFileSync(SPEC, "utf8");
    const client = inProcessClient();
    try {
      await client.initialize(path.dirname(SPEC));
      const uri = pathToFileURL(SPEC).href;
      await client.open(uri, text);
      const hoverAt = async (needle: string, from = 0) => {
        const offset = text.indexOf(needle, from);
        const before = text.slice(0, offset);
        const position = { line: before.split("\n").length - 1, character: offset - before.lastIndexOf("\n") - 1 };
        const h = await client.request<{ contents: { value: string } } | null>("textDocument/hover", { textDocument: { uri }, position });
        return h?.contents.value ?? "";
      };
      const model = text.indexOf("model SpikeLMEncoder");
      expect(await hoverAt("blocks = repeat", model)).toContain("**path:** `blocks.{i}`: `--record blocks.*` records each copy's output, `--record blocks` the last copy's");
      expect(await hoverAt("embeddings = ", model)).toContain("**path:** `embeddings`: `--record embeddings` records its output");
      expect(await hoverAt("kfire = ")).toContain("**path:** `<instance>.kfire` (relative to an instance of `MaskedSpikeSelfAttention`)");
    } finally {
      await client.close();
    }
  });
});
