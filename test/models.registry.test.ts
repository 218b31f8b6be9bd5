/**
 * The model specs and the registry: every shipped configuration compiles with the expected
 * parameter count (BERT-base exactly, plus the amplitudes), the specs check clean, each
 * stdlib neuron is a one-line change, and the decoder works with the generator.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { checkFiles } from "../interpreter/checker/check.js";
import { i32 } from "../interpreter/engine/tensor.js";
import { Generator } from "../interpreter/generate/generator.js";
import { runWithReport } from "../interpreter/report/run.js";
import { DEFAULT_MODELS, MODELS, READABLE_DECODER, entryParams, findModel, inputNames, modelTokenizer } from "../models/registry.js";
import { BpeTokenizer, mergesFileText, trainBpe } from "../models/tokenizers/bpe.js";
import { loadModel } from "../models/tasks.js";
import { UserError } from "../interpreter/io/errors.js";
import { REPO } from "./helpers.js";

const count = (m: ReturnType<typeof findModel>) => entryParams(m.spec, m.entry, m.args, inputNames(m)).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);

describe("model specs and registry", () => {
  it("the specs check without diagnostics", () => {
    const files = ["spikelm_encoder.spk", "spikelm_decoder.spk"].map((f) => path.join(REPO, "models/spikelm", f));
    expect(checkFiles(files).diagnostics).toEqual([]);
  });

  it("BERT-base sizes: exactly BERT-base's parameters plus 8 amplitudes × T = 4 per layer", () => {
    const amplitudes = 12 * 8 * 4;
    expect(count(findModel("encoder-base"))).toBe(108_891_648 + amplitudes); // BertModel without the pooler
    expect(count(findModel("classifier-base"))).toBe(109_482_240 + amplitudes + 768 * 2 + 2); // + pooler, classifier
    const p = entryParams(findModel("encoder-base").spec, "SpikeLMEncoder", findModel("encoder-base").args, ["ids", "types", "mask"]);
    expect(p.find((x) => x.path === "blocks.11.up.W")!.shape).toEqual([3072, 768]);
    expect(p.find((x) => x.path === "embeddings.position.table")!.shape).toEqual([512, 768]);
  });

  it("the GPT-2-small-sized decoder: 12 layers, d 768, context 1024, bytes; the default decoder is the small one", () => {
    const base = findModel("decoder-base");
    const p = entryParams(base.spec, base.entry, base.args, ["ids"]);
    expect(p.filter((x) => x.path.endsWith(".attn.q.W")).length).toBe(12);
    expect(p.find((x) => x.path === "embeddings.position.table")!.shape).toEqual([1024, 768]);
    expect(p.find((x) => x.path === "head.W")!.shape).toEqual([256, 768]);
    expect(DEFAULT_MODELS.generate).toBe("decoder-small");
    expect(findModel("decoder-small").args).toMatchObject({ depth: 2, d: 64 });
  });

  it("the readable decoder (npm start, generate): decoder-small's architecture over the KJV BPE vocabulary", () => {
    expect(READABLE_DECODER).toBe("decoder-small-bpe");
    const m = findModel(READABLE_DECODER);
    expect(m.args).toEqual({ ...findModel("decoder-small").args, vocab: 2048 });
    const tok = modelTokenizer(m);
    expect(tok).toBeInstanceOf(BpeTokenizer);
    expect(tok.vocabSize).toBe(m.args.vocab);
    const p = entryParams(m.spec, m.entry, m.args, ["ids"]);
    expect(p.find((x) => x.path === "head.W")!.shape).toEqual([2048, 64]);
    // A merges file of another size, or a WordPiece vocabulary, is refused with both sizes / kinds named.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-bpe-reg-"));
    const other = path.join(dir, "merges.txt");
    fs.writeFileSync(other, mergesFileText(trainBpe(new TextEncoder().encode("the cat sat on the mat ".repeat(20)), 10)));
    expect(() => modelTokenizer(m, other)).toThrow(UserError);
    expect(() => modelTokenizer(m, other)).toThrow(/merges\.txt makes 266 tokens \(256 bytes \+ 10 merges\), but `decoder-small-bpe` has a vocabulary of 2048/);
    expect(() => modelTokenizer(m, path.join(REPO, "models/spikelm/vocab-small.txt"))).toThrow(/is a WordPiece vocabulary, but `decoder-small-bpe` uses byte-level BPE/);
  });

  it("every registry entry compiles, names a mapping, and unknown names are a UserError with a suggestion", () => {
    for (const m of MODELS) expect(count(m)).toBeGreaterThan(0);
    expect(() => findModel("decoder-smal")).toThrow(UserError);
    expect(() => findModel("decoder-smal")).toThrow(/did you mean `decoder-small`/);
  });

  it("the shipped decoder generates through the spike key/value cache (same tokens as without)", () => {
    const m = loadModel("generate");
    const run = (cache: boolean) => {
      const g = new Generator({ file: m.info.spec, entry: m.info.entry, args: m.info.args, weights: m.weights, seed: 0, cache, maxContext: m.info.context });
      let logits = g.feed([...new TextEncoder().encode("the cat")]);
      const out: number[] = [];
      for (let i = 0; i < 4; i++) {
        const best = logits.indexOf(Math.max(...logits));
        out.push(best);
        logits = g.feed([best]);
      }
      return out;
    };
    expect(run(true)).toEqual(run(false));
  });

  it("each stdlib neuron is a one-line change of `act` (encoder and decoder)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-act-"));
    const enc = fs.readFileSync(path.join(REPO, "models/spikelm/spikelm_encoder.spk"), "utf8");
    const dec = fs.readFileSync(path.join(REPO, "models/spikelm/spikelm_decoder.spk"), "utf8");
    const line = /^model SpikeLMEncoder\(.*act = SpikeLMReference\(\)\) \{$/m;
    expect(enc).toMatch(line);
    const neurons = ["LIF()", "BiLIF()", "ElasticBiSpike(k = 2.0)", "SpikeLMReference1Bit()", "BiSpikeQuant()"];
    const ids = i32([2, 5], [2, 40, 41, 3, 0, 2, 50, 3, 0, 0]);
    const mask = i32([2, 5], [1, 1, 1, 1, 0, 1, 1, 1, 0, 0]);
    for (const act of neurons) {
      const file = path.join(dir, `enc_${act.replace(/\W/g, "")}.spk`);
      const changed = enc.replace(line, (l) => l.replace("act = SpikeLMReference()", `act = ${act}`));
      expect(changed.split("\n").filter((l, i) => l !== enc.split("\n")[i]).length).toBe(1);
      fs.writeFileSync(file, changed);
      const r = runWithReport({ file, entry: "SpikeLMEncoder", args: { vocab: 64, d: 16, heads: 2, depth: 1, ffn: 32, ctx: 8 }, inputs: new Map([["ids", ids], ["types", i32([2, 5])], ["mask", mask]]) });
      const kind = act.slice(0, act.indexOf("("));
      expect(r.report.neurons.find((n) => n.path === "blocks.0.up.fire")!.neuron).toBe(kind);
      expect(r.report.total.spike_driven).toBe(true);
      expect(Number.isFinite(r.output.data[0]!)).toBe(true);
    }
    const decFile = path.join(dir, "dec.spk");
    fs.writeFileSync(decFile, dec.replace("act = SpikeLMReference()) {", "act = ElasticBiSpike(k = 2.0)) {"));
    const r = runWithReport({ file: decFile, entry: "SpikeLMDecoder", args: { d: 16, heads: 2, depth: 1, ffn: 32, ctx: 8 }, inputs: new Map([["ids", i32([1, 4], [1, 2, 3, 4])]]) });
    expect(r.report.neurons.find((n) => n.path === "blocks.0.attn.q.fire")!.neuron).toBe("ElasticBiSpike");
  });
});
