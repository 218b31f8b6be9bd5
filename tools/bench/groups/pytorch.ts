/**
 * Benchmark group "pytorch": the BERT-base-sized spiking encoder block (d 768, 12 heads, FFN
 * 3072, T 4, 128 tokens, SpikeLMReference at k = 1 and k = 2) on spikelm's optimized executor
 * vs the same block in PyTorch, the issue's second yardstick (the authors' code on CPU).
 *
 * The PyTorch side is the block exported by `spikelm export --to pytorch` (tools/export/
 * pytorch.ts): readable nn.Modules whose neuron is the authors' (float spike * amplitude
 * tensors, then dense nn.Linear-style products and matmuls, as their code does), with the same
 * weights and the amplitudes our executor calibrated, loaded from safetensors. One python
 * child (tools/bench/torch_block_server.py, Debian's python3-torch, OpenBLAS when installed)
 * holds the module and answers "run" requests with its own timing (perf_counter around the
 * forward under torch.no_grad(), process_time for its CPU), so rounds alternate our run and a
 * python run in the same window, as the layers group's rounds do.
 *
 * Once per k, PyTorch's output and every neuron's spike levels are compared with ours (output
 * within 1e-5 x max(1, max|output|), the export tests' tolerance: PyTorch sums and
 * approximates in its own order; spikes counted where they differ).
 *
 * Rows: `block ... (k) 2t` vs `pytorch-block 2t` (both at 2 threads) and `1t` (both at 1);
 * ratio = torch ms / spikelm ms (> 1: spikelm faster). JSON rows also carry both CPU times
 * (ours: process.cpuUsage of this process, kernel workers included; torch's: the child's
 * process_time) and their ratio, the load average, torch's version, parallel configuration and
 * which BLAS its sgemm_ is, and its OpenMP wait policy (PASSIVE unless OMP_WAIT_POLICY is set:
 * see blockVsTorch). Without a python3 that imports torch, the rows are printed as
 * skipped with the reason.
 */
import * as fs from "node:fs";
import { loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { nativeStatus } from "../../../interpreter/engine/kernels/native-backend.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { type Tensor, copyTensor } from "../../../interpreter/engine/tensor.js";
import { readSafetensors, serializeSafetensors } from "../../../interpreter/io/safetensors.js";
import { OptimizedExecutor } from "../../../interpreter/optimized/executor.js";
import { ParamStore } from "../../../interpreter/runtime/params.js";
import { exportPytorch } from "../../export/pytorch.js";
import { benchBlock } from "../bench-block.js";
import { type BenchContext, type BenchRow, registerGroup } from "../registry.js";
import { median } from "../stats.js";
import { type Reply, TorchChild, findTorchPython } from "../torch-child.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const SPEC = path.join(ROOT, "tools/bench/specs/bench-layers.spk");
const SERVER = path.join(ROOT, "tools/bench/torch_block_server.py");
const T = 4;
/** Output tolerance, relative to max(1, max|output|): the export tests' (test/export.pytorch.test.ts). */
const OUTPUT_TOL = 1e-5;
const START_TIMEOUT_MS = 180_000;
const REQUEST_TIMEOUT_MS = 120_000;

interface Sample {
  ms: number;
  cpuMs: number;
}

interface Contender {
  readonly measure: () => Promise<Sample>;
  readonly samples: Sample[];
}

/** Warm-up, then n rounds; each round runs every contender once, starting one later each round. */
async function rounds(ctx: BenchContext, label: string, cs: readonly Contender[], n: number): Promise<void> {
  for (const c of cs) await c.measure();
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < cs.length; i++) {
      const c = cs[(i + r) % cs.length]!;
      c.samples.push(await c.measure());
    }
    ctx.step(`${label} round ${r + 1}/${n}`);
  }
}

function ours(ex: OptimizedExecutor, inputs: ReadonlyMap<string, Tensor>): Contender {
  return {
    samples: [],
    measure: async () => {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      ex.run(inputs);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
    },
  };
}

function theirs(child: TorchChild, threads: number, roundTrips: number[]): Contender {
  return {
    samples: [],
    measure: async () => {
      const t0 = performance.now();
      const r = ok(await child.request({ op: "run", threads }, REQUEST_TIMEOUT_MS), "run");
      roundTrips.push(performance.now() - t0);
      if (r["threads"] !== threads) throw new Error(`torch ran with ${String(r["threads"])} threads, asked for ${threads}`);
      return { ms: r["ms"] as number, cpuMs: r["cpu_ms"] as number };
    },
  };
}

