/**
 * A one-shot forward from a weights file compiles its spec once (issue 11): the file is
 * checked against the forward's own compile (models/tasks.ts, `weightsFor`), not against a
 * second compile made for the parameter list; the logits are the bits of the old order.
 */
import { createHash } from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { i32 } from "../interpreter/engine/tensor.js";
import { loadModel, runModel } from "../models/tasks.js";

const compiles = vi.hoisted(() => ({ n: 0 }));
vi.mock("../interpreter/compile.js", async (importOriginal) => {
  const orig = await importOriginal<typeof import("../interpreter/compile.js")>();
  return { ...orig, compileEntry: (...a: Parameters<typeof orig.compileEntry>) => (compiles.n++, orig.compileEntry(...a)) };
});

const IDS = [2, 110, 4, 608, 3];
const batch = { ids: i32([1, 5], IDS), types: i32([1, 5]), mask: i32([1, 5], IDS.map(() => 1)) };
const sha256 = (d: Float32Array) => createHash("sha256").update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)).digest("hex");

describe("fill-mask mlm-small on its shipped weights file", () => {
  beforeEach(() => {
    compiles.n = 0;
  });

  it("compiles once, with the bits of loading against the parameter list first", () => {
    const once = loadModel("fill-mask", { model: "mlm-small", noTokenizer: true });
    expect(compiles.n).toBe(0);
    const out = runModel(once, batch).output.data as Float32Array;
    expect(compiles.n).toBe(1);
    // the file was loaded against that compile, and is not loaded again
    expect(once.loadedWeights?.summary).toMatch(/./);
    expect(compiles.n).toBe(1);

    compiles.n = 0;
    const twice = loadModel("fill-mask", { model: "mlm-small", noTokenizer: true });
    expect(twice.loadedWeights?.weights.size).toBe(once.loadedWeights!.weights.size);
    const old = runModel(twice, batch).output.data as Float32Array;
    expect(compiles.n).toBe(2);
    expect(sha256(out)).toBe(sha256(old));
  });
});
