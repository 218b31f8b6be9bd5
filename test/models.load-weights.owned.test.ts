/**
 * Weights by spec path: a file's arrays are taken as decoded (no second copy of a 438 MB
 * file), while tensors a caller hands to `weightsFromTensors` are copied, so the caller's
 * later writes never reach the loaded weights. The oracle is the tensors as written.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { f32 } from "../interpreter/engine/tensor.js";
import type { ParamSpec } from "../interpreter/ir/graph.js";
import { writeSafetensors } from "../interpreter/io/safetensors.js";
import { loadWeightsFor, weightsFromTensors } from "../models/load-weights.js";

const origin = { uri: "test.spk", span: { start: 0, end: 0 } } as unknown as ParamSpec["origin"];
const specs = [
  { path: "a.W", kind: "weight", shape: [2, 3], init: { kind: "uniform", bound: 1 }, origin },
  { path: "b.W", kind: "weight", shape: [4], init: { kind: "uniform", bound: 1 }, origin },
] as ParamSpec[];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-owned-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("weights by spec path", () => {
  it("from a file: the file's values, bit for bit (-0, subnormals, extremes)", () => {
    const a = Float32Array.of(-0, 1.5, 1e-45, -3.4028234663852886e38, 0.1, -7);
    const b = Float32Array.of(2, -0.25, 1e-40, 6);
    const file = path.join(tmp, "w.safetensors");
    writeSafetensors(file, new Map([["a.W", f32([2, 3], a)], ["b.W", f32([4], b)]]));
    const loaded = loadWeightsFor({ params: specs }, file);
    const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));
    expect(bits(loaded.weights.get("a.W")!.data)).toEqual(bits(a));
    expect(bits(loaded.weights.get("b.W")!.data)).toEqual(bits(b));
  });

  it("from a caller's tensors: copies (the caller's later writes do not reach them)", () => {
    const a = Float32Array.of(1, 2, 3, 4, 5, 6);
    const b = Float32Array.of(7, 8, 9, 10);
    const loaded = weightsFromTensors({ params: specs }, new Map([["a.W", f32([2, 3], a)], ["b.W", f32([4], b)]]), "mine");
    a.fill(0);
    b.fill(0);
    expect(Array.from(loaded.weights.get("a.W")!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(loaded.weights.get("b.W")!.data)).toEqual([7, 8, 9, 10]);
  });
});