function ok(r: Reply, what: string): Extract<Reply, { ok: true }> {
  if (!r.ok) throw new Error(`PyTorch ${what} failed: ${r.error}`);
  return r;
}

interface Agreement {
  torch_max_abs_diff: number;
  torch_output_within_tol: boolean;
  /** Output elements farther from ours than the tolerance (where a differing spike lands). */
  torch_outputs_outside_tol: number;
  torch_spikes_identical: boolean;
  torch_spikes_differing: number;
  /** Neurons with differing levels and how many (a flip at a rounding boundary changes what follows it). */
  torch_spikes_differing_by_neuron: Record<string, number>;
  torch_spikes_compared: number;
  torch_neurons_compared: number;
}

/** PyTorch's output and spike levels against ours (same input, weights and amplitudes). */
function agreement(mine: Tensor, levels: ReadonlyMap<string, Tensor>, torch: ReadonlyMap<string, Tensor>): Agreement {
  const out = torch.get("output");
  if (!out || out.shape.join() !== mine.shape.join()) throw new Error(`PyTorch's output has shape [${out?.shape.join(", ")}], ours [${mine.shape.join(", ")}]`);
  let big = 1;
  for (const v of mine.data) big = Math.max(big, Math.abs(v));
  const tol = OUTPUT_TOL * big;
  let diff = 0;
  let outside = 0;
  for (let i = 0; i < mine.data.length; i++) {
    const d = Math.abs(mine.data[i]! - out.data[i]!);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    if (!(d <= tol)) outside++;
  }
  let differing = 0;
  let compared = 0;
  const byNeuron: Record<string, number> = {};
  for (const [k, lv] of levels) {
    const got = torch.get(`spikes/${k}`);
    if (!got || got.shape.join() !== lv.shape.join()) throw new Error(`PyTorch recorded no spikes of shape [${lv.shape.join(", ")}] for neuron ${k}`);
    let here = 0;
    for (let i = 0; i < lv.data.length; i++) if (got.data[i] !== lv.data[i]) here++;
    if (here) byNeuron[k] = here;
    differing += here;
    compared += lv.data.length;
  }
  return {
    torch_max_abs_diff: Number(diff.toExponential(2)),
    torch_output_within_tol: outside === 0,
    torch_outputs_outside_tol: outside,
    torch_spikes_identical: differing === 0,
    torch_spikes_differing: differing,
    torch_spikes_differing_by_neuron: byNeuron,
    torch_spikes_compared: compared,
    torch_neurons_compared: levels.size,
  };
}

function firingRate(levels: ReadonlyMap<string, Tensor>): number {
  let nz = 0;
  let total = 0;
  for (const lv of levels.values()) {
    for (const v of lv.data) if (v !== 0) nz++;
    total += lv.data.length;
  }
  return total ? nz / total : 0;
}

const blockName = (d: number, L: number, k: number, threads: number) => `block d${d} h12 ffn${4 * d} T${T} L${L} (k=${k}) ${threads}t`;

