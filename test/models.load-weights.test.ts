/**
 * The one weights loading path (models/load-weights.ts) as `spikelm run` uses it on
 * models/spikelm/spikelm_encoder.spk: a checkpoint in the reference naming (with and without
 * the `bert.` prefix, written here through the mapping's export) runs exactly like the same
 * weights by spec path; amplitudes that are absent or exactly 1.0 are calibrated on the first
 * call (kept with --keep-amplitudes); a file that fits no naming gets a short error naming the
 * closest mapping and the first unknown names.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import { saveWeightsFile } from "../interpreter/io/weights.js";
import { runSpec } from "../interpreter/run.js";
import { SPEC_PATHS, loadWeightsFor, weightsFromTensors } from "../models/load-weights.js";
import { SMALL_ENCODER_ARGS, SMALL_ENCODER_WEIGHTS } from "../models/registry.js";
import { ENCODER_MAPPING, MAPPINGS } from "../models/spikelm/mapping.js";
import { exportWeights, withoutPrefix } from "../models/weights-mapping.js";
import { runCommand } from "../tools/cli/commands/run.js";
import { REPO, readJson } from "./helpers.js";

const SPEC = path.join(REPO, "models/spikelm/spikelm_encoder.spk");
const ENTRY = "SpikeLMEncoder";
const ARGS = Object.entries(SMALL_ENCODER_ARGS).map(([k, v]) => `${k}=${v}`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-load-weights-"));
const file = (name: string) => path.join(tmp, name);

// Two sequences, the second padded: calibration sees the padding too, as the reference does.
const ids = i32([2, 6], [2, 110, 607, 608, 122, 3, 2, 40, 423, 3, 0, 0]);
const mask = i32([2, 6], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
const inputs = new Map<string, Tensor>([
  ["ids", ids],
  ["types", i32([2, 6])],
  ["mask", mask],
]);
const inputFile = file("in.json");
fs.writeFileSync(inputFile, JSON.stringify(Object.fromEntries([...inputs].map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype, data: Array.from(t.data) }]))));

const compiled = compileEntry({ file: SPEC, entry: ENTRY, args: SMALL_ENCODER_ARGS, inputs });
const params = compiled.graph.params;
/** The shipped weights by spec path (the shipped file is in the reference naming). */
const project = loadWeightsFor(compiled, SMALL_ENCODER_WEIGHTS).weights;
const isAmplitude = (k: string) => params.some((p) => p.path === k && p.kind === "amplitude");

const reference = exportWeights(project, ENCODER_MAPPING, params, { buffers: new Map([["bert.embeddings.position_ids", i32([1, 128], Array.from({ length: 128 }, (_, i) => i))]]) });
const bare = exportWeights(project, withoutPrefix(ENCODER_MAPPING, "bert."), params);
const allOnes = new Map([...reference].map(([k, t]) => [k, /(act_clip_val|clip_key|clip_value)\.\d+$/.test(k) ? f32([], [1]) : t]));
const noAmplitudes = new Map([...reference].filter(([k]) => !/(act_clip_val|clip_key|clip_value)\.\d+$/.test(k)));

beforeAll(() => {
  saveWeightsFile(file("project.safetensors"), project);
  saveWeightsFile(file("reference.safetensors"), reference);
  saveWeightsFile(file("bare.safetensors"), bare);
  saveWeightsFile(file("ones.safetensors"), allOnes);
  saveWeightsFile(file("no-amplitudes.safetensors"), noAmplitudes);
  saveWeightsFile(file("project-no-amplitudes.safetensors"), new Map([...project].filter(([k]) => !isAmplitude(k))));
  saveWeightsFile(file("project-ones.safetensors"), new Map([...project].map(([k, t]) => [k, isAmplitude(k) ? f32(t.shape, new Float32Array(t.data.length).fill(1)) : t])));
});
afterAll(() => vi.restoreAllMocks());

/** `spikelm run` in-process: its stderr and the --out file's output data. */
async function run(weights: string, extra: Record<string, unknown> = {}): Promise<{ err: string; output: number[]; out: Record<string, unknown> }> {
  const out = file(`out-${path.basename(weights)}-${Object.keys(extra).join("-")}.json`);
  const err: string[] = [];
  const spyErr = vi.spyOn(process.stderr, "write").mockImplementation((s) => (err.push(String(s)), true));
  const spyOut = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    expect(await runCommand(SPEC, { entry: ENTRY, arg: ARGS, weights, input: inputFile, out, ...extra })).toBe(0);
  } finally {
    spyErr.mockRestore();
    spyOut.mockRestore();
  }
  const j = readJson(out);
  return { err: err.join(""), output: (j.output as { data: number[] }).data, out: j };
}

