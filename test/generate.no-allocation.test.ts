/**
 * "A decoding step allocates nothing but the logits it returns": the shipped decoder-small on
 * the optimized executor with the key/value cache, every creation of typed-array storage
 * counted (tools/bench/groups/training-alloc-counter.ts) during decoding steps 3 to 8 (the
 * first steps plan the one-token executor, copy the weights, grow the caches' buffers).
 * Each step must create exactly one array: the Float32Array of logits it returns.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { initSpikeKernels } from "../interpreter/engine/kernels/spike-matmul.js";
import { Generator, sampleToken } from "../interpreter/generate/generator.js";
import { loadModel } from "../models/tasks.js";
import { type AllocCounter, countAllocations } from "../tools/bench/groups/training-alloc-counter.js";

let counter: AllocCounter | undefined;
afterEach(() => counter?.restore());

beforeAll(async () => {
  await initSpikeKernels();
});

describe("a decoding step allocates only the logits it returns", () => {
  for (const neurons of ["js", "wasm"] as const) {
    it(`decoder-small, ${neurons} neuron kernels, WebAssembly spike kernels: steps 3 to 8`, () => {
      const m = loadModel("generate");
      const g = new Generator({ file: m.info.spec, entry: m.info.entry, args: m.info.args, weights: m.weights, maxContext: m.info.context, executor: { neurons } });
      let logits = g.feed(m.tokenizer.encode("In the beginning"));
      const next = () => sampleToken(logits, { temperature: 0, topK: 0, uniform: () => 0 });
      for (let i = 0; i < 2; i++) logits = g.feed([next()]);
      counter = countAllocations();
      const perStep: string[][] = [];
      for (let i = 0; i < 6; i++) {
        const t = next();
        counter.made.length = 0;
        counter.counting = true;
        logits = g.feed([t]);
        counter.counting = false;
        perStep.push(counter.made.map((x) => `${x.kind} at ${x.where}`));
      }
      for (const made of perStep) {
        expect(made).toHaveLength(1);
        expect(made[0]).toMatch(/^Float32Array\.from at .*generator\.ts/);
      }
    });
  }
});
