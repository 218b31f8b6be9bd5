/**
 * models/spikelm/ship-trained.ts turns a `spikelm train` checkpoint into a shipped weights
 * file: weights only (no optimizer state in the header), in the registry's naming, and
 * loading it as the model's weights gives back the checkpoint's values bit for bit. The
 * checkpoint here holds seeded decoder-small weights, made-up amplitudes and optimizer state.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readSafetensors } from "../interpreter/io/safetensors.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { saveCheckpoint } from "../interpreter/train/checkpoint.js";
import { entryParams, findModel, inputNames } from "../models/registry.js";
import { shipTrained } from "../models/spikelm/ship-trained.js";
import { loadModel } from "../models/tasks.js";

describe("ship-trained", () => {
  it("writes a checkpoint's weights (no optimizer state) that load back as decoder-small's, bit for bit", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-ship-"));
    const info = findModel("decoder-small");
    const specs = entryParams(info.spec, info.entry, info.args, inputNames(info));
    const store = ParamStore.create(specs, new Map(), { seed: 5 });
    // a trained checkpoint also holds the calibrated amplitudes
    for (const [, e] of store.entries) if (e.spec.kind === "amplitude") e.tensor.data.forEach((_, i) => ((e.tensor.data[i] = 0.25 + i / 8), (e.calibrated![i] = true)));
    const weights = store.snapshot();
    const moments = new Map([...weights].map(([k, t]) => [k, Float32Array.from(t.data, (_, i) => i * 1e-3)]));
    const ck = path.join(tmp, "ck.safetensors");
    saveCheckpoint(ck, weights, { step: 7, rng: [1, 2, 3, 4], info: { task: "lm", data: "models/data/kjv-train.txt", config: { lr: 0.003 }, elapsed_s: 12 } }, moments, moments);

    const out = path.join(tmp, "out");
    fs.mkdirSync(out);
    const said = shipTrained({ decoder: ck }, out);
    const file = path.join(out, "trained-decoder-small.safetensors");
    expect(said).toEqual([expect.stringContaining(file)]);
    const { metadata } = readSafetensors(file);
    expect(Object.keys(metadata).filter((k) => k.startsWith("spikelm."))).toEqual([]);
    expect(metadata.steps).toBe("7");
    expect(metadata.trained).toBe("yes");

    const loaded = loadModel("generate", { model: "decoder-small", weights: file });
    expect(weights.size).toBeGreaterThan(10);
    for (const [k, t] of weights) {
      const got = loaded.weights!.get(k);
      expect(got, k).toBeDefined();
      expect(Buffer.from(got!.data.buffer, got!.data.byteOffset, got!.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), k).toBe(true);
    }
  }, 60_000);
});
