/**
 * The playground's URL state (tools/playground/page/url-state.ts): any state survives the trip
 * through the fragment (edited code of any characters included), and a fragment with values
 * that do not parse falls back to defaults instead of guessing.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeState, encodeState, packText, type PageState, unpackText } from "../tools/playground/page/url-state.js";

const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/);

const state: fc.Arbitrary<PageState> = fc.record(
  {
    uri: fc.constantFrom("file:///spikelm/examples/tiny_spikelm.spk", "file:///playground/main.spk", "file:///spikelm/models/tiny/tiny_spikelm.spk"),
    code: fc.string({ unit: "grapheme", maxLength: 300 }),
    entry: name,
    args: fc.dictionary(name, fc.oneof(fc.integer({ min: -1000, max: 100000 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()), { maxKeys: 5 }),
    steps: fc.integer({ min: 1, max: 64 }),
    seed: fc.nat(),
    input: fc.oneof(
      fc.record({ kind: fc.constant("random" as const), seed: fc.nat(), sizes: fc.dictionary(name, fc.integer({ min: 1, max: 512 }), { minKeys: 1, maxKeys: 3 }) }, { requiredKeys: ["kind", "seed"] }),
      fc.record({ kind: fc.constant("text" as const), text: fc.string({ unit: "grapheme", maxLength: 80 }) }),
      fc.record({ kind: fc.constant("file" as const), uri: fc.constant("file:///spikelm/models/tiny/prompt.json") }),
    ),
    model: fc.constantFrom("tiny", "decoder-small"),
    run: fc.constant(true as const),
  },
  { requiredKeys: ["uri", "args", "seed", "input"] },
);

describe("playground URL state", () => {
  it("round-trips every state through the fragment", async () => {
    await fc.assert(
      fc.asyncProperty(state, async (s) => {
        const back = await decodeState(await encodeState(s));
        // -0 prints as "0" in a link, which is the same argument.
        const args = Object.fromEntries(Object.entries(s.args).map(([k, v]) => [k, Object.is(v, -0) ? 0 : v]));
        expect(back).toEqual({ ...s, args });
      }),
      { numRuns: 200 },
    );
  });

  it("packs text losslessly and shorter than the text when it repeats", async () => {
    const spec = 'import "std/neurons"\n\nlayer L(d) {\n  weight W: [d, d]\n  forward(x: [T, B, L, d]) -> [T, B, L, d] { return x @ W }\n}\n'.repeat(8);
    const packed = await packText(spec);
    expect(packed).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(packed.length).toBeLessThan(spec.length / 4);
    expect(await unpackText(packed)).toBe(spec);
  });

  it("drops values that do not parse, and names no state without a file", async () => {
    expect(await decodeState("entry=X")).toBeUndefined();
    const s = await decodeState("#file=file%3A%2F%2F%2Fplayground%2Fmain.spk&code=%%%&T=-3&seed=x&arg.d=abc&arg.e=4&inputSeed=1e3&size.L=0&size.B=x");
    expect(s).toEqual({ uri: "file:///playground/main.spk", args: { e: 4 }, seed: 0, input: { kind: "random", seed: 1 } });
  });
});