describe("one loading path: the naming is read off the tensor names", () => {
  it("spec paths, reference names with and without `bert.`: the mapping applied is named, the tensors are the same", () => {
    const byPath = loadWeightsFor(compiled, file("project.safetensors"));
    const ref = loadWeightsFor(compiled, file("reference.safetensors"));
    const noPrefix = loadWeightsFor(compiled, file("bare.safetensors"));
    expect(byPath.mappingApplied).toBe(SPEC_PATHS);
    expect(ref.mappingApplied).toBe("spikelm-encoder");
    expect(noPrefix.mappingApplied).toBe('spikelm-encoder without the "bert." prefix');
    expect(bare.has("encoder.layer.1.attention.self.clip_key.3")).toBe(true);
    for (const w of [ref.weights, noPrefix.weights]) {
      expect(new Set(w.keys())).toEqual(new Set(byPath.weights.keys()));
      for (const [k, t] of byPath.weights) expect(Array.from(w.get(k)!.data), k).toEqual(Array.from(t.data));
    }
    expect(ref.summary).toBe(`weights: ${file("reference.safetensors")} through the mapping "spikelm-encoder"`);
  });

  it("`run` on the encoder spec: identical outputs from the three files; the mapping is said in one stderr line", async () => {
    const a = await run(file("project.safetensors"));
    const b = await run(file("reference.safetensors"));
    const c = await run(file("bare.safetensors"));
    expect(a.err).toBe("");
    expect(b.err).toBe(`weights: ${file("reference.safetensors")} through the mapping "spikelm-encoder"\n`);
    expect(c.err).toMatch(/^weights: .*bare\.safetensors through the mapping "spikelm-encoder without the "bert\." prefix"\n$/);
    expect(b.output).toEqual(a.output);
    expect(c.output).toEqual(a.output);
    expect(a.output.length).toBe(2 * 6 * 64);
  });

  it("a checkpoint with a pretraining head (cls.*) and the pooler loads into the bare encoder (declared ignored)", () => {
    const withHeads = new Map(reference);
    withHeads.set("cls.predictions.bias", f32([625]));
    withHeads.set("bert.pooler.dense.weight", f32([64, 64]));
    const r = weightsFromTensors(compiled, withHeads, "ckpt.safetensors");
    expect(r.mappingApplied).toBe("spikelm-encoder");
  });
});

