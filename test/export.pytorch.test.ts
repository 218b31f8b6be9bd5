/**
 * `spikelm export --to pytorch` (tools/export/pytorch.ts): the generated module, run by
 * PyTorch (Debian's python3-torch), against spikelm on the same weights and input.
 *
 * - Forward: the module calibrates its own amplitudes on its first call (only the weights are
 *   loaded); they equal spikelm's bit for bit (the calibration mean is spikelm's sequential
 *   float32 sum), every neuron's spike levels are identical, outputs agree within 1e-5
 *   (relative to the largest output when that exceeds 1): PyTorch's matmul, softmax,
 *   layer norm and GELU sum and approximate in their own order, so not bit for bit.
 * - Gradients: loss = sum(output * seed), backpropagated by torch autograd through the
 *   exported Functions, against spikelm's GradientEngine: within 1e-5 x max|g| per tensor.
 *
 * Without torch every test here is reported as skipped, with the reason in its name.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import * as net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { gradients } from "../interpreter/autodiff/index.js";
import type { ArgValue } from "../interpreter/compile.js";
import { type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";
import { readSafetensors, serializeSafetensors } from "../interpreter/io/safetensors.js";
import { trainDdpScript } from "../tools/export/train-ddp.js";
import { exportCommand } from "../tools/cli/commands/export.js";
import { DECODER_MAPPING } from "../models/spikelm/mapping.js";
import { MODELS } from "../models/registry.js";
import { encodeTexts, loadModel } from "../models/tasks.js";
import { prepareSpec } from "../tools/export/common.js";
import { exportPytorch } from "../tools/export/pytorch.js";
import { findTorchPython } from "./torch-python.js";
import { GOLDEN, readJson, seededIds, seededNormal, tensorFromNested } from "./helpers.js";

const root = path.resolve(__dirname, "..");
const EXAMPLES = path.join(root, "examples");
const PY = findTorchPython();
const SKIP = PY ? "" : " [skipped: no python3 with torch; install Debian's python3-torch (.ci/run does)]";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-torch-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Case {
  name: string;
  file: string;
  entry: string;
  args?: Record<string, ArgValue>;
  inputs: Map<string, Tensor>;
  weights?: ReadonlyMap<string, Tensor>;
  grads?: boolean;
  /** Amplitudes trained (LSQ gradients) on both sides. */
  trainAmplitudes?: boolean;
}

const cases: Case[] = [
  ...["LIF", "BiLIF", "ElasticBiSpike", "SpikeLMReference", "BiSpikeQuant"].map((entry) => ({
    name: `examples/neurons.spk ${entry}`,
    file: path.join(EXAMPLES, "neurons.spk"),
    entry,
    inputs: new Map([["x", seededNormal([4, 2, 3, 8], 7)]]),
  })),
  { name: "examples SpikeLinear", file: path.join(EXAMPLES, "tiny_spikelm.spk"), entry: "SpikeLinear", args: { inp: 8, out: 5 }, inputs: new Map([["x", seededNormal([4, 2, 3, 8], 1)]]) },
  {
    name: "examples SpikeBlock",
    file: path.join(EXAMPLES, "tiny_spikelm.spk"),
    entry: "SpikeBlock",
    args: { d: 16, heads: 4, ffn: 32 },
    inputs: new Map([["x", seededNormal([4, 1, 6, 16], 3)]]),
  },
  {
    name: "examples SpikeLMClassifier (small)",
    file: path.join(EXAMPLES, "tiny_spikelm.spk"),
    entry: "SpikeLMClassifier",
    args: { vocab: 100, d: 32, heads: 4, depth: 1, ffn: 64, ctx: 16 },
    inputs: new Map([["ids", seededIds(2, 7, 100, 9)]]),
  },
  { name: "stdlib SpikeLinear (gradients)", file: path.join(root, "stdlib/layers.spk"), entry: "SpikeLinear", args: { inp: 16, out: 8 }, inputs: new Map([["x", seededNormal([4, 2, 5, 16], 11)]]), grads: true },
  {
    name: "stdlib SpikeSelfAttention (LSQ amplitude gradients)",
    file: path.join(root, "stdlib/layers.spk"),
    entry: "SpikeSelfAttention",
    args: { d: 16, heads: 2 },
    inputs: new Map([["x", seededNormal([4, 2, 5, 16], 13)]]),
    grads: true,
    trainAmplitudes: true,
  },
  {
    // the decoder reads `embeddings.word.table`: one Parameter used twice in the module
    name: "spikelm_encoder SpikeLMForMaskedLM (tied decoder, small)",
    file: path.join(root, "models/spikelm/spikelm_encoder.spk"),
    entry: "SpikeLMForMaskedLM",
    args: { vocab: 40, d: 16, heads: 2, depth: 1, ffn: 32, ctx: 16 },
    inputs: new Map([
      ["ids", seededIds(2, 6, 40, 21)],
      ["types", seededIds(2, 6, 2, 22)],
      ["mask", i32([2, 6], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0])],
    ]),
    grads: true,
  },
  {
    name: "models/tiny TinySpikeLM",
    file: path.join(root, "models/tiny/tiny_spikelm.spk"),
    entry: "TinySpikeLM",
    inputs: new Map([["ids", seededIds(1, 12, 256, 5)]]),
    grads: true,
  },
];

