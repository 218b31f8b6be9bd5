import { readFileSync } from "node:fs";
import fc from "fast-check";
import { it } from "vitest";
import { KEYWORDS, parse } from "../grammar/index.js";
const tiny = readFileSync("/work/shared/examples/tiny_spikelm.spk", "utf8");
const PIECES = [...KEYWORDS, "x", "(", ")", "{", "}", "[", "]", ",", ";", ":", "=", "->", "...", "+", "@", '"', "#"];
it("explore", () => {
  let shown = 0;
  fc.assert(fc.property(fc.nat(tiny.length - 1), fc.nat(3), fc.constantFrom(...PIECES, ""), (at, len, ins) => {
    if (tiny.slice(at, at + len + 1).includes("/")) return;
    const t = tiny.slice(0, at) + ins + tiny.slice(at + len);
    const r = parse(t, "x");
    const n2 = r.diagnostics.filter((d) => d.code === "SPK002").length;
    if (n2 >= 3 && shown < 12) {
      shown++;
      const ls = t.lastIndexOf("\n", at - 1) + 1;
      console.log(`--- replaced ${JSON.stringify(tiny.slice(at, at + len))} by ${JSON.stringify(ins)} in line: ${JSON.stringify(t.slice(ls, t.indexOf("\n", at + 1)))}\n` + r.diagnostics.map((d) => `   ${d.span.start} ${JSON.stringify(t.slice(d.span.start, d.span.end))} ${d.message}`).join("\n"));
    }
  }), { numRuns: 3000, seed: 42 });
});
