/**
 * Generation: the spike key/value cache gives exactly the logits (hence tokens) of
 * recomputing the whole prefix; a seed fixes the output; the cache is derived from the IR
 * and holds int8 spike levels (checked on the arrays it keeps); bad requests are clear errors.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { initSpikeKernels, weightScanStats } from "../interpreter/engine/kernels/spike-matmul.js";
import { streamFor } from "../interpreter/engine/random.js";
import { Generator, type GeneratorOptions, sampleToken } from "../interpreter/generate/generator.js";
import { UserError } from "../interpreter/io/errors.js";
import { loadModel } from "../models/tasks.js";
import { decoderSpecArb } from "./generators/spec-gen.js";
import { EXAMPLES, FIXTURES, REPO } from "./helpers.js";

const small = { file: path.join(EXAMPLES, "tiny_spikelm.spk"), entry: "TinySpikeLM", args: { vocab: 256, d: 16, heads: 2, depth: 2, ffn: 32, ctx: 40 }, maxContext: 40 };

function generate(cache: boolean, prompt: number[], steps: number, seed: number, temperature: number, more: Partial<GeneratorOptions> = {}) {
  const g = new Generator({ ...small, cache, seed: 5, ...more });
  const rng = streamFor(seed, "test");
  const logitsSeen: Float32Array[] = [];
  let logits = g.feed(prompt);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    logitsSeen.push(logits);
    const t = sampleToken(logits, { temperature, topK: 8, uniform: () => rng.uniform() });
    out.push(t);
    logits = g.feed([t]);
  }
  return { out, logitsSeen, g };
}

describe("generation", () => {
  it("cached == uncached: identical logits bit for bit, hence identical tokens", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 1e6 }), fc.constantFrom(0, 0.7, 1.5), (prompt, seed, temperature) => {
        const a = generate(true, prompt, 6, seed, temperature);
        const b = generate(false, prompt, 6, seed, temperature);
        expect(a.out).toEqual(b.out);
        a.logitsSeen.forEach((l, i) => expect(Buffer.from(l.buffer).equals(Buffer.from(b.logitsSeen[i]!.buffer))).toBe(true));
      }),
      { numRuns: 8, seed: 11 },
    );
  });

  it("cached == uncached on the reference interpreter too (the optimized executor's oracle)", () => {
    const a = generate(true, [84, 104, 101], 6, 3, 0.7, { optimize: false });
    const b = generate(false, [84, 104, 101], 6, 3, 0.7, { optimize: false });
    expect(a.out).toEqual(b.out);
    a.logitsSeen.forEach((l, i) => expect(bits(l)).toEqual(bits(b.logitsSeen[i]!)));
  });

  it("is deterministic for a seed and differs across seeds", () => {
    const a = generate(true, [84, 104, 101], 12, 1, 1.0).out;
    expect(generate(true, [84, 104, 101], 12, 1, 1.0).out).toEqual(a);
    expect(generate(true, [84, 104, 101], 12, 2, 1.0).out).not.toEqual(a);
  });

  it("the cache holds int8 spike levels of keys and values, measured on its storage", () => {
    const { g } = generate(true, [84, 104, 101], 5, 1, 0); // the prompt, then 5 tokens fed one at a time
    const stats = g.cacheStats();
    expect(stats.tokens).toBe(8);
    // 2 layers x (keys + values), each T = 4 steps x B = 1 x d = 16 levels per token, one byte each
    expect(g.caches.size).toBe(4);
    let held = 0;
    for (const c of g.caches.values()) {
      // the stored levels: one block per step and head (4 x 2), 8 positions x 8 levels each
      const arrays = c.arrays();
      expect(arrays.map((a) => a.constructor.name)).toEqual(new Array(8).fill("Int8Array"));
      const levels = new Set(arrays.flatMap((a) => Array.from(a)));
      expect(arrays.map((a) => a.length)).toEqual(new Array(8).fill(8 * 8));
      expect(levels.size).toBeGreaterThan(1);
      for (const v of levels) expect([-1, 0, 1]).toContain(v);
      held += arrays.reduce((s, a) => s + a.byteLength, 0);
    }
    expect(stats.bytesPerToken).toBe(held / 8);
    expect(stats.bytesPerToken).toBe(2 * 2 * 4 * 16);
    expect(stats.float32BytesPerToken).toBe(4 * stats.bytesPerToken);
    expect(stats.sites.map((s) => s.storage)).toEqual(new Array(4).fill("int8 levels"));
  });

  it("the shipped decoder-small holds 1024 bytes/token (int8) against 4096 as float32, as the README says", () => {
    const m = loadModel("generate");
    expect(m.info.name).toBe("decoder-small");
    const g = new Generator({ file: m.info.spec, entry: m.info.entry, args: m.info.args, weights: m.weights });
    g.feed([83, 112, 105]);
    g.feed([107]);
    const stats = g.cacheStats();
    expect(stats.tokens).toBe(4);
    expect([...g.caches.values()].reduce((s, c) => s + c.arrays().reduce((t, a) => t + a.byteLength, 0), 0)).toBe(1024 * 4);
    expect(stats.bytesPerToken).toBe(1024);
    expect(stats.float32BytesPerToken).toBe(4096);
  });

  it("bad inputs are clear errors", () => {
    expect(() => new Generator({ ...small }).feed([])).toThrow(UserError);
    expect(() => new Generator({ ...small }).feed(new Array(41).fill(1))).toThrow(/longer than the model's context of 40/);
    expect(() => new Generator({ ...small, args: { ...small.args, vocab: 10 } }).feed([200])).toThrow(UserError);
    expect(() => new Generator({ file: path.join(EXAMPLES, "tiny_spikelm.spk"), entry: "SpikeLMClassifier", args: { vocab: 50, d: 8, heads: 2, depth: 1, ffn: 8, ctx: 8 } }).feed([1, 2])).toThrow(/must map ids \[B, L\] to logits/);
  });

  it("a non-causal model cannot use the cache", () => {
    const file = path.join(FIXTURES, "specs/bidirectional_lm.spk");
    expect(() => new Generator({ file, entry: "BiLM" }).feed([1, 2, 3])).toThrow(/cannot be decoded incrementally: attention without a causal mask/);
    expect(new Generator({ file, entry: "BiLM", cache: false }).feed([1, 2, 3]).length).toBe(64);
  });
});

/**
 * The float32 bits of logits (so -0 differs from +0), every NaN as one value: NaN payloads
 * and signs are not part of the semantics (docs/language.md#non-finite-values, verify/compare.ts).
 */
