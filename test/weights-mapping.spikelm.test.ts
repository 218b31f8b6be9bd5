/**
 * Weights in the reference code's naming: the declared mapping loads the shipped files,
 * stacks the per-step scalars into amplitudes, round-trips through export, and turns every
 * kind of mistake (missing, extra, wrong dtype, wrong shape, NaN/Inf) into one UserError
 * that lists all the names at once. The shipped files are reproduced byte for byte by
 * their seeded script.
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import { readSafetensors } from "../interpreter/io/safetensors.js";
import { MODELS, SMALL_DECODER_WEIGHTS, SMALL_ENCODER_ARGS, SMALL_DECODER_ARGS, SMALL_ENCODER_WEIGHTS, SMALL_VOCAB, entryParams, findModel, inputNames, modelParams } from "../models/registry.js";
import { loadWeightsFor } from "../models/load-weights.js";
import { DECODER_ARGS, ENCODER_ARGS, smallDecoderBytes, smallEncoderBytes } from "../models/spikelm/make-weights.js";
import { CLASSIFIER_MAPPING, MLM_UNTIED_MAPPING } from "../models/spikelm/mapping.js";
import { exportWeights, importWeights, referenceNames } from "../models/weights-mapping.js";

const shipped = readSafetensors(SMALL_ENCODER_WEIGHTS).tensors;
const mlm = findModel("mlm-small");
const mlmParams = entryParams(mlm.spec, mlm.entry, mlm.args, inputNames(mlm));

function problems(tensors: ReadonlyMap<string, Tensor>): string {
  try {
    importWeights(tensors, MLM_UNTIED_MAPPING, mlmParams, { source: "ckpt.safetensors" });
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error("expected a UserError");
}

const edit = (f: (m: Map<string, Tensor>) => void) => {
  const m = new Map(shipped);
  f(m);
  return m;
};

describe("reference naming → spec paths", () => {
  it("the shipped files load for every model that uses them", () => {
    for (const m of MODELS.filter((x) => x.weights)) {
      const params = modelParams(m);
      const r = loadWeightsFor({ params, entry: m.entry }, m.weights!, { preferred: m.mapping });
      expect(r.mappingApplied).toBe(m.mapping.name);
      expect(new Set(r.weights.keys())).toEqual(new Set(params.map((p) => p.path)));
    }
  });

  it("declared rows: a linear keeps [out, in]; act_clip_val.{t} (0-d) stack into the neuron's [T] amplitude; clip_key/clip_value go to kfire/vfire", () => {
    const w = importWeights(shipped, MLM_UNTIED_MAPPING, mlmParams);
    expect(Array.from(w.get("blocks.1.attn.q.W")!.data)).toEqual(Array.from(shipped.get("bert.encoder.layer.1.attention.self.query.weight")!.data));
    expect(w.get("blocks.1.up.W")!.shape).toEqual([256, 64]);
    const alpha = (n: string) => [0, 1, 2, 3].map((t) => shipped.get(`${n}.${t}`)!.data[0]);
    expect(shipped.get("bert.encoder.layer.0.intermediate.dense.act_clip_val.2")!.shape).toEqual([]);
    expect(Array.from(w.get("blocks.0.up.fire.alpha")!.data)).toEqual(alpha("bert.encoder.layer.0.intermediate.dense.act_clip_val"));
    expect(Array.from(w.get("blocks.0.attn.kfire.alpha")!.data)).toEqual(alpha("bert.encoder.layer.0.attention.self.clip_key"));
    expect(Array.from(w.get("blocks.0.attn.vfire.alpha")!.data)).toEqual(alpha("bert.encoder.layer.0.attention.self.clip_value"));
    expect(Array.from(w.get("mlm.decoder.b")!.data)).toEqual(Array.from(shipped.get("cls.predictions.bias")!.data));
    // Q, K and V see the same input (the block input) and calibrate identically.
    expect(Array.from(w.get("blocks.0.attn.q.fire.alpha")!.data)).toEqual(Array.from(w.get("blocks.0.attn.v.fire.alpha")!.data));
  });

  it("weight_clip_val, position_ids and the other heads' tensors are declared ignored; everything else loads and round-trips by name and value", () => {
    expect(shipped.has("bert.encoder.layer.0.attention.self.query.weight_clip_val")).toBe(true);
    expect(shipped.get("bert.embeddings.position_ids")!.dtype).toBe("i32");
    const clsParams = entryParams(findModel("classifier-small").spec, "SpikeLMForSequenceClassification", { ...SMALL_ENCODER_ARGS, classes: 2 }, ["ids", "types", "mask"]);
    // What each model leaves unused in the shipped file, written here independently of the
    // mapping tables: the unused clip values, the position-id buffer, and the other task's head.
    const cases = [
      { name: "mlm", mapping: MLM_UNTIED_MAPPING, params: mlmParams, unused: /weight_clip_val$|^bert\.embeddings\.position_ids$|^bert\.pooler\.|^classifier\./ },
      { name: "classifier", mapping: CLASSIFIER_MAPPING, params: clsParams, unused: /weight_clip_val$|^bert\.embeddings\.position_ids$|^cls\./ },
    ];
    const bytes = (t: Tensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    for (const { name, mapping, params, unused } of cases) {
      const w = importWeights(shipped, mapping, params);
      // every parameter of the model, each with its declared shape, and nothing else
      expect(new Set(w.keys()), name).toEqual(new Set(params.map((p) => p.path)));
      for (const p of params) expect(w.get(p.path)!.shape, `${name} ${p.path}`).toEqual([...p.shape]);
      // back to reference naming: exactly the shipped tensors the model uses, with their bits
      const back = exportWeights(w, mapping, params);
      const used = [...shipped.keys()].filter((k) => !unused.test(k));
      expect([...back.keys()].sort(), name).toEqual(used.sort());
      for (const k of used) expect(bytes(back.get(k)!).equals(bytes(shipped.get(k)!)), `${name} ${k}`).toBe(true);
      // and the imported values are the shipped ones, element for element (no tensor duplicated or dropped)
      const total = (m: Iterable<Tensor>) => [...m].reduce((s, t) => s + t.data.length, 0);
      expect(total(w.values()), name).toBe(total(used.map((k) => shipped.get(k)!)));
    }
    // spot checks by hand: the classifier head, and a per-step amplitude stacked from four 0-d tensors
    const wc = importWeights(shipped, CLASSIFIER_MAPPING, clsParams);
    expect(bytes(wc.get("classifier.W")!).equals(bytes(shipped.get("classifier.weight")!))).toBe(true);
    expect(bytes(wc.get("pooler.b")!).equals(bytes(shipped.get("bert.pooler.dense.bias")!))).toBe(true);
    expect(Array.from(wc.get("blocks.1.down.fire.alpha")!.data)).toEqual([0, 1, 2, 3].map((t) => shipped.get(`bert.encoder.layer.1.output.dense.act_clip_val.${t}`)!.data[0]));
  });

  it("missing tensors: every name is listed, with the spec path it feeds", () => {
    const msg = problems(edit((m) => {
      m.delete("bert.encoder.layer.1.output.dense.weight");
      m.delete("bert.encoder.layer.0.attention.self.clip_value.3");
      m.delete("cls.predictions.bias");
    }));
    expect(msg).toMatch(/ckpt\.safetensors: 3 problems .*nothing was loaded/);
    expect(msg).toMatch(/missing \(3\)/);
    expect(msg).toContain(`"bert.encoder.layer.1.output.dense.weight" (→ "blocks.1.down.W" [64, 256])`);
    expect(msg).toContain(`"bert.encoder.layer.0.attention.self.clip_value.3" (→ "blocks.0.attn.vfire.alpha" [4])`);
    expect(msg).toContain(`"cls.predictions.bias"`);
  });

  it("extra tensors: unknown names (with a suggestion), layers beyond the depth, steps beyond T", () => {
    const msg = problems(edit((m) => {
      m.set("bert.encoder.layer.0.attention.self.querry.weight", f32([64, 64]));
      m.set("bert.encoder.layer.5.output.dense.bias", f32([64]));
      m.set("bert.encoder.layer.0.output.dense.act_clip_val.4", f32([], [1]));
      m.set("totally.unrelated", f32([1]));
    }));
    expect(msg).toMatch(/extra \(not part of this model\) \(4\)/);
    expect(msg).toContain(`"bert.encoder.layer.0.attention.self.querry.weight" is not a tensor of this model (did you mean "bert.encoder.layer.0.attention.self.query.weight"?)`);
    expect(msg).toMatch(/"bert\.encoder\.layer\.5\.output\.dense\.bias": maps to "blocks\.5\.down\.b", which this model does not have/);
    expect(msg).toMatch(/act_clip_val\.4": time step 4, but the model runs 4 steps/);
    expect(msg).toContain(`"totally.unrelated"`);
  });

  it("wrong shapes and dtypes: all listed, with both shapes", () => {
    const msg = problems(edit((m) => {
      m.set("bert.encoder.layer.0.intermediate.dense.weight", f32([64, 256]));
      m.set("bert.embeddings.LayerNorm.bias", f32([65]));
      m.set("bert.encoder.layer.1.attention.self.key.act_clip_val.0", f32([2], [1, 1]));
      m.set("bert.embeddings.word_embeddings.weight", i32([625, 64]));
    }));
    expect(msg).toMatch(/wrong shape \(3\)/);
    expect(msg).toContain(`"bert.encoder.layer.0.intermediate.dense.weight" has shape [64, 256] but "blocks.0.up.W" is [256, 64]`);
    expect(msg).toContain(`"bert.embeddings.LayerNorm.bias" has shape [65] but "embeddings.norm.beta" is [64]`);
    expect(msg).toMatch(/"bert\.encoder\.layer\.1\.attention\.self\.key\.act_clip_val\.0" has shape \[2\] but a per-step amplitude is a 0-d scalar/);
    expect(msg).toMatch(/wrong dtype \(1\):\n\s+"bert\.embeddings\.word_embeddings\.weight" is an integer tensor \(i32\) where float32 is expected/);
  });

  it("NaN and Infinity: name and index", () => {
    const msg = problems(edit((m) => {
      const w = f32([256, 64], Float32Array.from(m.get("bert.encoder.layer.0.intermediate.dense.weight")!.data));
      w.data[70] = Number.NaN;
      m.set("bert.encoder.layer.0.intermediate.dense.weight", w);
      m.set("bert.encoder.layer.1.attention.self.clip_key.2", f32([], [Number.POSITIVE_INFINITY]));
    }));
    expect(msg).toMatch(/non-finite values \(2\)/);
    expect(msg).toContain(`"bert.encoder.layer.0.intermediate.dense.weight"[70] = NaN`);
    expect(msg).toContain(`"bert.encoder.layer.1.attention.self.clip_key.2"[0] = Infinity`);
  });

  it("all kinds of problem are reported together in one error", () => {
    const msg = problems(edit((m) => {
      m.delete("bert.pooler.dense.weight"); // ignored for the MLM: not a problem
      m.delete("cls.predictions.transform.dense.bias");
      m.set("extra.one", f32([1]));
      m.set("bert.embeddings.LayerNorm.weight", f32([3]));
      m.set("cls.predictions.bias", i32([625]));
    }));
    for (const s of ["missing (1)", "extra (not part of this model) (1)", "wrong shape (1)", "wrong dtype (1)"]) expect(msg).toContain(s);
    expect(msg).toMatch(/4 problems/);
  });

  it("amplitudes may be left out altogether on request (calibrated on the first call), never partly", () => {
    const noAlpha = edit((m) => {
      for (const k of [...m.keys()]) if (/act_clip_val|clip_key|clip_value/.test(k)) m.delete(k);
    });
    expect(() => importWeights(noAlpha, MLM_UNTIED_MAPPING, mlmParams)).toThrow(/missing \(64\)/);
    const w = importWeights(noAlpha, MLM_UNTIED_MAPPING, mlmParams, { allowMissingAmplitudes: true });
    expect([...w.keys()].some((k) => k.endsWith(".alpha"))).toBe(false);
    const partly = edit((m) => m.delete("bert.encoder.layer.0.output.dense.act_clip_val.1"));
    expect(() => importWeights(partly, MLM_UNTIED_MAPPING, mlmParams, { allowMissingAmplitudes: true })).toThrow(/act_clip_val\.1/);
  });

  it("export is the inverse: spec paths → reference naming → the same spec tensors", () => {
    const w = importWeights(shipped, MLM_UNTIED_MAPPING, mlmParams);
    const back = exportWeights(w, MLM_UNTIED_MAPPING, mlmParams);
    expect(back.get("bert.encoder.layer.0.attention.self.clip_key.3")!.shape).toEqual([]);
    for (const [k, v] of back) expect(Array.from(v.data), k).toEqual(Array.from(shipped.get(k)!.data));
    const again = importWeights(back, MLM_UNTIED_MAPPING, mlmParams);
    for (const [k, v] of w) expect(Array.from(again.get(k)!.data)).toEqual(Array.from(v.data));
    expect(new Set(referenceNames(MLM_UNTIED_MAPPING, mlmParams))).toEqual(new Set(back.keys()));
    expect(() => exportWeights(new Map([...w].filter(([k]) => k !== "blocks.0.up.fire.alpha")), MLM_UNTIED_MAPPING, mlmParams)).toThrow(/"blocks\.0\.up\.fire\.alpha" has no value \(an amplitude not yet calibrated/);
  });
});

describe("shipped weights", () => {
  it("make-weights.ts reproduces the shipped files byte for byte", () => {
    expect(Buffer.from(smallEncoderBytes()).equals(fs.readFileSync(SMALL_ENCODER_WEIGHTS))).toBe(true);
    expect(Buffer.from(smallDecoderBytes()).equals(fs.readFileSync(SMALL_DECODER_WEIGHTS))).toBe(true);
  });

  it("are small, and agree with the registry's configurations and vocabulary", () => {
    expect(fs.statSync(SMALL_ENCODER_WEIGHTS).size + fs.statSync(SMALL_DECODER_WEIGHTS).size).toBeLessThan(2_000_000);
    expect(ENCODER_ARGS).toEqual(SMALL_ENCODER_ARGS);
    expect(DECODER_ARGS).toEqual(SMALL_DECODER_ARGS);
    expect(fs.readFileSync(SMALL_VOCAB, "utf8").split("\n").filter((l) => l.length > 0).length).toBe(SMALL_ENCODER_ARGS.vocab);
  });
});
