/**
 * The training loop, independent of any model: a `TrainModel` samples micro-batches from
 * the trainer's RNG and returns the mean loss and parameter gradients of one micro-batch;
 * the loop accumulates `accum` micro-batches, clips by global norm, sets the learning rate
 * from the schedule and applies AdamW, then logs, evaluates and checkpoints.
 *
 * Determinism: every random draw (batch positions, masks) comes from one TrainRng seeded
 * from `seed`, whose state is saved in checkpoints with the AdamW moments and the step
 * count, so `resume` continues with exactly the numbers (and bits) an uninterrupted run
 * would have used. Gradient buffers are allocated once; a step allocates no tensor memory.
 */
import type { F32Tensor } from "../engine/tensor.js";
import { AdamW, type OptimParam, globalNorm, scaleGrads } from "./adamw.js";
import { type Checkpoint, saveCheckpoint } from "./checkpoint.js";
import { TrainRng } from "./rng.js";
import { type ScheduleKind, lrAt } from "./schedule.js";

export interface TrainConfig {
  readonly steps: number;
  readonly lr: number;
  readonly warmup: number;
  readonly schedule: ScheduleKind;
  readonly minLrRatio: number;
  /** Global-norm clipping threshold (0: off). */
  readonly clip: number;
  readonly accum: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly seed: number;
  /** Evaluate every N steps (0: only at the end). */
  readonly evalEvery: number;
  /** Write the checkpoint every N steps (0: only at the end). */
  readonly saveEvery: number;
}

export const TRAIN_DEFAULTS: Omit<TrainConfig, "steps"> = {
  lr: 1e-3,
  warmup: 0,
  schedule: "cosine",
  minLrRatio: 0.1,
  clip: 1.0,
  accum: 1,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  seed: 0,
  evalEvery: 0,
  saveEvery: 0,
};

export interface MicroResult {
  /** Mean loss (nats) over the micro-batch's counted targets. */
  readonly loss: number;
  /** Counted targets (tokens for LM tasks, sequences for classification). */
  readonly count: number;
  readonly correct?: number;
  /** Gradients of the mean loss, by parameter path (may be buffers the model reuses). */
  readonly grads: ReadonlyMap<string, Float32Array>;
  /** Firing rate per neuron path (fraction of nonzero spikes), when the model reports it. */
  readonly rates?: Readonly<Record<string, number>>;
}

export interface EvalResult {
  readonly loss: number;
  readonly count: number;
  readonly accuracy?: number;
  readonly bitsPerByte?: number;
  /** Firing rate per neuron path, when the model reports it. */
  readonly rates?: Readonly<Record<string, number>>;
}

export interface TrainModel<B> {
  /** Trainable parameters (their data is updated in place). */
  readonly params: readonly OptimParam[];
  /** Tokens a micro-batch feeds the model (for tokens/s). */
  readonly tokensPerBatch: number;
  sample(rng: TrainRng): B;
  lossAndGrad(batch: B): MicroResult;
  evaluate?(): EvalResult;
  /** Every parameter (amplitudes included), for checkpoints. */
  weights(): Map<string, F32Tensor>;
}

export interface StepRecord {
  readonly kind: "step";
  readonly step: number;
  readonly lr: number;
  readonly loss: number;
  readonly grad_norm: number;
  readonly tokens: number;
  readonly tokens_per_s: number;
  readonly elapsed_s: number;
  readonly accuracy?: number;
  readonly rates?: Readonly<Record<string, number>>;
}

export interface EvalRecord {
  readonly kind: "eval";
  readonly step: number;
  readonly loss: number;
  readonly tokens: number;
  readonly accuracy?: number;
  readonly bits_per_byte?: number;
  readonly perplexity: number;
  readonly rates?: Readonly<Record<string, number>>;
  readonly elapsed_s: number;
}

export interface TrainHooks {
  onStep?(r: StepRecord): void;
  onEval?(r: EvalRecord): void;
  /** Where to save (every `saveEvery` steps and at the end). */
  out?: string;
  /** Extra JSON stored in the checkpoint's training state. */
  info?: Readonly<Record<string, unknown>>;
  resume?: Checkpoint;
  /** Stop after this many updates in this call (for tests of interrupted runs). */
  stopAfter?: number;
}

export interface TrainResult {
  readonly step: number;
  readonly lastLoss: number;
  readonly evals: readonly EvalRecord[];
  readonly seconds: number;
}

