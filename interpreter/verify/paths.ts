/**
 * The execution paths `spikelm verify` (and the optimizer's property test) compare with the
 * reference interpreter: the optimized executor on every spike-accumulate backend, variant
 * and thread count it can use, plus the automatic choice, with neuron steps, elementwise
 * programs, GELU, softmax and LayerNorm in generated JavaScript (the JS paths) and on
 * WebAssembly (the WebAssembly paths, one thread and two). The native paths force the
 * AVX-512 addon's spike kernels (engine/kernels/native-backend.ts) on specs far too small
 * for "auto" to pick them: one thread with its variant left to the kernels (event-driven
 * accumulate, the dense-times-levels kernel for attention), and two threads event-driven
 * throughout (attention on the strided accumulate); the other kernels as "auto" chooses
 * them (native where the addon loads). Every one computes the same bits.
 */
import { nativeStatus, type SpikeBackend, type SpikeVariant } from "../engine/kernels/spike-matmul.js";
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
  { name: "native, 1 thread", backend: "native", threads: 1 },
  { name: "native event, 2 threads", backend: "native", variant: "event", threads: 2 },
  { name: "auto" },
];

/**
 * The paths usable here: without WebAssembly only the JS ones, without a worker one thread,
 * without the native addon (`native`, by default whether it loads: nativeStatus()) none of
 * the native ones.
 */
export function availablePaths(available: { wasm: boolean; threads: number; native?: boolean }): KernelPath[] {
  const native = available.native ?? nativeStatus().ready;
  return KERNEL_PATHS.filter((p) => (p.backend !== "wasm" || available.wasm) && (p.backend !== "native" || native) && (p.threads ?? 1) <= Math.max(1, available.threads));
}
