/**
 * The parameter store declares the weights it creates finite to the spike kernels
 * (runtime/params.ts, seededFinite): seeded values under a bound or std that cannot overflow
 * float32, checked given values, finite fills. Amplitudes (calibrated in place) and seeds
 * that could overflow are left to the kernels' scan.
 */
import { describe, expect, it } from "vitest";
import { knownFinite, spikeMatmul, weightScanStats } from "../interpreter/engine/kernels/spike-matmul.js";
import { f32 } from "../interpreter/engine/tensor.js";
import type { ParamSpec } from "../interpreter/ir/graph.js";
import { ParamStore, seededFinite } from "../interpreter/runtime/params.js";
import { weightsFromTensors } from "../models/load-weights.js";

const F32_MAX = 3.4028234663852886e38;
const origin = { uri: "test.spk", span: { start: 0, end: 0 } } as unknown as ParamSpec["origin"];
const weight = (path: string, init: ParamSpec["init"]): ParamSpec => ({ path, kind: "weight", shape: [4, 2], init, origin }) as ParamSpec;

/** How many weight elements one cached product scans (0: the weight was declared finite). */
function scanned(W: Float32Array): number {
  const before = weightScanStats.elements;
  spikeMatmul(Int8Array.from([1, 0, -1, 1]), 1, 4, W, 2, undefined, { cacheWeights: true, backend: "js" });
  return weightScanStats.elements - before;
}

describe("weights the parameter store declares finite", () => {
  it("the largest normal value Box–Muller can give (u1 = 2^-32) under the largest declared std is finite in float32", () => {
    const r = Math.sqrt(-2 * Math.log(2 ** -32));
    expect(r).toBeLessThan(6.67);
    const std = F32_MAX / 6.67;
    expect(seededFinite({ kind: "normal", std })).toBe(true);
    expect(Number.isFinite(Math.fround(std * r))).toBe(true);
    expect(seededFinite({ kind: "normal", std: F32_MAX / 6 })).toBe(false);
    expect(seededFinite({ kind: "normal", std: Number.NaN })).toBe(false);
    expect(seededFinite({ kind: "uniform", bound: F32_MAX })).toBe(true);
    expect(seededFinite({ kind: "uniform", bound: Infinity })).toBe(false);
  });

  it("seeded, given and filled weights are not scanned; a seed that could overflow, and amplitudes, are", () => {
    const specs = [
      weight("seeded", { kind: "uniform", bound: 0.5 }),
      weight("given", { kind: "normal", std: 1 }),
      weight("filled", { kind: "fill", value: 3 }),
      weight("huge", { kind: "normal", std: 1e38 }),
      { ...weight("amp", { kind: "zeros" }), kind: "amplitude", shape: [8] } as ParamSpec,
    ];
    const given = new Map([["given", f32([4, 2], [1, 2, 3, 4, 5, 6, 7, 8])], ["amp", f32([8], [1, 1, 1, 1, 1, 1, 1, 1])]]);
    const store = ParamStore.create(specs, given, { seed: 1 });
    expect(scanned(store.get("seeded").tensor.data)).toBe(0);
    expect(scanned(store.get("given").tensor.data)).toBe(0);
    expect(scanned(store.get("filled").tensor.data)).toBe(0);
    expect(scanned(store.get("huge").tensor.data)).toBe(8);
    expect(scanned(store.get("amp").tensor.data)).toBe(8);
  });
});

describe("weights loaded from a file", () => {
  const specs = [weight("W", { kind: "normal", std: 1 })];
  const file = (values: number[]) => new Map([["W", f32([4, 2], values)]]);

  it("are checked once: the loader's arrays are known finite, and a store adopting them holds those arrays (no copy)", () => {
    const loaded = weightsFromTensors({ params: specs }, file([1, 2, 3, 4, 5, 6, 7, 8]), "w.safetensors");
    const W = loaded.weights.get("W")!.data;
    expect(knownFinite(W)).toBe(true);
    expect(ParamStore.create(specs, loaded.weights, { adopt: true }).get("W").tensor.data).toBe(W);
    const copied = ParamStore.create(specs, loaded.weights).get("W").tensor.data;
    expect(copied).not.toBe(W);
    expect([...copied]).toEqual([...W]);
  });

  it("holding a non-finite value are rejected, by the loader and by a store given them directly", () => {
    expect(() => weightsFromTensors({ params: specs }, file([1, 2, 3, NaN, 5, 6, 7, 8]), "w.safetensors")).toThrow(/"W"\[3\] = NaN/);
    expect(() => ParamStore.create(specs, file([1, 2, 3, 4, 5, 6, 7, -Infinity]), { adopt: true })).toThrow(/"W"\[7\] = -Infinity: weights must be finite/);
  });
});
