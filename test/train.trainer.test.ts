/**
 * The training loop (interpreter/train/) on a toy differentiable model (a bigram softmax
 * regression over bytes, gradients by hand): determinism for a seed, resume bit-identical
 * to an uninterrupted run, loss decreasing, the schedule, AdamW and clipping.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type F32Tensor, f32 } from "../interpreter/engine/tensor.js";
import { AdamW, globalNorm } from "../interpreter/train/adamw.js";
import { loadCheckpoint } from "../interpreter/train/checkpoint.js";
import { crossEntropy } from "../interpreter/train/loss.js";
import { TrainRng } from "../interpreter/train/rng.js";
import { lrAt } from "../interpreter/train/schedule.js";
import { type MicroResult, type StepRecord, TRAIN_DEFAULTS, type TrainConfig, type TrainModel, train } from "../interpreter/train/trainer.js";
import { loadWeightsFile } from "../interpreter/io/weights.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-train-"));
const TEXT = new TextEncoder().encode("the cat sat on the mat. the dog sat on the log. ".repeat(20));
const V = 32;
const sym = (b: number) => b % V;

/** logits[prev] = W[prev] + b: a bigram model; batches are B random (prev, next) pairs. */
class Bigram implements TrainModel<Int32Array> {
  readonly W = new Float32Array(V * V);
  readonly b = new Float32Array(V);
  readonly params = [
    { path: "W", data: this.W, decay: true },
    { path: "b", data: this.b, decay: false },
  ];
  readonly tokensPerBatch = 8;
  private readonly batch = new Int32Array(8);
  private readonly gW = new Float32Array(V * V);
  private readonly gb = new Float32Array(V);
  private readonly logits = new Float32Array(8 * V);
  private readonly dlogits = new Float32Array(8 * V);
  private readonly targets = new Int32Array(8);
  constructor() {
    const rng = TrainRng.seeded(7, "init");
    for (let i = 0; i < this.W.length; i++) this.W[i] = Math.fround((rng.uniform() - 0.5) * 0.1);
  }
  sample(rng: TrainRng): Int32Array {
    for (let i = 0; i < 8; i++) this.batch[i] = rng.int(TEXT.length - 1);
    return this.batch;
  }
  lossAndGrad(at: Int32Array): MicroResult {
    for (let r = 0; r < 8; r++) {
      const p = sym(TEXT[at[r]!]!);
      this.targets[r] = sym(TEXT[at[r]! + 1]!);
      for (let j = 0; j < V; j++) this.logits[r * V + j] = this.W[p * V + j]! + this.b[j]!;
    }
    const ce = crossEntropy(this.logits, this.targets, V, this.dlogits);
    this.gW.fill(0);
    this.gb.fill(0);
    for (let r = 0; r < 8; r++) {
      const p = sym(TEXT[at[r]!]!);
      for (let j = 0; j < V; j++) {
        this.gW[p * V + j] = this.gW[p * V + j]! + this.dlogits[r * V + j]!;
        this.gb[j] = this.gb[j]! + this.dlogits[r * V + j]!;
      }
    }
    return { loss: ce.sum / ce.count, count: ce.count, correct: ce.correct, grads: new Map([["W", this.gW], ["b", this.gb]]) };
  }
  evaluate() {
    let s = 0;
    let n = 0;
    for (let i = 0; i + 1 < TEXT.length; i++) {
      const p = sym(TEXT[i]!);
      const row = Array.from({ length: V }, (_, j) => this.W[p * V + j]! + this.b[j]!);
      s += crossEntropy(row, [sym(TEXT[i + 1]!)], V).sum;
      n++;
    }
    return { loss: s / n, count: n };
  }
  weights(): Map<string, F32Tensor> {
    return new Map([["W", f32([V, V], this.W)], ["b", f32([V], this.b)]]);
  }
}