export function train<B>(model: TrainModel<B>, config: TrainConfig, hooks: TrainHooks = {}): TrainResult {
  const adam = new AdamW(model.params, { beta1: config.beta1, beta2: config.beta2, eps: 1e-8, weightDecay: config.weightDecay });
  let rng = TrainRng.seeded(config.seed, "spikelm-train-data");
  let start = 0;
  const seen = { tokens: 0, elapsed: 0 };
  if (hooks.resume?.state) {
    const s = hooks.resume.state;
    start = s.step;
    rng = TrainRng.restore(s.rng);
    for (const p of model.params) {
      const m = hooks.resume.m.get(p.path);
      const v = hooks.resume.v.get(p.path);
      if (m && m.length === p.data.length) adam.m.get(p.path)!.set(m);
      if (v && v.length === p.data.length) adam.v.get(p.path)!.set(v);
    }
    seen.tokens = Number(s.info.tokens ?? 0);
    seen.elapsed = Number(s.info.elapsed_s ?? 0);
  }
  const acc = new Map(model.params.map((p) => [p.path, new Float32Array(p.data.length)]));
  const evals: EvalRecord[] = [];
  const t0 = performance.now();
  const elapsed = () => seen.elapsed + (performance.now() - t0) / 1000;
  const save = (step: number) => {
    if (!hooks.out) return;
    saveCheckpoint(hooks.out, model.weights(), { step, rng: rng.state(), info: { ...hooks.info, config, tokens: seen.tokens, elapsed_s: elapsed() } }, adam.m, adam.v);
  };
  const evaluate = (step: number) => {
    if (!model.evaluate) return;
    const e = model.evaluate();
    const r: EvalRecord = { kind: "eval", step, loss: e.loss, tokens: e.count, accuracy: e.accuracy, bits_per_byte: e.bitsPerByte, perplexity: Math.exp(e.loss), rates: e.rates, elapsed_s: elapsed() };
    evals.push(r);
    hooks.onEval?.(r);
  };

  let lastLoss = NaN;
  const end = hooks.stopAfter !== undefined ? Math.min(config.steps, start + hooks.stopAfter) : config.steps;
  let step = start;
  for (; step < end; step++) {
    const ts = performance.now();
    for (const a of acc.values()) a.fill(0);
    let loss = 0;
    let count = 0;
    let correct = 0;
    let hasCorrect = false;
    let rates: Record<string, number> | undefined;
    for (let k = 0; k < config.accum; k++) {
      const r = model.lossAndGrad(model.sample(rng));
      loss += r.loss;
      count += r.count;
      if (r.correct !== undefined) {
        correct += r.correct;
        hasCorrect = true;
      }
      if (r.rates) {
        rates ??= {};
        for (const [p, v] of Object.entries(r.rates)) rates[p] = (rates[p] ?? 0) + v / config.accum;
      }
      for (const [path, a] of acc) {
        const g = r.grads.get(path);
        if (!g) continue;
        for (let i = 0; i < a.length; i++) a[i] = a[i]! + g[i]!;
      }
    }
    if (config.accum > 1) scaleGrads(acc, 1 / config.accum);
    loss /= config.accum;
    const norm = globalNorm(acc);
    if (config.clip > 0 && norm > config.clip) scaleGrads(acc, config.clip / norm);
    const lr = lrAt({ lr: config.lr, warmup: config.warmup, steps: config.steps, kind: config.schedule, minRatio: config.minLrRatio }, step);
    adam.update(acc, lr, step + 1);
    lastLoss = loss;
    const tokens = model.tokensPerBatch * config.accum;
    seen.tokens += tokens;
    const dt = (performance.now() - ts) / 1000;
    hooks.onStep?.({ kind: "step", step: step + 1, lr, loss, grad_norm: norm, tokens: seen.tokens, tokens_per_s: tokens / Math.max(dt, 1e-9), elapsed_s: elapsed(), accuracy: hasCorrect && count > 0 ? correct / count : undefined, rates });
    const done = step + 1;
    if (config.evalEvery > 0 && done % config.evalEvery === 0 && done < config.steps) evaluate(done);
    if (config.saveEvery > 0 && done % config.saveEvery === 0 && done < end) save(done);
  }
  if (step === config.steps && (evals.length === 0 || evals[evals.length - 1]!.step !== step)) evaluate(step);
  save(step);
  return { step, lastLoss, evals, seconds: elapsed() };
}
