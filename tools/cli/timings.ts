/**
 * Where a one-shot model command's wall time goes (`--timings`): process start to the
 * command's first line (node, module loading), WebAssembly kernels ready, the model resolved
 * (tokenizer, weights file read and mapped), then the run's stages (interpreter/run.ts).
 * The startup bench group reads this line off the real command.
 */
import { initSpikeKernels, setPackedCacheLimit, spikeKernelCalls } from "../../interpreter/engine/kernels/spike-matmul.js";
import { wasmNeuronStats } from "../../interpreter/optimized/neuron-wasm.js";
import type { RunTimings } from "../../interpreter/run.js";

export interface CommandTimings extends RunTimings {
  /** From process start (performance's time origin) to the command's action. */
  readonly startup: number;
  /** Compiling and instantiating the WebAssembly kernels (and their worker threads). */
  readonly kernels: number;
  /** Resolving the model: tokenizer, and reading and mapping a weights file. */
  model?: number;
}

/**
 * The kernels compiled and awaited before the one forward of a one-shot command runs;
 * returns the time so far. The forward multiplies by each weight once, so packed copies of
 * weights are not kept for reuse (cache limit 0): keeping them grew the kernels' memory by
 * two packed copies of every spiking weight (+640 MB peak RSS for classifier-base, and the
 * first touch of those pages made the forward ~30% slower).
 */
export async function kernelsReady(): Promise<CommandTimings> {
  const startup = performance.now();
  await initSpikeKernels();
  setPackedCacheLimit(0);
  return { startup, kernels: performance.now() - startup };
}

const STAGES = ["startup", "kernels", "model", "compile", "optimize", "params", "forward"] as const;

/**
 * `timings: startup 310 ms, kernels 95 ms, ..., total 2410 ms; spike matmuls: 84 wasm, 0 js;
 * neuron steps: 96 wasm` (stages not run are left out): where the time went, and which
 * kernels the forward actually ran.
 */
export function timingsLine(t: CommandTimings): string {
  const parts = STAGES.filter((s) => t[s] !== undefined).map((s) => `${s} ${Math.round(t[s]!)} ms`);
  const kernels = `spike matmuls: ${spikeKernelCalls.wasm} wasm, ${spikeKernelCalls.js} js; neuron steps: ${wasmNeuronStats.runs} wasm`;
  return `timings: ${parts.join(", ")}, total ${Math.round(performance.now())} ms; ${kernels}`;
}
