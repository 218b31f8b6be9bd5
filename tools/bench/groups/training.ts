/**
 * Training benchmarks: one training step (forward, loss, gradients from the IR, AdamW) of the
 * small shipped models on their task, against the forward alone on the optimized executor,
 * same batch and parameters. Rows give tokens/s per training step and the backward/forward
 * time ratio (step time minus forward time, over forward time; frameworks reach about 2),
 * by wall time and by the process's CPU time. The step is the one `spikelm train` runs: the
 * matmul backward on WebAssembly SIMD (initGradKernels) and buffers reused across steps.
 * After the timed steps, two more are run to report what a step still does that it should
 * not: typed-array storage it creates (./training-alloc-counter.ts; 0 expected) and forward
 * values the gradient tape computes a second time (integer positions: the executor gives
 * the tape floats and int8 levels only).
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { initGradKernels } from "../../../interpreter/engine/grad/matmul-wasm.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { AdamW } from "../../../interpreter/train/adamw.js";
import { TrainRng } from "../../../interpreter/train/rng.js";
import { SpecTrainModel, type TrainTask, loadClassifyData, loadTextData, resolveModel } from "../../../models/training.js";
import { type BenchContext, type BenchRow, registerGroup } from "../registry.js";
import { countAllocations } from "./training-alloc-counter.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bench(ctx: BenchContext, name: string, task: TrainTask, data: string, batch: number, seq: number, runs: number): Promise<BenchRow> {
  const m = resolveModel(task, { model: name, shippedWeights: true, seed: 0 });
  const d = task === "classify" ? loadClassifyData(data, m.tokenizer, 2, m.info.labels, seq) : loadTextData(task, data, m.tokenizer);
  const model = new SpecTrainModel({ task, model: m, train: d, batch, seq, seed: 0 });
  const adam = new AdamW(model.params);
  const rng = TrainRng.seeded(0, "bench");
  const exec = model.executor(batch, model.seqLen);
  const step = () => {
    const r = model.lossAndGrad(model.sample(rng));
    adam.update(r.grads, 1e-4, 1);
  };
  // compile, calibrate; after its first run the gradient engine plans its executor again
  // (keeping what the backward reads), which the second step compiles
  step();
  step();
  ctx.step(`${name}: first step`);
  const stepMs: number[] = [];
  const fwdMs: number[] = [];
  const stepCpu: number[] = [];
  const fwdCpu: number[] = [];
  // CPU time of this process (all its threads) next to wall time: on a shared machine the
  // wall time mostly measures the other jobs, the CPU time the work done.
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const u = process.cpuUsage(since);
    return (u.user + u.system) / 1000;
  };
  for (let i = 0; i < runs; i++) {
    const b = model.sample(rng);
    let t0 = performance.now();
    let c0 = process.cpuUsage();
    exec.run(b.inputs);
    fwdMs.push(performance.now() - t0);
    fwdCpu.push(cpuMs(c0));
    t0 = performance.now();
    c0 = process.cpuUsage();
    step();
    stepMs.push(performance.now() - t0);
    stepCpu.push(cpuMs(c0));
    ctx.step(`${name}: step ${i + 1}`);
  }
  // not timed: what the step allocates and recomputes (the counter slows typed-array calls)
  const counter = countAllocations();
  counter.counting = true;
  for (let i = 0; i < 2; i++) step();
  counter.counting = false;
  counter.restore();
  const allocsPerStep = counter.made.length / 2;
  const recomputed = model.tapeRecomputed;
  const s = median(stepMs);
  const f = median(fwdMs);
  const sc = median(stepCpu);
  const fc = median(fwdCpu);
  const tokens = batch * model.seqLen;
  const tps = (1000 * tokens) / s;
  const tpsCpu = (1000 * tokens) / sc;
  const bwd = (s - f) / f;
  const bwdCpu = (sc - fc) / fc;
  // ms = the training step, base ms = the forward alone (wall); the name carries tokens/s and
  // the ratio by wall time and by CPU time.
  return {
    name: `train step ${name} (${task}): ${tokens} tokens, ${tps.toFixed(1)} tokens/s, backward/forward ${bwd.toFixed(1)}; per CPU second ${tpsCpu.toFixed(1)} tokens/s, backward/forward ${bwdCpu.toFixed(1)}; per step ${allocsPerStep} typed arrays created, ${recomputed} forward values recomputed`,
    shape: null,
    rate: null,
    vs: "forward (optimized)",
    ratio: f / s,
    spike_ms: s,
    base_ms: f,
    tokens,
    tokens_per_s: tps,
    backward_over_forward: bwd,
    cpu_step_ms: sc,
    cpu_forward_ms: fc,
    tokens_per_cpu_s: tpsCpu,
    backward_over_forward_cpu: bwdCpu,
    typed_arrays_created_per_step: allocsPerStep,
    tape_recomputed_values: recomputed,
  };
}

registerGroup("training", async (ctx) => {
  await initSpikeKernels();
  await initGradKernels();
  const runs = ctx.quick ? 1 : 3;
  ctx.addSteps(3 * (runs + 1));
  const kjv = path.join(ROOT, "models/data/kjv-valid.txt");
  return [
    await bench(ctx, "decoder-small", "lm", kjv, 4, 64, runs),
    await bench(ctx, "mlm-small", "mlm", kjv, 8, 32, runs),
    await bench(ctx, "classifier-small", "classify", path.join(ROOT, "models/data/sentiment-test.tsv"), 8, 64, runs),
  ];
});
