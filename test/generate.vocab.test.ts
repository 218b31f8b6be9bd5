/**
 * `spikelm generate --vocab FILE` on a user's spec: a byte-level BPE merges file gives the
 * same text as the shipped model that pairs that spec with that file, and a vocabulary larger
 * than the spec's embedding is refused before anything is printed.
 */
import { describe, expect, it } from "vitest";
import { SMALL_BPE_DECODER_ARGS } from "../models/registry.js";
import { generateCommand } from "../tools/cli/commands/generate.js";
import { inProcess } from "./cli-in-process.js";

const SPEC = "models/spikelm/spikelm_decoder.spk";
const MERGES = "models/spikelm/bpe-kjv.txt";
const WEIGHTS = "models/spikelm/trained-decoder-small-bpe.safetensors";
const args = (over: Record<string, number> = {}) => Object.entries({ ...SMALL_BPE_DECODER_ARGS, ...over }).map(([k, v]) => `${k}=${v}`);

describe("generate --vocab", () => {
  it("a spec with a merges file writes what the shipped BPE decoder writes", async () => {
    const common = { prompt: "And the LORD said", maxTokens: "12", seed: "3" };
    const shipped = await inProcess(() => generateCommand({ model: "decoder-small-bpe", ...common }));
    const own = await inProcess(() => generateCommand({ model: SPEC, entry: "SpikeLMDecoder", arg: args(), vocab: MERGES, weights: WEIGHTS, ...common }));
    expect(shipped.code).toBe(0);
    expect(own.code).toBe(0);
    expect(own.out).toBe(shipped.out);
    expect(own.out.length).toBeGreaterThan(common.prompt.length);
  });

  it("refuses a vocabulary the spec's embedding cannot hold, with nothing on stdout", async () => {
    const r = await inProcess(() => generateCommand({ model: SPEC, entry: "SpikeLMDecoder", arg: args({ vocab: 256 }), vocab: MERGES, prompt: "And the LORD said" }));
    expect({ code: r.code, out: r.out }).toEqual({ code: 1, out: "" });
    expect(r.err).toMatch(/bpe-kjv\.txt makes 2048 tokens, but `SpikeLMDecoder` in spikelm_decoder\.spk embeds only 256/);
  });
});