const config = (over: Partial<TrainConfig> = {}): TrainConfig => ({ ...TRAIN_DEFAULTS, steps: 40, lr: 0.05, warmup: 5, accum: 2, clip: 0.5, evalEvery: 10, seed: 3, ...over });
const bytes = (m: Bigram) => Buffer.concat([Buffer.from(m.W.buffer), Buffer.from(m.b.buffer)]);

describe("trainer", () => {
  it("loss decreases on a tiny task", () => {
    const m = new Bigram();
    const before = m.evaluate().loss;
    const losses: number[] = [];
    const r = train(m, config({ steps: 80 }), { onStep: (s) => losses.push(s.loss) });
    expect(r.evals.at(-1)!.loss).toBeLessThan(before * 0.6);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(losses.slice(-10))).toBeLessThan(mean(losses.slice(0, 10)));
  });

  it("is deterministic for a seed, and another seed differs", () => {
    const a = new Bigram();
    const b = new Bigram();
    const c = new Bigram();
    train(a, config());
    train(b, config());
    train(c, config({ seed: 4 }));
    expect(bytes(a).equals(bytes(b))).toBe(true);
    expect(bytes(a).equals(bytes(c))).toBe(false);
  });

  it("resume continues bit-identically to an uninterrupted run (weights, moments, logged losses)", () => {
    const full = new Bigram();
    const fullLog: StepRecord[] = [];
    const outFull = path.join(tmp, "full.safetensors");
    train(full, config(), { out: outFull, onStep: (s) => fullLog.push(s) });

    const part = new Bigram();
    const partLog: StepRecord[] = [];
    const mid = path.join(tmp, "mid.safetensors");
    const r1 = train(part, config(), { out: mid, stopAfter: 17, onStep: (s) => partLog.push(s) });
    expect(r1.step).toBe(17);
    const ck = loadCheckpoint(mid);
    expect(ck.state?.step).toBe(17);
    // A fresh model, weights from the checkpoint, as the CLI does.
    const resumed = new Bigram();
    resumed.W.set(ck.weights.get("W")!.data);
    resumed.b.set(ck.weights.get("b")!.data);
    const outRes = path.join(tmp, "resumed.safetensors");
    train(resumed, config(), { out: outRes, resume: ck, onStep: (s) => partLog.push(s) });
    expect(bytes(resumed).equals(bytes(full))).toBe(true);
    expect(partLog.map((s) => [s.step, s.loss, s.lr, s.grad_norm])).toEqual(fullLog.map((s) => [s.step, s.loss, s.lr, s.grad_norm]));
    const a = loadCheckpoint(outFull);
    const b = loadCheckpoint(outRes);
    for (const k of ["W", "b"]) {
      expect(Buffer.from(a.m.get(k)!.buffer).equals(Buffer.from(b.m.get(k)!.buffer))).toBe(true);
      expect(Buffer.from(a.v.get(k)!.buffer).equals(Buffer.from(b.v.get(k)!.buffer))).toBe(true);
    }
    expect(a.state?.rng).toEqual(b.state?.rng);
  });

  it("a periodic --save-every checkpoint of a run that goes on (as a killed run leaves it) resumes bit-identically", () => {
    const full = new Bigram();
    const fullLog: StepRecord[] = [];
    train(full, config(), { onStep: (s) => fullLog.push(s) });

    // The same run saving every 6 steps; the file is copied as it stands after step 12's save
    // (onStep of step 13 runs before step 13's own save), then the run is killed after step 15.
    const live = path.join(tmp, "periodic.safetensors");
    const snapshot = path.join(tmp, "periodic-at-12.safetensors");
    const killed = new Bigram();
    train(killed, config({ saveEvery: 6 }), { out: live, stopAfter: 15, onStep: (s) => s.step === 13 && fs.copyFileSync(live, snapshot) });
    const ck = loadCheckpoint(snapshot);
    expect(ck.state?.step).toBe(12);
    const resumed = new Bigram();
    resumed.W.set(ck.weights.get("W")!.data);
    resumed.b.set(ck.weights.get("b")!.data);
    const log: StepRecord[] = [];
    train(resumed, config({ saveEvery: 6 }), { resume: ck, onStep: (s) => log.push(s) });
    expect(bytes(resumed).equals(bytes(full))).toBe(true);
    expect(log.map((s) => [s.step, s.loss, s.lr, s.grad_norm])).toEqual(fullLog.slice(12).map((s) => [s.step, s.loss, s.lr, s.grad_norm]));
  });

  it("a checkpoint loads as a plain weights file (the optimizer state is in the header)", () => {
    const m = new Bigram();
    const out = path.join(tmp, "plain.safetensors");
    train(m, config({ steps: 3 }), { out });
    const { tensors, metadata } = loadWeightsFile(out);
    expect([...tensors.keys()].sort()).toEqual(["W", "b"]);
    expect(metadata["spikelm.checkpoint"]).toBe("1");
    expect(JSON.parse(metadata["spikelm.train"]!).step).toBe(3);
  });
});