function modelCase(name: string, task: "generate" | "fill-mask" | "classify", texts: string[]): Case {
  const m = loadModel(task, { model: name });
  const batch = encodeTexts(m, texts);
  const all: Record<string, Tensor> = { ids: batch.ids, types: batch.types, mask: batch.mask };
  const names = task === "generate" ? ["ids"] : ["ids", "types", "mask"];
  return { name, file: m.info.spec, entry: m.info.entry, args: { ...m.info.args }, inputs: new Map(names.map((n) => [n, all[n]!])), weights: m.weights, grads: true };
}
cases.push(modelCase("mlm-small", "fill-mask", ["the cat sat on the mat.", "a fine film"]), modelCase("decoder-small", "generate", ["The spiking model"]));

interface Prepared {
  c: Case;
  out: string;
  reference: ReturnType<typeof prepareSpec>;
  seed?: Tensor;
}

let results: Map<string, { prepared: Prepared; torch: Map<string, Tensor> }> | undefined;
/** Jobs other tests add to the one python process (registered while the tests are collected). */
const extraJobs: (() => object[])[] = [];

/** Exports every case, runs them all in one python process, reads the results. */
function runAll(): NonNullable<typeof results> {
  if (results) return results;
  const jobs: unknown[] = [];
  const prepared: Prepared[] = [];
  cases.forEach((c, n) => {
    const reference = prepareSpec({ file: c.file, entry: c.entry, args: c.args, inputs: c.inputs, weights: c.weights });
    const ex = exportPytorch({ file: c.file, entry: c.entry, args: c.args, inputs: c.inputs });
    const dir = path.join(tmp, `case${n}`);
    fs.mkdirSync(dir);
    const module = path.join(dir, "model.py");
    fs.writeFileSync(module, ex.code);
    // amplitudes spikelm calibrated are left out: the module calibrates them on its first call
    const calibrated = new Set(reference.calibrated);
    const weights = new Map([...reference.params.entries].filter(([k]) => !calibrated.has(k)).map(([k, e]) => [k, e.tensor as Tensor]));
    fs.writeFileSync(path.join(dir, "w.safetensors"), serializeSafetensors(weights));
    const inputs = new Map(c.inputs);
    let seed: Tensor | undefined;
    if (c.grads) {
      seed = seededNormal([...reference.reference.output.shape], 100 + n);
      inputs.set("__seed", seed);
    }
    fs.writeFileSync(path.join(dir, "in.safetensors"), serializeSafetensors(inputs));
    const out = path.join(dir, "out.safetensors");
    jobs.push({ module, weights: path.join(dir, "w.safetensors"), inputs: path.join(dir, "in.safetensors"), out, grad_seed: seed ? "__seed" : undefined, train_amplitudes: !!c.trainAmplitudes });
    prepared.push({ c, out, reference, seed });
  });
  for (const more of extraJobs) jobs.push(...more());
  const jobsFile = path.join(tmp, "jobs.json");
  fs.writeFileSync(jobsFile, JSON.stringify(jobs));
  const r = spawnSync(PY!, [path.join(root, "tools/export/check_module.py"), jobsFile], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}):\n${r.stderr}`);
  results = new Map(prepared.map((p) => [p.c.name, { prepared: p, torch: readSafetensors(p.out).tensors }]));
  return results;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("PyTorch export: the module's forward equals spikelm's", () => {
  for (const c of cases) {
    it.skipIf(!PY)(`${c.name}: identical spikes, amplitudes and outputs within tolerance${SKIP}`, () => {
      const { prepared, torch } = runAll().get(c.name)!;
      const ref = prepared.reference;
      const out = torch.get("output")!;
      expect(out.shape).toEqual(ref.reference.output.shape);
      const d = maxDiff(out.data, ref.reference.output.data);
      expect(d, `output differs by ${d}`).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(ref.reference.output.data)));
      // calibrated amplitudes: equal where the neuron's input is (the first neuron of each
      // model), within 1e-6 after float layers whose order differs (layer norm, softmax)
      for (const [p, e] of ref.params.entries) {
        if (e.spec.kind !== "amplitude") continue;
        const got = torch.get(`param/${p}`)!.data;
        const d = maxDiff(got, e.tensor.data);
        expect(d, `amplitude ${p}: ${Array.from(got)} vs ${Array.from(e.tensor.data)}`).toBeLessThanOrEqual(1e-6 * maxAbs(e.tensor.data));
      }
      expect(ref.reference.record.size).toBeGreaterThan(0);
      for (const [k, rec] of ref.reference.record) {
        const got = torch.get(`spikes/${k}`);
        expect(got, `no spikes recorded for ${k}`).toBeDefined();
        expect(got!.shape).toEqual(rec.levels.shape);
        let differ = 0;
        for (let i = 0; i < rec.levels.data.length; i++) if (got!.data[i] !== rec.levels.data[i]) differ++;
        expect(differ, `${differ} spikes of ${k} differ`).toBe(0);
      }
    });
  }
});

describe("PyTorch export: gradients equal spikelm's GradientEngine", () => {
  for (const c of cases.filter((x) => x.grads)) {
    it.skipIf(!PY)(`${c.name}: every parameter's and input's gradient within 1e-5 x max|g|${SKIP}`, () => {
      const { prepared, torch } = runAll().get(c.name)!;
      const ref = prepared.reference;
      const g = gradients(ref.compiled.graph, ref.params.clone(), c.inputs, prepared.seed!, { trainAmplitudes: !!c.trainAmplitudes });
      if (c.trainAmplitudes) expect([...g.grads.keys()].filter((k) => k.endsWith(".alpha")).length).toBe(5);
      let compared = 0;
      for (const [p, grad] of g.grads) {
        const tg = torch.get(`grad/${p}`);
        const scale = maxAbs(grad);
        if (!tg) {
          expect(scale, `torch has no gradient for ${p}, spikelm's is not zero`).toBe(0);
          continue;
        }
        const d = maxDiff(tg.data, grad);
        expect(d, `gradient of ${p} differs by ${d} (max |g| ${scale})`).toBeLessThanOrEqual(1e-5 * Math.max(scale, 1e-30));
        compared++;
      }
      for (const [name, grad] of g.inputGrads) {
        const tg = torch.get(`grad_input/${name}`)!;
        const d = maxDiff(tg.data, grad);
        expect(d, `input gradient of ${name} differs by ${d}`).toBeLessThanOrEqual(1e-5 * Math.max(maxAbs(grad), 1e-30));
      }
      expect(compared).toBeGreaterThan(0);
    });
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts the ranks with the environment torchrun gives them (RANK, WORLD_SIZE, MASTER_*). */
function runRanks(script: string, args: string[], world: number, port: number, timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    let out = "";
    let left = world;
    let code = 0;
    const procs = Array.from({ length: world }, (_, rank) => {
      const env = { ...process.env, RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(world), LOCAL_WORLD_SIZE: String(world), MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port), OMP_NUM_THREADS: "1", GLOO_SOCKET_IFNAME: "lo" };
      const p = spawn(PY!, [script, ...args], { env });
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (out += d));
      p.on("exit", (c) => {
        code = code || (c ?? 1);
        if (--left === 0) {
          clearTimeout(timer);
          resolve({ code, out });
        }
      });
      return p;
    });
    const timer = setTimeout(() => {
      for (const p of procs) p.kill("SIGKILL");
      out += `\n(killed after ${timeoutMs} ms)`;
    }, timeoutMs);
  });
}

