/**
 * "Reads like the corpus", measured: what `spikelm generate` samples (temperature 0.8, top-k
 * 40, the command's random stream) from the prompt "And the LORD said", split into words
 * (letters and apostrophes); the share of those words that occur in the training text.
 * The BPE decoder (generate's default) against the byte decoder, the same sampling.
 * The figures are the README's (99.4% of 160 words vs 48.7% of 154); the oracle is the training
 * text's own word list. A crude measure (it does not judge grammar), but one that gibberish fails.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { streamFor } from "../interpreter/engine/random.js";
import { Generator, sampleToken } from "../interpreter/generate/generator.js";
import { loadModel } from "../models/tasks.js";
import { REPO } from "./helpers.js";

const PROMPT = "And the LORD said";
/** 40 BPE tokens as `npm start`; the byte decoder was trained on 64-byte windows: prompt (17) + 46 stays in them. */
const TOKENS = { "decoder-small-bpe": 40, "decoder-small": 46 };
/** Enough seeds for about 150 words from each. */
const SEEDS = { "decoder-small-bpe": [0, 1, 2, 3, 4], "decoder-small": Array.from({ length: 16 }, (_, i) => i) };
const words = (text: string) => text.match(/[A-Za-z']+/g) ?? [];
const corpusWords = new Set(words(fs.readFileSync(path.join(REPO, "models/data/kjv-train.txt"), "utf8")));

/** The texts `spikelm generate --prompt PROMPT -n N --seed S` prints after the prompt. */
function generated(model: keyof typeof TOKENS): string[] {
  const m = loadModel("generate", { model });
  const g0 = { file: m.info.spec, entry: m.info.entry, args: m.info.args, weights: m.weights, weightsSource: m.weightsSource, seed: m.seed, cache: true, maxContext: m.info.context };
  return SEEDS[model].map((seed) => {
    const g = new Generator(g0);
    const rng = streamFor(seed, "spikelm-generate");
    let logits = g.feed(m.tokenizer.encode(PROMPT));
    const out: number[] = [];
    for (let i = 0; i < TOKENS[model]; i++) {
      const t = sampleToken(logits, { temperature: 0.8, topK: 40, uniform: () => rng.uniform() });
      out.push(t);
      if (i + 1 < TOKENS[model]) logits = g.feed([t]);
    }
    return m.tokenizer.decode(out);
  });
}

function corpusShare(texts: readonly string[]): { share: number; words: number } {
  const all = texts.flatMap(words);
  return { share: all.filter((w) => corpusWords.has(w)).length / all.length, words: all.length };
}

describe("generated text reads like the corpus", () => {
  it("the BPE decoder's words are the corpus's words far more often than the byte decoder's", () => {
    const bpe = corpusShare(generated("decoder-small-bpe"));
    const bytes = corpusShare(generated("decoder-small"));
    expect(bpe.words).toBeGreaterThan(100);
    expect(bytes.words).toBeGreaterThan(100);
    expect(bpe.share).toBeCloseTo(0.9938, 3);
    expect(bytes.share).toBeCloseTo(0.487, 3);
    expect(bpe.share).toBeGreaterThan(bytes.share + 0.15);
  }, 300_000);
});