describe("schedule, AdamW, clipping, loss", () => {
  it("warmup rises linearly to lr, then cosine and linear decay reach lr * minRatio", () => {
    const s = { lr: 1, warmup: 4, steps: 104, kind: "cosine" as const, minRatio: 0.1 };
    expect([0, 1, 2, 3].map((t) => lrAt(s, t))).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(lrAt(s, 4)).toBe(1);
    expect(lrAt(s, 104)).toBeCloseTo(0.1, 12);
    expect(lrAt(s, 54)).toBeCloseTo(0.55, 12);
    expect(lrAt({ ...s, kind: "linear" }, 54)).toBeCloseTo(0.55, 12);
    expect(lrAt({ ...s, kind: "linear" }, 29)).toBeCloseTo(1 - 0.9 * 0.25, 12);
    expect(lrAt({ ...s, kind: "constant" }, 90)).toBe(1);
  });

  it("AdamW's first update moves each weight by lr (times sign of g) plus decoupled decay", () => {
    const w = Float32Array.from([1, -2, 3]);
    const opt = new AdamW([{ path: "w", data: w, decay: true }], { beta1: 0.9, beta2: 0.999, eps: 0, weightDecay: 0.5 });
    opt.update(new Map([["w", Float32Array.from([0.3, -4, 0])]]), 0.1, 1);
    expect(w[0]).toBeCloseTo(1 * 0.95 - 0.1, 6);
    expect(w[1]).toBeCloseTo(-2 * 0.95 + 0.1, 6);
    expect(Number.isNaN(w[2])).toBe(true); // 0/0 with eps 0: the eps is there for a reason
  });

  it("global norm over all tensors", () => {
    expect(globalNorm(new Map([["a", Float32Array.from([3])], ["b", Float32Array.from([4, 0])]]))).toBe(5);
  });

  it("cross-entropy gradient matches central differences; ignored rows get zero", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 3 }), (xs, y) => {
        const logits = Float64Array.from(xs);
        const targets = [y, -1];
        const g = new Float32Array(8);
        crossEntropy(logits, targets, 4, g);
        for (let j = 0; j < 4; j++) {
          const h = 1e-4;
          const p = Float64Array.from(logits);
          const q = Float64Array.from(logits);
          p[j] = p[j]! + h;
          q[j] = q[j]! - h;
          const fd = (crossEntropy(p, targets, 4).sum - crossEntropy(q, targets, 4).sum) / (2 * h);
          expect(Math.abs(g[j]! - fd)).toBeLessThan(1e-4);
        }
        expect([...g.slice(4)]).toEqual([0, 0, 0, 0]);
      }),
      { numRuns: 50 },
    );
  });

  it("the RNG state round-trips", () => {
    const a = TrainRng.seeded(1, "x");
    a.nextU32();
    const b = TrainRng.restore(a.state());
    expect([a.nextU32(), a.nextU32()]).toEqual([b.nextU32(), b.nextU32()]);
  });
});
