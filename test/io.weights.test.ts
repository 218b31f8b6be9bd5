import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Tensor } from "../interpreter/engine/tensor.js";
import { f32, i32 } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import { findNonFinite, loadWeightsFile, saveWeightsFile, weightsFormatOf } from "../interpreter/io/weights.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-io-weights-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const weights = new Map<string, Tensor>([
  ["embed.W", f32([2, 3], [0.1, -0.2, 3e-39, -0, 1e30, 7])],
  ["blocks.0.ln.g", f32([3], [1, 1, 1])],
  ["vocab.ids", i32([2], [5, -6])],
]);

describe("weights files", () => {
  it("picks the format by extension", () => {
    expect(weightsFormatOf("a/b.json")).toBe("json");
    expect(weightsFormatOf("B.SAFETENSORS")).toBe("safetensors");
    const e = (() => {
      try {
        weightsFormatOf("model.bin");
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).message).toBe('model.bin: unsupported weights file extension ".bin"; expected .json or .safetensors');
    expect(() => weightsFormatOf("weights")).toThrow(/\(no extension\)/);
  });

  for (const ext of [".json", ".safetensors"]) {
    it(`save → load round-trips via ${ext}`, () => {
      const file = path.join(dir, `w${ext}`);
      saveWeightsFile(file, weights, { source: "test" });
      const { tensors, metadata } = loadWeightsFile(file);
      expect(metadata).toEqual({ source: "test" });
      expect([...tensors.keys()].sort()).toEqual([...weights.keys()].sort());
      for (const [k, t] of weights) {
        const u = tensors.get(k)!;
        expect(u.dtype).toBe(t.dtype);
        expect(u.shape).toEqual(t.shape);
        expect(u.data).toEqual(t.data);
      }
    });
  }

  it("a missing weights file is a UserError naming it", () => {
    const file = path.join(dir, "missing.json");
    expect(() => loadWeightsFile(file)).toThrow(UserError);
    expect(() => loadWeightsFile(file)).toThrow(`${file}: tensor file not found`);
  });

  it("findNonFinite lists the first few NaN/Inf values per tensor", () => {
    const map = new Map<string, Tensor>([
      ["ok", f32([2], [1, 2])],
      ["bad", f32([6], [NaN, 1, Infinity, -Infinity, NaN, NaN])],
      ["ints", i32([1], [3])],
      ["worse", f32([1], [-Infinity])],
    ]);
    const found = findNonFinite(map);
    expect(found.map((f) => [f.name, f.index])).toEqual([
      ["bad", 0],
      ["bad", 2],
      ["bad", 3],
      ["worse", 0],
    ]);
    expect(found[1]!.value).toBe(Infinity);
    expect(findNonFinite(map, 10).filter((f) => f.name === "bad")).toHaveLength(5);
    expect(findNonFinite(weights)).toEqual([]);
  });

  it("findNonFinite finds one NaN or ±Infinity anywhere among finite edge values (-0, subnormals, float32 max), as a per-value check does", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 41 }), fc.nat(), fc.constantFrom(NaN, Infinity, -Infinity, undefined), (n, at, bad) => {
        const edge = [0, -0, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1.5, -2];
        const d = Float32Array.from({ length: n }, (_, i) => edge[i % edge.length]!);
        if (bad !== undefined) d[at % n] = bad;
        const oracle = [...d.keys()].filter((i) => !Number.isFinite(d[i]!));
        expect(findNonFinite(new Map([["t", f32([n], d)]]), n).map((f) => f.index)).toEqual(oracle);
      }),
    );
  });

  it("NaN/Inf in weights survive a JSON save/load and are reported", () => {
    const file = path.join(dir, "nan.json");
    saveWeightsFile(file, new Map([["w", f32([3], [1, NaN, -Infinity])]]));
    const found = findNonFinite(loadWeightsFile(file).tensors);
    expect(found.map((f) => f.index)).toEqual([1, 2]);
    expect(Number.isNaN(found[0]!.value)).toBe(true);
  });
});
