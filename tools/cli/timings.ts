/**
 * Where a one-shot model command's wall time goes (`--timings`): process start to the
 * command's first line (node, module loading), the WebAssembly kernels (their module
 * compiled, and the wait for their worker threads, which start while the spec compiles), the
 * model resolved (tokenizer, weights file read and mapped), then the run's stages
 * (interpreter/run.ts), and the process's CPU time on all threads. The startup bench group
 * reads this line off the real command.
 */
import { initSpikeKernels, nativeStatus, setPackedCacheLimit, spikeKernelCalls, weightScanStats } from "../../interpreter/engine/kernels/spike-matmul.js";
import { executorStats } from "../../interpreter/optimized/executor.js";
import { startSeedWasm } from "../../interpreter/runtime/seed-wasm.js";
import { prefillStats, seedThreadStats, seedWasmStats } from "../../interpreter/runtime/seed-threads.js";
import { wasmNeuronStats } from "../../interpreter/optimized/neuron-wasm.js";
import { vecMachineRuns } from "../../interpreter/engine/kernels/wasm-vector.js";
import type { RunTimings } from "../../interpreter/run.js";

export interface CommandTimings extends RunTimings {
  /** From process start (performance's time origin) to the command's action. */
  readonly startup: number;
  /** Compiling the WebAssembly kernels, then waiting for their worker threads before the forward. */
  kernels: number;
  /** Resolving the model: tokenizer, and reading and mapping a weights file. */
  model?: number;
}

/** The kernels of a one-shot command, started: `ready()` before the forward. */
export interface KernelStart {
  readonly timings: CommandTimings;
  /** Resolves when the kernels and their worker threads are ready (the wait is added to `timings.kernels`). */
  ready(): Promise<void>;
}

/**
 * Starts the WebAssembly kernels of a one-shot command: the module is compiled now (and the
 * seeder's, for weights a model does not ship) and the worker threads are started, then the
 * command resolves its model and compiles the spec (synchronous work, during which the
 * threads boot) and calls `ready()` right before the
 * forward, so the forward runs on the WebAssembly kernels with both threads. The forward
 * multiplies by each weight once, so packed copies of weights are not kept for reuse (cache
 * limit 0): keeping them grew the kernels' memory by two packed copies of every spiking
 * weight (+640 MB peak RSS for classifier-base, and the first touch of those pages made the
 * forward ~30% slower).
 */
export async function startKernels(): Promise<KernelStart> {
  const startup = performance.now();
  // The seeder too: a model without weights file is seeded after ready() (runtime/seed-wasm.ts).
  const pool = Promise.all([initSpikeKernels(), startSeedWasm()]);
  setPackedCacheLimit(0);
  // One turn of the event loop: the module compiles and the threads are created (they then
  // boot on their own) before the command's synchronous work holds this thread.
  await new Promise<void>((resolve) => setImmediate(resolve));
  // The native addon (built on first use, seconds; then loaded in a few ms) while the
  // threads boot: its build counts as kernels, not as the forward's first spike product.
  nativeStatus();
  const timings: CommandTimings = { startup, kernels: performance.now() - startup };
  return {
    timings,
    ready: async () => {
      const t0 = performance.now();
      await pool;
      timings.kernels += performance.now() - t0;
    },
  };
}

const STAGES = ["startup", "kernels", "model", "compile", "optimize", "params", "forward"] as const;

/** Why the native kernels did not run, when they could not: " (native kernels unavailable: no C compiler (cc) ...)". */
function nativeNote(): string {
  const s = nativeStatus();
  return s.ready ? "" : ` (native kernels unavailable: ${s.reason})`;
}

/**
 * `timings: startup 310 ms, kernels 95 ms, ..., total 2410 ms, cpu 3050 ms; seeded during the
 * compile: 85017600 values (85017600 of 85411584 started on wasm); seeded on wasm: 0 values;
 * spike matmuls: 84 native, 0 wasm, 0 js; neuron steps: 96 compiled, 0 reference; vector
 * machine: 120 native, 0 wasm; weight-only values: 0 elements; weight elements scanned: 0`
 * (stages not run are left out): where the time went, and what the forward actually ran:
 * kernel calls per backend (and, after them, why the native kernels are unavailable when
 * they are: "0 js (native kernels unavailable: turned off (SPIKELM_NATIVE=0))"), neuron steps on compiled kernels and on the reference step,
 * programs (neuron steps, fused elementwise) per vector machine, values computed from weights alone (a transposed copy of a weight) and
 * weights scanned for non-finite values.
 */
export function timingsLine(t: CommandTimings): string {
  const parts = STAGES.filter((s) => t[s] !== undefined).map((s) => `${s} ${Math.round(t[s]!)} ms`);
  const cpu = process.cpuUsage();
  const kernels =
    `seeded during the compile: ${prefillStats.values} values (${prefillStats.onWasm} of ${prefillStats.started} started on wasm); ` +
    `seeded on wasm: ${seedWasmStats.values} values${seedThreadStats.filledByThread ? " (2 threads)" : ""}; spike matmuls: ${spikeKernelCalls.native} native, ${spikeKernelCalls.wasm} wasm, ${spikeKernelCalls.js} js${nativeNote()}; ` +
    `neuron steps: ${wasmNeuronStats.runs} compiled, ${executorStats.referenceNeuronSteps} reference; vector machine: ${vecMachineRuns.native} native, ${vecMachineRuns.wasm} wasm; ` +
    `weight-only values: ${executorStats.weightOnlyElements} elements; weight elements scanned: ${weightScanStats.elements}`;
  return `timings: ${parts.join(", ")}, total ${Math.round(performance.now())} ms, cpu ${Math.round((cpu.user + cpu.system) / 1000)} ms; ${kernels}`;
}
