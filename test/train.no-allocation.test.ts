/**
 * "Nothing is allocated per step after the first": the real training loop (`train`: batch
 * sampling, the optimized executor's forward, the gradient tape, the backward, the loss,
 * clipping, the schedule, AdamW) on the small shipped models, with every creation of
 * typed-array storage counted (tools/bench/groups/training-alloc-counter.ts wraps the constructors, `from`/`of`,
 * the copying methods and WebAssembly memory growth) during steps 3 to 5. It must be none.
 * Steps 1 and 2 (compiling kernels, calibrating amplitudes, planning the arenas) allocate,
 * which also shows the counter sees the step's code.
 *
 * Views on existing storage (subarray, views on WebAssembly memory) are small objects, not
 * tensor storage; they are counted apart and not held to zero.
 */
import * as path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { initGradKernels } from "../interpreter/engine/grad/matmul-wasm.js";
import { initSpikeKernels } from "../interpreter/engine/kernels/spike-matmul.js";
import { TRAIN_DEFAULTS, train } from "../interpreter/train/trainer.js";
import { SpecTrainModel, type TrainTask, loadClassifyData, loadTextData, resolveModel } from "../models/training.js";
import { type AllocCounter, countAllocations } from "../tools/bench/groups/training-alloc-counter.js";
import { REPO } from "./helpers.js";

let counter: AllocCounter | undefined;
afterEach(() => counter?.restore());

beforeAll(async () => {
  // what `spikelm train` runs on: the WebAssembly spike, float and matmul-gradient kernels
  await initSpikeKernels();
  await initGradKernels();
});

function model(task: TrainTask, name: string, batch: number, seq: number): SpecTrainModel {
  const m = resolveModel(task, { model: name, shippedWeights: true, seed: 0 });
  const kjv = path.join(REPO, "models/data/kjv-valid.txt");
  const data = task === "classify" ? loadClassifyData(path.join(REPO, "models/data/sentiment-test.tsv"), m.tokenizer, 2, m.info.labels, seq) : loadTextData(task, kjv, m.tokenizer);
  return new SpecTrainModel({ task, model: m, train: data, batch, seq, seed: 0 });
}

describe("a training step after the first allocates no typed-array storage", () => {
  it("the counter sees storage made by new, from, slice and map, and not views", () => {
    counter = countAllocations();
    counter.counting = true;
    const a = new Float32Array(4);
    Float32Array.from([1, 2]);
    a.slice();
    a.map((x) => x);
    new Int8Array(new ArrayBuffer(8), 0, 4);
    a.subarray(1);
    counter.counting = false;
    // new Float32Array, from, slice, map, new ArrayBuffer (the view on it is not storage)
    expect(counter.made.map((m) => m.kind)).toEqual(["new Float32Array", "Float32Array.from", "typed array .slice", "typed array .map", "new ArrayBuffer"]);
    expect(counter.views).toBe(2);
  });

  for (const [task, name, batch, seq, accum] of [
    ["lm", "decoder-small", 2, 32, 1],
    ["mlm", "mlm-small", 2, 16, 2],
    ["classify", "classifier-small", 2, 32, 1],
  ] as const) {
    it(`${name} (${task}, ${batch} x ${seq}, accumulating ${accum}): steps 3 to 5`, () => {
      const m = model(task, name, batch, seq);
      counter = countAllocations();
      const c = counter;
      const made: number[] = [];
      c.counting = true; // steps 1 and 2 too, counted apart
      train(m, { ...TRAIN_DEFAULTS, steps: 6, accum, clip: 1e-3, warmup: 2 }, {
        stopAfter: 5,
        onStep: (r) => {
          made.push(c.made.length);
          if (r.step === 2) c.made.length = 0;
        },
      });
      c.counting = false;
      expect(made.length).toBe(5);
      expect(made[0]).toBeGreaterThan(0);
      expect(c.made).toEqual([]);
    });
  }
});