async function blockVsTorch(ctx: BenchContext, python: string, d: number, L: number, k: number, n: number): Promise<BenchRow[]> {
  const args = { d, heads: 12, ffn: 4 * d, k };
  const { graph, compiled, inputs } = benchBlock(d, L, k, T);
  const params = ParamStore.create(graph.params, new Map(), { seed: 1 });
  const ex2 = new OptimizedExecutor(graph, params, { threads: 2 });
  const ex1 = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { threads: 1 });
  const o2 = ex2.run(inputs, { record: true }); // calibrates the amplitudes in `params`
  // the executor's tensors live in its arena: keep copies
  const mine = copyTensor(o2.output);
  const levels = new Map([...o2.record].map(([key, r]) => [key, copyTensor(r.levels)]));
  ex1.run(inputs);

  const dir = fs.mkdtempSync(path.join(tmpdir(), "spikelm-torch-bench-"));
  let child: TorchChild | undefined;
  try {
    const exported = exportPytorch({ file: SPEC, entry: "BenchBlock", args, inputs });
    const files = { module: path.join(dir, "block.py"), weights: path.join(dir, "weights.safetensors"), inputs: path.join(dir, "inputs.safetensors"), check: path.join(dir, "check.safetensors") };
    fs.writeFileSync(files.module, exported.code);
    fs.writeFileSync(files.weights, serializeSafetensors(new Map([...params.entries].map(([p, e]) => [p, e.tensor as Tensor]))));
    fs.writeFileSync(files.inputs, serializeSafetensors(inputs));
    // OpenMP threads that wait passively, as onnxruntime's in the layers group (allow_spinning 0):
    // on this shared 2-core machine libgomp's default spin-waiting made PyTorch's 2-thread
    // forward many times slower than its 1-thread one. OMP_WAIT_POLICY set by the caller is kept.
    const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "PASSIVE" };
    const started = await TorchChild.start(python, SERVER, [files.module, files.weights, files.inputs], START_TIMEOUT_MS, env);
    child = started.child;
    const info = ok(started.first, "module load")["info"] as Record<string, unknown>;
    // the yardstick is PyTorch with OpenBLAS: say so in the table when its sgemm_ is another BLAS
    const sgemm = String((info["blas"] as Record<string, unknown> | undefined)?.["sgemm_provider"] ?? "unknown");
    const blasNote = /openblas/i.test(sgemm) ? "" : ` (not OpenBLAS: sgemm_ from ${path.basename(sgemm)})`;
    ok(await child.request({ op: "check", out: files.check, threads: 2 }, REQUEST_TIMEOUT_MS), "check run");
    const agree = agreement(mine, levels, readSafetensors(files.check).tensors);
    ctx.step(`pytorch block d${d} k=${k}: export and check`);
    if (!agree.torch_output_within_tol || !agree.torch_spikes_identical)
      ctx.log(`pytorch block k=${k}: PyTorch differs from spikelm: max |diff| ${agree.torch_max_abs_diff} (${agree.torch_outputs_outside_tol} outputs outside tolerance), ${agree.torch_spikes_differing} of ${agree.torch_spikes_compared} spikes`);

    const trips2: number[] = [];
    const trips1: number[] = [];
    const cs = [ours(ex2, inputs), theirs(child, 2, trips2), ours(ex1, inputs), theirs(child, 1, trips1)];
    const loadBefore = loadavg()[0]!;
    await rounds(ctx, `pytorch block d${d} k=${k}`, cs, n);
    const loadAfter = loadavg()[0]!;
    const med = (c: Contender, f: (s: Sample) => number) => median(c.samples.map(f));
    const r2 = (v: number) => Number(v.toFixed(2));
    const row = (threads: number, mineC: Contender, torchC: Contender, trips: number[]): BenchRow => {
      const [s, b] = [med(mineC, (q) => q.ms), med(torchC, (q) => q.ms)];
      const [sc, bc] = [med(mineC, (q) => q.cpuMs), med(torchC, (q) => q.cpuMs)];
      return {
        name: blockName(d, L, k, threads),
        shape: null,
        rate: Number(firingRate(levels).toFixed(4)),
        vs: `pytorch-block ${threads}t${blasNote}`,
        ratio: b / s,
        spike_ms: r2(s),
        base_ms: r2(b),
        spike_cpu_ms: r2(sc),
        base_cpu_ms: r2(bc),
        cpu_ratio: Number((bc / sc).toFixed(3)),
        torch_round_trip_ms: r2(median(trips)),
        load_average: [Number(loadBefore.toFixed(2)), Number(loadAfter.toFixed(2))],
        spikelm_native: nativeStatus().ready,
        ...agree,
        torch_version: info["torch"],
        torch_blas_build: info["blas_build"],
        torch_blas: info["blas"],
        torch_omp_wait_policy: info["omp_wait_policy"],
        torch_parallel_info: info["parallel_info"],
      };
    };
    return [row(2, cs[0]!, cs[1]!, trips2), row(1, cs[2]!, cs[3]!, trips1)];
  } finally {
    await child?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

registerGroup("pytorch", async (ctx) => {
  const quick = ctx.quick;
  const n = quick ? 3 : 7;
  const d = quick ? 192 : 768;
  const L = quick ? 32 : 128;
  const found = findTorchPython();
  if (!("python" in found)) {
    ctx.log(`pytorch: skipped: ${found.reason}`);
    return [1, 2].flatMap((k) =>
      [2, 1].map((t) => ({ name: blockName(d, L, k, t), shape: null, rate: null, vs: `pytorch-block ${t}t (skipped: ${found.reason})`, ratio: NaN, skipped: found.reason })),
    );
  }
  await initSpikeKernels({ threads: 2 });
  ctx.addSteps(2 * (n + 1));
  const rows: BenchRow[] = [];
  for (const k of [1, 2]) rows.push(...(await blockVsTorch(ctx, found.python, d, L, k, n)));
  return rows;
});