const bits = (l: Float32Array) => Array.from(new Uint32Array(l.buffer, l.byteOffset, l.length), (b, i) => (Number.isNaN(l[i]) ? 0x7fc00000 : b));

/** Greedy decoding: every step's logits (prompt first), and the tokens chosen. */
function greedy(opts: GeneratorOptions, prompt: readonly number[], steps: number): { logits: number[][]; tokens: number[] } {
  const g = new Generator(opts);
  const logits = [bits(g.feed(prompt))];
  const tokens: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = sampleToken(new Float32Array(new Uint32Array(logits[logits.length - 1]!).buffer), { temperature: 0, topK: 0, uniform: () => 0 });
    tokens.push(t);
    logits.push(bits(g.feed([t])));
  }
  return { logits, tokens };
}

/** The four paths: reference and optimized executor, each cached and uncached. */
const PATHS = [
  { optimize: false, cache: true },
  { optimize: false, cache: false },
  { optimize: true, cache: true },
  { optimize: true, cache: false },
] as const;

describe("generation on the optimized executor", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-generate-"));
  beforeAll(async () => {
    await initSpikeKernels();
  });

  it("random causal models: optimized cached == optimized uncached == reference (cached and uncached), tokens and logits bit for bit, with both neuron kernels and both spike-kernel backends", () => {
    let n = 0;
    fc.assert(
      fc.property(decoderSpecArb(), fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), fc.constantFrom("js" as const, "wasm" as const), fc.constantFrom("js" as const, "auto" as const), (spec, rawPrompt, neurons, backend) => {
        const file = path.join(tmp, `decoder-${n++}.spk`);
        fs.writeFileSync(file, spec.text);
        const vocab = spec.text.match(/vocab = (\d+)/)![1]!;
        const prompt = rawPrompt.map((t) => t % Number(vocab));
        const base = { file, entry: spec.entry, args: { ctx: 10 }, weights: spec.weights, seed: 3, maxContext: 10, executor: { neurons, backend } };
        const runs = PATHS.map((p) => greedy({ ...base, ...p }, prompt, 10 - prompt.length));
        for (const r of runs.slice(1)) {
          expect(r.tokens).toEqual(runs[0]!.tokens);
          expect(r.logits).toEqual(runs[0]!.logits);
        }
      }),
      { numRuns: 30, seed: 23 },
    );
  });

  it("random causal models with caches growing by 1-3 positions (many growth boundaries crossed, prompt and steps): optimized cached == reference cached, tokens and logits bit for bit, both spike-kernel backends", () => {
    let n = 0;
    fc.assert(
      fc.property(decoderSpecArb(), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom("js" as const, "auto" as const), fc.option(fc.constant(10), { nil: undefined }), (spec, rawPrompt, cacheBlock, backend, maxContext) => {
        const file = path.join(tmp, `decoder-growth-${n++}.spk`);
        fs.writeFileSync(file, spec.text);
        const vocab = spec.text.match(/vocab = (\d+)/)![1]!;
        const prompt = rawPrompt.map((t) => t % Number(vocab));
        const base = { file, entry: spec.entry, args: { ctx: 10 }, weights: spec.weights, seed: 3, maxContext };
        const ref = greedy({ ...base, optimize: false }, prompt, 10 - prompt.length);
        const opt = greedy({ ...base, cacheBlock, executor: { backend } }, prompt, 10 - prompt.length);
        expect(opt.tokens).toEqual(ref.tokens);
        expect(opt.logits).toEqual(ref.logits);
      }),
      { numRuns: 16, seed: 29 },
    );
  });

  it("the shipped decoder-small: optimized == reference, tokens and logits bit for bit, with both neuron kernels, past the cache's first growth", () => {
    const m = loadModel("generate");
    const base = { file: m.info.spec, entry: m.info.entry, args: m.info.args, weights: m.weights, maxContext: m.info.context };
    const prompt = m.tokenizer.encode("In the beginning");
    const ref = greedy({ ...base, optimize: false }, prompt, 8);
    for (const neurons of ["js", "wasm"] as const) {
      const opt = greedy({ ...base, executor: { neurons } }, prompt, 8);
      expect(opt.tokens).toEqual(ref.tokens);
      expect(opt.logits).toEqual(ref.logits);
    }
  });

  it("a prompt longer than the few-rows kernel's 16 tokens: neither the prompt nor the decoding steps scan a weight for non-finite values (the store declared them finite; the prompt's release keeps that)", () => {
    const m = loadModel("generate", { model: "decoder-small" });
    const g = new Generator({ file: m.info.spec, entry: m.info.entry, args: m.info.args, weights: m.weights, maxContext: m.info.context });
    const before = weightScanStats.elements;
    let logits = g.feed(m.tokenizer.encode("In the beginning God created the heaven"));
    expect(g.length).toBeGreaterThan(16);
    for (let i = 0; i < 3; i++) logits = g.feed([sampleToken(logits, { temperature: 0, topK: 0, uniform: () => 0 })]);
    expect(weightScanStats.elements - before).toBe(0);
  });

  it("chunks of several tokens after decoding started, and a reset: optimized == reference", () => {
    const feedAll = (optimize: boolean) => {
      const g = new Generator({ ...small, seed: 5, optimize });
      const seen = [g.feed([72, 105]), g.feed([33]), g.feed([10, 20, 30]), g.feed([40])];
      g.reset();
      seen.push(g.feed([50, 60, 70, 80]), g.feed([90]));
      return seen.map(bits);
    };
    expect(feedAll(true)).toEqual(feedAll(false));
  });

  it("a decoding step reuses its executor and its planned buffers: the one-token executor is planned once for the context", () => {
    const g = new Generator({ ...small, seed: 5 });
    g.feed([1, 2, 3]);
    g.feed([4]);
    const exec = (g as unknown as { executors: Map<number, { exec: { bytesHeld: number }; capacity: number }> }).executors.get(1)!;
    expect(exec.capacity).toBe(40);
    const held = exec.exec.bytesHeld;
    for (let i = 0; i < 20; i++) g.feed([i]);
    expect((g as unknown as { executors: Map<number, { exec: unknown }> }).executors.get(1)!.exec).toBe(exec.exec);
    expect(exec.exec.bytesHeld).toBe(held);
  });
});

void REPO;
