/**
 * `spikelm generate` with finite weights whose logits overflow float32 (a user's damaged or
 * badly scaled checkpoint): sampling from NaN/±Infinity would pick arbitrary tokens, so the
 * command exits 1 naming the position, with nothing on stdout — not junk text with exit 0.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { f32 } from "../interpreter/engine/tensor.js";
import { readSafetensors, writeSafetensors } from "../interpreter/io/safetensors.js";
import { TRAINED_BPE_DECODER_WEIGHTS } from "../models/registry.js";
import { generateCommand } from "../tools/cli/commands/generate.js";
import { inProcess } from "./cli-in-process.js";

describe("generate on logits that overflow", () => {
  it("exits 1 with the position, prints nothing on stdout", async () => {
    const file = readSafetensors(TRAINED_BPE_DECODER_WEIGHTS);
    const tensors = new Map(file.tensors);
    const head = tensors.get("lm_head.weight");
    expect(head).toBeDefined();
    // Every weight stays finite (the loader accepts them); the products do not.
    tensors.set("lm_head.weight", f32(head!.shape, Float32Array.from(head!.data, (v) => (v >= 0 ? 3e38 : -3e38))));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-overflow-"));
    const weights = path.join(dir, "overflow.safetensors");
    writeSafetensors(weights, tensors);
    const r = await inProcess(() => generateCommand({ model: "decoder-small-bpe", weights, prompt: "And the LORD said", maxTokens: "5" }));
    fs.rmSync(dir, { recursive: true, force: true });
    expect({ code: r.code, out: r.out }).toEqual({ code: 1, out: "" });
    expect(r.err).toMatch(/the logits after position 4 are not finite \(\d+ of 2048 are NaN or ±Infinity\)/);
    expect(r.err).not.toMatch(/internal|\n\s+at /);
  });
});
