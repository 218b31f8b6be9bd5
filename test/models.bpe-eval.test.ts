/**
 * Bits per byte with BPE tokens (models/training.ts evaluateData, and the unigram baseline):
 * the NLL in bits of every scored token over the bytes those tokens cover, checked against a
 * computation written here: each evaluation window run on its own with the reference
 * interpreter, log-softmax in float64, and the bytes counted from the tokens' own bytes.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { i32 } from "../interpreter/engine/tensor.js";
import { runSpec } from "../interpreter/run.js";
import { KJV_MERGES } from "../models/spikelm/make-bpe.js";
import { BpeTokenizer } from "../models/tokenizers/bpe.js";
import { SpecTrainModel, evaluateData, loadTextData, resolveModel, unigramBitsPerByte } from "../models/training.js";
import { REPO } from "./helpers.js";

const DENSE = path.join(REPO, "models/spikelm/decoder_dense.spk");
const ARGS = { vocab: 2048, d: 16, heads: 2, depth: 1, ffn: 32, ctx: 32 };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-bpe-eval-"));
const TEXT = "And the LORD said unto Moses, Go in unto Pharaoh.\nSelah. Où est-il? 1 Kings 3:16 — ✓\n".repeat(3);

describe("bits per byte over BPE tokens", () => {
  const file = path.join(tmp, "held.txt");
  fs.writeFileSync(file, TEXT);
  const tok = BpeTokenizer.fromFile(KJV_MERGES);

  it("is the scored tokens' NLL in bits over the bytes they cover (oracle: each window on the reference interpreter)", () => {
    const m = resolveModel("lm", { model: DENSE, entry: "DenseDecoder", args: ARGS, vocab: KJV_MERGES, shippedWeights: false, seed: 3 });
    const data = loadTextData("lm", file, m.tokenizer);
    const L = 16;
    const model = new SpecTrainModel({ task: "lm", model: m, eval: data, batch: 2, seq: L, seed: 3 });
    const e = evaluateData(model, data);

    const ids = tok.encode(TEXT);
    expect(Array.from(data.tokens)).toEqual(ids);
    const weights = model.weights();
    let nats = 0;
    let bytes = 0;
    let scored = 0;
    for (let start = 0; start + 1 < ids.length; start += L) {
      const win = ids.slice(start, Math.min(start + L, ids.length));
      const out = runSpec({ file: DENSE, entry: "DenseDecoder", args: ARGS, inputs: new Map([["ids", i32([1, win.length], win)]]), weights, seed: 3, optimize: false }).output.data;
      const V = ARGS.vocab;
      for (let i = 0; i < win.length && start + i + 1 < ids.length; i++) {
        const target = ids[start + i + 1]!;
        const row = Array.from(out.subarray(i * V, (i + 1) * V));
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
        nats += lse - row[target]!;
        bytes += tok.bytesOf(target).length;
        scored++;
      }
    }
    expect(e.count).toBe(scored);
    expect(e.bytes).toBe(bytes);
    // Every byte but those of the first token is covered.
    expect(bytes).toBe(Buffer.byteLength(TEXT) - tok.bytesOf(ids[0]!).length);
    expect(e.bitsPerByte!).toBeCloseTo(nats / bytes / Math.LN2, 9);
    // Not the token-average shortcut (loss × tokens / bytes of the whole text).
    expect(Math.abs(e.bitsPerByte! - (e.loss * ids.length) / Buffer.byteLength(TEXT) / Math.LN2)).toBeGreaterThan(1e-4);
  }, 120_000);

  it("the unigram baseline is the add-one token frequencies' NLL over the bytes of tokens 1..", () => {
    const data = loadTextData("lm", file, tok);
    const ids = tok.encode(TEXT);
    const counts = new Map<number, number>();
    for (const t of ids) counts.set(t, (counts.get(t) ?? 0) + 1);
    let nats = 0;
    let bytes = 0;
    for (const t of ids.slice(1)) {
      nats -= Math.log(((counts.get(t) ?? 0) + 1) / (ids.length + tok.vocabSize));
      bytes += tok.bytesOf(t).length;
    }
    expect(unigramBitsPerByte(data, data, tok.vocabSize)).toBeCloseTo(nats / bytes / Math.LN2, 9);
  });
});
