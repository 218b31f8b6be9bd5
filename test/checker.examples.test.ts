/** The shipped examples, stdlib and models check cleanly, and the checker infers spike types. */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { checkFiles } from "../interpreter/checker/check.js";
import { EXAMPLES, REPO } from "./helpers.js";

const specs = [
  ...fs.readdirSync(EXAMPLES).filter((f) => f.endsWith(".spk")).map((f) => path.join(EXAMPLES, f)),
  ...["stdlib/prelude.spk", "stdlib/neurons.spk", "stdlib/layers.spk", "models/tiny/tiny_spikelm.spk"].map((f) => path.join(REPO, f)),
];

describe("valid specs", () => {
  it.each(specs)("%s checks with no diagnostics", (file) => {
    const r = checkFiles([file]);
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  });

  it("infers value sets: heaviside is {0,1}, the reference neuron emits a scaled ternary spike", () => {
    const file = path.join(EXAMPLES, "neurons.spk");
    const r = checkFiles([file]);
    const text = r.program.files.get(file)!.text;
    const typeAt = (snippet: string) => {
      const at = text.indexOf(snippet);
      const hits = r.types.filter((t) => t.uri === file && t.span.start === at && t.span.end === at + snippet.length);
      return hits.map((h) => h.text);
    };
    expect(typeAt("heaviside(u - vth)")).toContain("f32[...] spike{0,1}");
    expect(typeAt("clamp(round(u / vth), -1, 1)")[0]).toMatch(/spike\{-1,0,1\}$/);
    expect(typeAt("alpha[t] * s")[0]).toMatch(/spike\{-1,0,1\}·alpha$/);
  });

  it("shape names are symbolic: split_heads then merge_heads gives d back", () => {
    const file = path.join(EXAMPLES, "tiny_spikelm.spk");
    const r = checkFiles([file]);
    const text = r.program.files.get(file)!.text;
    const at = text.indexOf("merge_heads(A @ V)");
    const hit = r.types.find((t) => t.span.start === at && t.span.end === at + "merge_heads(A @ V)".length);
    expect(hit?.text).toBe("f32[T, B, L, d]");
    const q = text.indexOf("Q @ transpose(K)");
    const qk = r.types.find((t) => t.span.start === q && t.span.end === q + "Q @ transpose(K)".length);
    expect(qk?.text).toBe("f32[T, B, heads, L, L]");
  });
});