describe("PyTorch export: DDP training", () => {
  it.skipIf(!PY)(`two ranks on CPU (gloo, loopback) train TinySpikeLM a few steps; the checkpoint loads into spikelm with identical spikes and outputs${SKIP}`, async () => {
    const dir = path.join(tmp, "ddp");
    fs.mkdirSync(dir);
    const file = path.join(root, "models/tiny/tiny_spikelm.spk");
    const args = { d: 32, ffn: 64, depth: 1 };
    const probe = new Map([["ids", seededIds(1, 16, 256, 3)]]);
    const ex = exportPytorch({ file, entry: "TinySpikeLM", args, inputs: probe });
    fs.writeFileSync(path.join(dir, "tiny_model.py"), ex.code);
    fs.writeFileSync(path.join(dir, "train_ddp.py"), trainDdpScript({ module: "tiny_model", inputs: ex.inputs, referenceNames: false }));
    // start from spikelm's seeded weights (amplitudes left to the trainer's calibration)
    const init = prepareSpec({ file, entry: "TinySpikeLM", args, inputs: probe });
    const initWeights = new Map([...init.params.entries].filter(([, e]) => e.spec.kind === "weight").map(([k, e]) => [k, e.tensor as Tensor]));
    fs.writeFileSync(path.join(dir, "init.safetensors"), serializeSafetensors(initWeights));
    fs.writeFileSync(path.join(dir, "corpus.txt"), fs.readFileSync(path.join(root, "models/data/kjv-train.txt")).subarray(0, 20_000));
    const ckpt = path.join(dir, "ckpt.safetensors");
    const steps = 4;
    const r = await runRanks(
      path.join(dir, "train_ddp.py"),
      ["--task", "lm", "--data", path.join(dir, "corpus.txt"), "--seq-len", "32", "--batch-size", "4", "--steps", String(steps), "--log-every", "2", "--init", path.join(dir, "init.safetensors"), "--out", ckpt],
      2,
      await freePort(),
      150_000,
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(new RegExp(`step ${steps}/${steps}  loss \\d+\\.\\d+ .*\\(2 ranks, gloo\\)`));
    expect(r.out).toMatch(/replicas in sync/);

    const trained = readSafetensors(ckpt).tensors;
    // every parameter, amplitudes included, under spikelm's paths; training changed the weights
    expect([...trained.keys()].sort()).toEqual([...init.params.entries.keys()].sort());
    expect(maxDiff(trained.get("head.W")!.data, initWeights.get("head.W")!.data)).toBeGreaterThan(0);

    // spikelm runs the checkpoint as given (nothing calibrated); the exported module agrees
    const input = new Map([["ids", seededIds(2, 20, 256, 17)]]);
    const back = prepareSpec({ file, entry: "TinySpikeLM", args, inputs: input, weights: trained });
    expect(back.calibrated).toEqual([]);
    const dir2 = path.join(dir, "check");
    fs.mkdirSync(dir2);
    fs.writeFileSync(path.join(dir2, "in.safetensors"), serializeSafetensors(input));
    const jobs = path.join(dir2, "jobs.json");
    fs.writeFileSync(jobs, JSON.stringify([{ module: path.join(dir, "tiny_model.py"), weights: ckpt, inputs: path.join(dir2, "in.safetensors"), out: path.join(dir2, "out.safetensors") }]));
    const c = spawnSync(PY!, [path.join(root, "tools/export/check_module.py"), jobs], { encoding: "utf8", timeout: 60_000 });
    expect(c.status, c.stderr).toBe(0);
    const got = readSafetensors(path.join(dir2, "out.safetensors")).tensors;
    const ref = back.reference.output;
    expect(maxDiff(got.get("output")!.data, ref.data)).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(ref.data)));
    for (const [k, rec] of back.reference.record) {
      const a = got.get(`spikes/${k}`)!.data;
      let differ = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== rec.levels.data[i]) differ++; // -0 == 0: levels are integers
      expect(differ, `${differ} spikes of ${k} differ`).toBe(0);
    }
  });
});

