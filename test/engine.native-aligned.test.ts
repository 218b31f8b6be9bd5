/**
 * Typed arrays the native kernels read 64 bytes at a time start on 64-byte boundaries
 * (native-backend.ts alignedArray; copy_native.c lineOffset): V8 aligns backing stores to 16
 * bytes only, and a misaligned packed weight made the spike accumulate run at half speed.
 * Checked: the addon's lineOffset reads real addresses (multiples of 16 below 64, varying
 * between buffers), alignedArray's views start exactly there, and the optimized executor's
 * planned buffers and neuron buffers are such views. Skipped, with the reason, where the
 * addon cannot be loaded (alignedArray then makes plain arrays).
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { alignedArray, nativeAddon } from "../interpreter/engine/kernels/native-backend.js";
import { nativeStatus } from "../interpreter/engine/kernels/spike-matmul.js";
import { f32, type Tensor } from "../interpreter/engine/tensor.js";
import { OptimizedExecutor } from "../interpreter/optimized/executor.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ParamStore } from "../interpreter/runtime/params.js";

const status = nativeStatus();
const SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../tools/bench/specs/bench-layers.spk");

/** Whether a view starts at its buffer's first 64-byte boundary. */
function lineAligned(a: ArrayBufferView): boolean {
  return a.byteOffset === nativeAddon()!.lineOffset(a.buffer as ArrayBuffer);
}

describe.skipIf(!status.ready)(`64-byte aligned arrays for the native kernels${status.ready ? "" : ` (SKIPPED: ${status.reason})`}`, () => {
  it("lineOffset gives a multiple of 16 below 64 that differs between buffers (it reads the address), and refuses what is not an ArrayBuffer", () => {
    const a = nativeAddon()!;
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const o = a.lineOffset(new ArrayBuffer(64 + (i % 7) * 4096));
      expect(o % 16).toBe(0);
      expect(o).toBeLessThan(64);
      seen.add(o);
    }
    expect(seen.size).toBeGreaterThan(1);
    expect(() => a.lineOffset(new Float32Array(4) as unknown as ArrayBuffer)).toThrow(RangeError);
  });

  it("alignedArray: zeroed, n elements, starting at the buffer's first 64-byte boundary, for every kind and size", () => {
    for (const kind of ["f32", "i32", "i8"] as const) {
      for (const n of [0, 1, 15, 16, 17, 1000, 393216]) {
        const x = alignedArray(kind, n);
        expect(x.length).toBe(n);
        expect(x.every((v) => v === 0)).toBe(true);
        expect(lineAligned(x)).toBe(true);
        expect(x.byteOffset + x.byteLength).toBeLessThanOrEqual(x.buffer.byteLength);
      }
    }
  });

  it("the optimized executor's planned buffers and neuron buffers are aligned views", () => {
    const [T, L, d] = [4, 8, 32];
    const inputs = new Map<string, Tensor>([["x", f32([T, 1, L, d], new Float32Array(T * L * d).fill(0.5))]]);
    const compiled = compileEntry({ file: SPEC, entry: "BenchBlock", args: { d, heads: 2, ffn: 64, k: 1 }, inputs });
    const { graph } = optimize(compiled.graph);
    const ex = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { threads: 1, keepValues: true });
    ex.run(inputs);
    const planned = [...(ex as unknown as { plan: { buffers: Map<number, ArrayBufferView> } }).plan.buffers.values()];
    expect(planned.length).toBeGreaterThan(10);
    expect(planned.filter((b) => !lineAligned(b))).toEqual([]);
    const neuronIds = graph.nodes.filter((n) => n.op === "neuron").map((n) => n.id);
    expect(neuronIds.length).toBeGreaterThan(3);
    for (const id of neuronIds) {
      const o = ex.neuronOutputs(id)!;
      for (const b of [o.levels, o.value].filter((v): v is NonNullable<typeof v> => v !== undefined)) expect(lineAligned(b)).toBe(true);
    }
  });
});
