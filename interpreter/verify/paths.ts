/**
 * The execution paths `spikelm verify` (and the optimizer's property test) compare with the
 * reference interpreter: the optimized executor on every spike-accumulate backend, variant
 * and thread count it can use, plus the automatic choice, with neuron steps, elementwise
 * programs, GELU, softmax and LayerNorm in generated JavaScript (the JS paths) and on
 * WebAssembly (the WebAssembly paths, one thread and two). Every one computes the same bits.
 */
import type { SpikeBackend, SpikeVariant } from "../engine/kernels/spike-matmul.js";
import type { ExecutorOptions } from "../optimized/executor.js";

export interface KernelPath extends ExecutorOptions {
  readonly name: string;
}

export const KERNEL_PATHS: readonly KernelPath[] = [
  { name: "js event, js neurons", backend: "js" as SpikeBackend, variant: "event" as SpikeVariant, threads: 1, neurons: "js", numerics: "js" },
  { name: "js dense, js neurons", backend: "js", variant: "dense", threads: 1, neurons: "js", numerics: "js" },
  { name: "wasm event, wasm neurons", backend: "wasm", variant: "event", threads: 1, neurons: "wasm" },
  { name: "wasm dense, wasm neurons", backend: "wasm", variant: "dense", threads: 1, neurons: "wasm" },
  { name: "wasm event, wasm neurons, 2 threads", backend: "wasm", variant: "event", threads: 2, neurons: "wasm" },
  { name: "wasm dense, wasm neurons, 2 threads", backend: "wasm", variant: "dense", threads: 2, neurons: "wasm" },
  { name: "auto" },
];

/** The paths usable here: without WebAssembly only the JS ones, without a worker one thread. */
export function availablePaths(available: { wasm: boolean; threads: number }): KernelPath[] {
  return KERNEL_PATHS.filter((p) => (p.backend !== "wasm" || available.wasm) && (p.threads ?? 1) <= Math.max(1, available.threads));
}