describe("PyTorch export: --names reference", () => {
  const dir = path.join(tmp, "refnames");
  const keysOut = path.join(dir, "keys.json");
  extraJobs.push(() => {
    const c = cases.find((x) => x.name === "decoder-small")!;
    fs.mkdirSync(dir);
    const ex = exportPytorch({
      file: c.file,
      entry: c.entry,
      args: c.args,
      inputs: c.inputs,
      referenceNames: { rows: DECODER_MAPPING.rows, ignored: DECODER_MAPPING.ignored, name: DECODER_MAPPING.name },
      naming: "reference",
    });
    fs.writeFileSync(path.join(dir, "model.py"), ex.code);
    fs.writeFileSync(path.join(dir, "in.safetensors"), serializeSafetensors(c.inputs));
    return [{ module: path.join(dir, "model.py"), weights: MODELS.find((m) => m.name === "decoder-small")!.weights!, inputs: path.join(dir, "in.safetensors"), out: path.join(dir, "out.safetensors"), keys_out: keysOut }];
  });
  it.skipIf(!PY)(`decoder-small in the authors' naming: state_dict keys are theirs, the shipped file (their names) loads unchanged, forward equals spikelm's${SKIP}`, () => {
    const ref = runAll().get("decoder-small")!.prepared.reference;
    const keys = JSON.parse(fs.readFileSync(keysOut, "utf8")) as string[];
    expect(keys).toContain("bert.encoder.layer.1.attention.self.query.weight");
    expect(keys).toContain("bert.encoder.layer.0.attention.self.clip_key.3");
    expect(keys).toContain("lm_head.bias");
    expect(keys.filter((k) => !k.startsWith("bert.") && !k.startsWith("lm_head."))).toEqual([]);
    const got = readSafetensors(path.join(dir, "out.safetensors")).tensors;
    expect(maxDiff(got.get("output")!.data, ref.reference.output.data)).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(ref.reference.output.data)));
    for (const [k, rec] of ref.reference.record) {
      const a = got.get(`spikes/${k}`)!.data;
      let differ = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== rec.levels.data[i]) differ++;
      expect(differ, `${differ} spikes of ${k} differ`).toBe(0);
    }
  });
});

