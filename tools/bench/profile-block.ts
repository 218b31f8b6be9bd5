/**
 * Where the bench's BERT-base-sized encoder block spends its time, node by node, and what
 * the kernel pool's worker does meanwhile:
 *   node --import tsx tools/bench/profile-block.ts [k=1] [runs=5] [threads=2]
 * prints per node (summed over the time steps) the process CPU time and the wall time per
 * run, largest CPU first, then the worker's ms running jobs and spinning idle, its sleeps and
 * jobs, and the caller's share of the spike-accumulate work items. On a shared machine wall
 * time mostly measures the other jobs; CPU time (every thread of the process) is the steadier
 * view, and a node's CPU time includes the worker's share of its kernels.
 * For a sampled profile of the same runs: node --cpu-prof --import tsx tools/bench/profile-block.ts.
 */
import { benchBlock } from "./bench-block.js";
import { initSpikeKernels, shutdownKernelPool } from "../../interpreter/engine/kernels/spike-matmul.js";
import { kernelPoolStats, phaseTimes } from "../../interpreter/engine/kernels/wasm-backend.js";
import type { IRNode } from "../../interpreter/ir/graph.js";
import { OptimizedExecutor } from "../../interpreter/optimized/executor.js";
import type { PlannedNode } from "../../interpreter/optimized/plan.js";
import { ParamStore } from "../../interpreter/runtime/params.js";

const [k, runs, threads] = [Number(process.argv[2] ?? 1), Number(process.argv[3] ?? 5), Number(process.argv[4] ?? 2)];
await initSpikeKernels({ threads: 2 });
const d = 768;
const { graph, inputs } = benchBlock(d, 128, k); // the layers group's block and input
const ex = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { threads });
ex.run(inputs); // calibrates the amplitudes
ex.run(inputs);

/** A node's label: op, what it computes (fused program, spike-matmul side/form) and shape. */
function label(n: IRNode, shape: readonly number[]): string {
  const what = n.op === "fused" ? ` ${(n.attrs.program as { op: string }[]).map((q) => q.op).join(",")}` : n.op === "spike_matmul" ? ` ${n.attrs.side}/${n.attrs.form}` : "";
  return `%${n.id} ${n.op}${what} [${shape.join("x")}]`;
}

// time each node through the executor's one dispatch point
const perNode = new Map<string, { wall: number; cpu: number }>();
const target = ex as unknown as { execOp(p: PlannedNode, t: number): void };
const execOp = target.execOp.bind(ex);
target.execOp = (p, t) => {
  const w0 = performance.now();
  const c0 = process.cpuUsage();
  execOp(p, t);
  const c = process.cpuUsage(c0);
  const key = label(p.node, p.shape);
  const e = perNode.get(key) ?? { wall: 0, cpu: 0 };
  e.wall += performance.now() - w0;
  e.cpu += (c.user + c.system) / 1000;
  perNode.set(key, e);
};

const s0 = kernelPoolStats()[0];
phaseTimes.enabled = true;
const c0 = process.cpuUsage();
const w0 = performance.now();
for (let i = 0; i < runs; i++) ex.run(inputs);
const wall = (performance.now() - w0) / runs;
const cu = process.cpuUsage(c0);
const s1 = kernelPoolStats()[0];
const ms = (v: number) => (v / runs).toFixed(1).padStart(7);
const out: string[] = [`block d${d} k=${k} ${threads} thread(s): ${wall.toFixed(1)} ms wall, ${((cu.user + cu.system) / 1000 / runs).toFixed(1)} ms CPU per run`, "    cpu    wall  node"];
for (const [key, v] of [...perNode].sort((a, b) => b[1].cpu - a[1].cpu)) if (v.cpu / runs >= 0.5) out.push(`${ms(v.cpu)} ${ms(v.wall)}  ${key}`);
if (s0 && s1) {
  out.push(`worker per run: ${ms(s1.busyMs - s0.busyMs)} ms running jobs, ${ms(s1.spinMs - s0.spinMs)} ms spinning idle, ${((s1.sleeps - s0.sleeps) / runs).toFixed(1)} sleeps, ${((s1.jobs - s0.jobs) / runs).toFixed(1)} jobs`);
}
out.push(`caller did ${phaseTimes.callerItems} of ${phaseTimes.items} spike-accumulate work items`);
process.stdout.write(out.join("\n") + "\n");
await shutdownKernelPool();