describe("amplitudes", () => {
  it("all exactly 1.0 in a reference-named file: not yet calibrated, so calibrated on the first call, like absent ones", async () => {
    const ones = loadWeightsFor(compiled, file("ones.safetensors"));
    expect(ones.uncalibratedOnes).toHaveLength(16); // 2 layers × (6 linears + kfire + vfire)
    expect(ones.calibrateOnFirstCall).toEqual(ones.uncalibratedOnes);
    expect([...ones.weights.keys()].some(isAmplitude)).toBe(false);
    expect(ones.summary).toMatch(/16 of 16 amplitudes were exactly 1\.0 \(the reference's "not yet calibrated"\): calibrated on the first call \(--keep-amplitudes keeps them\)/);
    const absent = loadWeightsFor(compiled, file("no-amplitudes.safetensors"));
    expect(absent.calibrateOnFirstCall).toHaveLength(16);
    expect(absent.summary).toMatch(/16 of 16 amplitudes absent: calibrated on the first call/);

    const r1 = await run(file("ones.safetensors"));
    const r2 = await run(file("no-amplitudes.safetensors"));
    const r3 = await run(file("project-no-amplitudes.safetensors"));
    expect(r1.err).toMatch(/amplitudes were exactly 1\.0/);
    expect(r1.output).toEqual(r3.output);
    expect(r2.output).toEqual(r3.output);
    // Calibrated on this input, not the shipped values: the run differs from the shipped amplitudes'.
    expect(r1.output).not.toEqual((await run(file("project.safetensors"))).output);
  });

  it("--keep-amplitudes keeps the 1.0 values: the same run as the spec-path file with every amplitude 1.0", async () => {
    const kept = loadWeightsFor(compiled, file("ones.safetensors"), { keepAmplitudes: true });
    expect(kept.uncalibratedOnes).toEqual([]);
    expect(Array.from(kept.weights.get("blocks.0.up.fire.alpha")!.data)).toEqual([1, 1, 1, 1]);
    const a = await run(file("ones.safetensors"), { keepAmplitudes: true });
    const b = await run(file("project-ones.safetensors"));
    expect(a.err).toBe(`weights: ${file("ones.safetensors")} through the mapping "spikelm-encoder"\n`);
    expect(a.output).toEqual(b.output);
    // Spec-path files are taken as written: 1.0 is a value there.
    expect(loadWeightsFor(compiled, file("project-ones.safetensors")).uncalibratedOnes).toEqual([]);
  });

  it("one amplitude at 1.0 among calibrated ones is dropped alone; a value merely near 1.0 is kept", () => {
    const m = new Map(reference);
    for (let t = 0; t < 4; t++) m.set(`bert.encoder.layer.0.output.dense.act_clip_val.${t}`, f32([], [1]));
    m.set("bert.encoder.layer.1.output.dense.act_clip_val.2", f32([], [Math.fround(1.0000001)]));
    const r = weightsFromTensors(compiled, m, "ckpt");
    expect(r.uncalibratedOnes).toEqual(["blocks.0.down.fire.alpha"]);
    expect(r.weights.has("blocks.1.down.fire.alpha")).toBe(true);
  });
});

describe("a file that fits no naming", () => {
  function message(tensors: Map<string, Tensor>): string {
    try {
      weightsFromTensors(compiled, tensors, "ckpt.safetensors");
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      return (e as Error).message;
    }
    throw new Error("expected a UserError");
  }

  it("a few unknown names: the closest mapping, those names with suggestions, in three lines", () => {
    const m = new Map(reference);
    m.set("bert.encoder.layer.0.attention.self.querry.weight", f32([64, 64]));
    m.set("bert.encoder.layer.0.attention.self.rel_pos.weight", f32([4]));
    const msg = message(m);
    const n = m.size;
    expect(msg.split("\n")).toHaveLength(3);
    expect(msg).toMatch(new RegExp(`^ckpt\\.safetensors: the tensor names fit no weight naming of \`SpikeLMEncoder\`; closest: spikelm-encoder \\(${n - 2} of ${n} names known\\)`));
    expect(msg).toContain(`unknown to spikelm-encoder (2): "bert.encoder.layer.0.attention.self.querry.weight" (did you mean "bert.encoder.layer.0.attention.self.query.weight"?), "bert.encoder.layer.0.attention.self.rel_pos.weight"`);
  });

  it("a foreign naming: the first five unknown names and how many more, not one line per tensor", () => {
    const m = new Map([...reference].map(([k, t]) => [k.replace(/^bert\.encoder\.layer\./, "transformer.h."), t]));
    const msg = message(m);
    expect(msg.split("\n")).toHaveLength(3);
    const unknown = [...m.keys()].filter((k) => k.startsWith("transformer.h."));
    expect(msg).toContain(`closest: spikelm-encoder (${m.size - unknown.length} of ${m.size} names known)`);
    expect(msg).toContain(`unknown to spikelm-encoder (${unknown.length}): "${unknown[0]}"`);
    expect(msg).toContain(`... (${unknown.length - 5} more)`);
    expect(msg).toMatch(/names look like "bert\.embeddings\.word_embeddings\.weight"/);
  });

  it("a spec-path file with a typo: closest is the spec's own paths, with a suggestion", () => {
    const m = new Map(project);
    m.set("blocks.0.attn.q.WW", f32([64, 64]));
    const msg = message(m);
    expect(msg).toMatch(/closest: spec paths \(\d+ of \d+ names known\)\n  unknown to spec paths \(1\): "blocks\.0\.attn\.q\.WW" \(did you mean "blocks\.0\.attn\.q\.W"\?\)/);
  });

  it("names that fit but tensors that do not (shape, layer beyond the depth): the mapping's own report, capped", () => {
    const m = new Map(reference);
    m.set("bert.embeddings.LayerNorm.bias", f32([65]));
    for (let i = 2; i < 30; i++) m.set(`bert.encoder.layer.${i}.output.dense.bias`, f32([64]));
    const msg = message(m);
    expect(msg).toContain(`"bert.embeddings.LayerNorm.bias" has shape [65] but "embeddings.norm.beta" is [64]`);
    expect(msg).toMatch(/extra \(not part of this model\) \(28\):/);
    expect(msg).toMatch(/\.\.\. and 16 more/);
    expect(msg.split("\n").length).toBeLessThan(25);
  });

  it("a wrapper's prefix on every name (DataParallel's `module.`) is looked through, and said", () => {
    const wrapped = new Map([...reference].map(([k, t]) => [`module.${k}`, t]));
    const r = weightsFromTensors(compiled, wrapped, "ckpt.safetensors");
    expect(r.mappingApplied).toBe('spikelm-encoder (every name under "module.")');
    expect(r.summary).toBe('weights: ckpt.safetensors through the mapping "spikelm-encoder" (every name under "module.")');
    const bareWrapped = weightsFromTensors(compiled, new Map([...bare].map(([k, t]) => [`model.${k}`, t])), "ckpt");
    expect(bareWrapped.mappingApplied).toBe('spikelm-encoder without the "bert." prefix (every name under "model.")');
    const specWrapped = weightsFromTensors(compiled, new Map([...project].map(([k, t]) => [`model.${k}`, t])), "ckpt");
    expect(specWrapped.summary).toMatch(/^weights: ckpt by spec path \(every name under "model\."\) \(/);
    for (const [k, t] of project) expect(Array.from(r.weights.get(k)!.data), k).toEqual(Array.from(t.data));
  });

  it("`run` with such a file: exit through a UserError, no output file", async () => {
    const bad = file("bad.safetensors");
    saveWeightsFile(bad, new Map([...reference].map(([k, t]) => [k.replace(/^bert\.encoder/, "roberta.encoder"), t])));
    const out = file("never.json");
    await expect(runCommand(SPEC, { entry: ENTRY, arg: ARGS, weights: bad, input: inputFile, out })).rejects.toThrow(/fit no weight naming of `SpikeLMEncoder`; closest: spikelm-encoder/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe("the model config's sizes are spec arguments", () => {
  it("type_vocab, eps, pad and steps change the token-type table, the LayerNorms, the padding row and T", () => {
    const c = compileEntry({ file: SPEC, entry: ENTRY, args: { ...SMALL_ENCODER_ARGS, type_vocab: 3, eps: 1e-5, steps: 2 }, inputs });
    expect(c.graph.params.find((p) => p.path === "embeddings.token_type.table")!.shape).toEqual([3, 64]);
    expect(c.graph.timesteps).toBe(2);
    const norms = c.graph.nodes.filter((n) => n.op === "layernorm").map((n) => n.attrs.eps);
    expect(norms.length).toBe(5);
    expect(new Set(norms)).toEqual(new Set([Math.fround(1e-5)]));
    const padded = compileEntry({ file: SPEC, entry: ENTRY, args: { ...SMALL_ENCODER_ARGS, pad: 7 }, inputs });
    expect(padded.graph.nodes.filter((n) => n.op === "gather").map((n) => n.attrs.pad)).toContain(7);
    const r = runSpec({ file: SPEC, entry: ENTRY, args: { ...SMALL_ENCODER_ARGS, type_vocab: 3 }, inputs: new Map([...inputs, ["types", i32([2, 6], [0, 0, 0, 1, 1, 2, 0, 0, 0, 1, 1, 2])]]) });
    expect(r.output.shape).toEqual([2, 6, 64]);
  });
});

describe("strict: false (PyTorch's load_state_dict(strict=False)): fine-tuning a classifier from a masked-LM checkpoint", () => {
  const cls = compileEntry({ file: SPEC, entry: "SpikeLMForSequenceClassification", args: { ...SMALL_ENCODER_ARGS, classes: 2 }, inputs });
  const mlm = compileEntry({ file: SPEC, entry: "SpikeLMForMaskedLMUntied", args: SMALL_ENCODER_ARGS, inputs });
  const mlmWeights = loadWeightsFor(mlm, SMALL_ENCODER_WEIGHTS).weights;

  it("spec paths: the head's tensors are skipped and the new head is seeded; strict refuses", () => {
    expect(() => weightsFromTensors(cls, mlmWeights, "mlm.safetensors")).toThrow(/fit no weight naming of `SpikeLMForSequenceClassification`; closest: spec paths/);
    const r = weightsFromTensors(cls, mlmWeights, "mlm.safetensors", { strict: false });
    expect(r.mappingApplied).toBe(SPEC_PATHS);
    expect(r.skipped.length).toBe(6);
    expect(r.skipped.every((k) => k.startsWith("mlm."))).toBe(true);
    expect(r.seeded).toEqual(["pooler.W", "pooler.b", "classifier.W", "classifier.b"]);
    expect(r.summary).toMatch(/; 6 tensors not in this model skipped \("mlm\./);
    expect(Array.from(r.weights.get("blocks.1.up.W")!.data)).toEqual(Array.from(mlmWeights.get("blocks.1.up.W")!.data));
  });

  it("reference naming: a pretraining checkpoint without pooler and classifier loads with those seeded", () => {
    const ckpt = exportWeights(mlmWeights, (MAPPINGS.get("spikelm-mlm-untied"))!, mlm.graph.params);
    expect(() => weightsFromTensors(cls, ckpt, "ckpt")).toThrow(/missing \(4\)/);
    const r = weightsFromTensors(cls, ckpt, "ckpt", { strict: false });
    expect(r.mappingApplied).toBe("spikelm-classifier");
    expect(r.seeded).toEqual(["pooler.W", "pooler.b", "classifier.W", "classifier.b"]);
    expect(r.skipped).toEqual([]);
    // Shapes still have to fit.
    const bad = new Map(ckpt);
    bad.set("bert.embeddings.LayerNorm.bias", f32([3]));
    expect(() => weightsFromTensors(cls, bad, "ckpt", { strict: false })).toThrow(/"bert\.embeddings\.LayerNorm\.bias" has shape \[3\]/);
  });
});