describe("PyTorch export: command line", () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(root, "tools/cli/main.ts"), ...args], { cwd: root, encoding: "utf8" });

  it("writes model.py and train_ddp.py; the module names every spec class and weight path", () => {
    const dir = fs.mkdtempSync(path.join(tmp, "cli-"));
    const r = cli(["export", "models/spikelm/spikelm_encoder.spk", "--entry", "SpikeLMForSequenceClassification", "--arg", "vocab=625", "--arg", "d=64", "--arg", "heads=4", "--arg", "depth=2", "--arg", "ffn=256", "--arg", "ctx=128", "--to", "pytorch", "-o", path.join(dir, "classifier.py")]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(["classifier.py", "train_ddp.py"]);
    const code = fs.readFileSync(path.join(dir, "classifier.py"), "utf8");
    for (const cls of ["SpikeLMForSequenceClassification", "SpikeBertEmbeddings", "MaskedSpikeBlock", "MaskedSpikeSelfAttention", "SpikeLinear", "SpikeLMReference", "BiSpikeQuant", "LayerNorm", "Embedding", "Linear"])
      expect(code).toMatch(new RegExp(`^class ${cls}\\((nn\\.Module|SpikingNeuron)\\):`, "m"));
    expect(code).toMatch(/class ElasticBiSpike|class Surrogate\(torch\.autograd\.Function\)/);
    expect(fs.readFileSync(path.join(dir, "train_ddp.py"), "utf8")).toMatch(/import classifier as exported/);
  });

  it("an unsupported construct: file:line:col and the construct, nothing written; bad module name; no authors' naming", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "cli-"));
    const spec = path.join(dir, "mix.spk");
    fs.writeFileSync(spec, "layer Mix(d) {\n  forward(x: [T, 2, d], y: [3, 2, d]) -> [T, 3, 2, d] {\n    return x + y\n  }\n}\n");
    await expect(exportCommand(spec, { entry: "Mix", arg: ["d=4"], timesteps: "4", to: "pytorch", out: path.join(dir, "mix.py") })).rejects.toThrow(
      /mix\.spk:3:12: cannot export `\+` between a tensor with a time axis and one with more per-step axes .* to PyTorch/,
    );
    const tiny = path.join(root, "models/tiny/tiny_spikelm.spk");
    await expect(exportCommand(tiny, { entry: "TinySpikeLM", to: "pytorch", out: path.join(dir, "my-model.py") })).rejects.toThrow(/must be a Python module name/);
    await expect(exportCommand(tiny, { entry: "TinySpikeLM", to: "pytorch", names: "reference", out: path.join(dir, "m.py") })).rejects.toThrow(/does not follow the reference code/);
    expect(fs.readdirSync(dir)).toEqual(["mix.spk"]);
  });
});

