/**
 * Where a one-shot model command's wall time goes (`--timings`): process start to the
 * command's first line (node, module loading), WebAssembly kernels ready, the model resolved
 * (tokenizer, weights file read and mapped), then the run's stages (interpreter/run.ts).
 * The startup bench group reads this line off the real command.
 */
import { initSpikeKernels, spikeKernelCalls } from "../../interpreter/engine/kernels/spike-matmul.js";
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

/** The kernels compiled and awaited before any model runs; returns the time so far. */
export async function kernelsReady(): Promise<CommandTimings> {
  const startup = performance.now();
  await initSpikeKernels();
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