describe("PyTorch export: the authors' golden gradients (*_train.json)", () => {
  const files = fs.readdirSync(GOLDEN).filter((f) => f.endsWith(".json") && f.includes("_train"));
  let jobs: { g: Record<string, any>; prefix: string; out: string; job: object }[] = [];
  extraJobs.push(() => {
    const dir = path.join(tmp, "golden");
    fs.mkdirSync(dir);
    const oneBit = path.join(dir, "linear1bit.spk");
    fs.writeFileSync(oneBit, 'import "std/neurons"\nimport "std/layers"\n\nlayer SpikeLinear1Bit(inp, out) {\n  lin = SpikeLinear(inp, out, SpikeLMReference1Bit())\n  forward(x: [T, B, L, inp]) -> [T, B, L, out] {\n    return lin(x)\n  }\n}\n');
    jobs = files.map((name, n) => {
      const g = readJson(path.join(GOLDEN, name)) as Record<string, any>;
      const bits = g.config.input_bits as number;
      const { Din, Dout } = g.shapes as Record<string, number>;
      const prefix = bits === 1 ? "lin." : "";
      const x = tensorFromNested(g.input);
      const file = bits === 1 ? oneBit : path.join(root, "stdlib/layers.spk");
      const entry = bits === 1 ? "SpikeLinear1Bit" : "SpikeLinear";
      const ex = exportPytorch({ file, entry, args: { inp: Din!, out: Dout! }, inputs: new Map([["x", x]]) });
      const module = path.join(dir, `m${n}.py`);
      fs.writeFileSync(module, ex.code);
      const w = new Map<string, Tensor>([
        [`${prefix}W`, tensorFromNested(g.weight)],
        [`${prefix}b`, tensorFromNested(g.bias)],
        [`${prefix}fire.alpha`, f32([g.alpha_init.length], g.alpha_init)],
      ]);
      fs.writeFileSync(path.join(dir, `w${n}.safetensors`), serializeSafetensors(w));
      const ones = f32([...x.shape.slice(0, -1), Dout!], new Float32Array((x.data.length / Din!) * Dout!).fill(1)); // loss = output.sum()
      fs.writeFileSync(path.join(dir, `in${n}.safetensors`), serializeSafetensors(new Map([["x", x], ["__seed", ones]])));
      return { g, prefix, out: path.join(dir, `out${n}.safetensors`), job: { module, weights: path.join(dir, `w${n}.safetensors`), inputs: path.join(dir, `in${n}.safetensors`), out: path.join(dir, `out${n}.safetensors`), grad_seed: "__seed", train_amplitudes: true } };
    });
    return jobs.map((j) => j.job);
  });
  it.skipIf(!PY)(`SpikeLinear (2-bit and 1-bit): grad_input, grad_weight, grad_bias and the LSQ amplitude gradient within 1e-5 x max|g|${SKIP}`, () => {
    runAll();
    for (const { g, prefix, out } of jobs) {
      const t = readSafetensors(out).tensors;
      const check = (got: Tensor | undefined, want: unknown, what: string) => {
        const w = tensorFromNested(want).data;
        expect(got, what).toBeDefined();
        const d = maxDiff(got!.data, w);
        expect(d, `${what}: max |diff| ${d}, max |g| ${maxAbs(w)}`).toBeLessThanOrEqual(1e-5 * Math.max(maxAbs(w), 1e-30));
      };
      check(t.get("output"), g.output, "output");
      check(t.get("grad_input/x"), g.grad_input, "grad_input");
      check(t.get(`grad/${prefix}W`), g.grad_weight, "grad_weight");
      check(t.get(`grad/${prefix}b`), g.grad_bias, "grad_bias");
      check(t.get(`grad/${prefix}fire.alpha`), g.grad_alpha_if_alpha_requires_grad, "grad_alpha (LSQ)");
    }
    expect(jobs.length).toBe(3);
  });
});
