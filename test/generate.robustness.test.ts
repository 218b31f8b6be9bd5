/**
 * `spikelm generate` on the shipped BPE decoder at its edges (tools/cli/commands/generate.ts,
 * interpreter/generate/generator.ts, interpreter/runtime/planned-cache.ts): option values and
 * prompts it refuses print nothing on stdout and exit 1; a prompt one token short of the
 * context yields exactly one token; -n beyond the context stops at the context; the cached,
 * uncached, optimized and reference paths print the same text; and many generations in one
 * process (Generator.reset) do not grow the WebAssembly memory the key/value caches live in.
 */
import { describe, expect, it } from "vitest";
import { initSpikeKernels } from "../interpreter/engine/kernels/spike-matmul.js";
import { wasmAccess } from "../interpreter/engine/kernels/wasm-backend.js";
import { Generator } from "../interpreter/generate/generator.js";
import { loadModel } from "../models/tasks.js";
import { generateCommand } from "../tools/cli/commands/generate.js";
import { reportCommand } from "../tools/cli/commands/report.js";
import { inProcess } from "./cli-in-process.js";

const MODEL = "decoder-small-bpe";
const m = loadModel("generate", { model: MODEL });
const CONTEXT = m.info.context;
/** A prompt of exactly `n` tokens of the model's tokenizer (the word " the" is one token). */
function promptOf(n: number): string {
  const text = `In${" the".repeat(n - 1)}`;
  expect(m.tokenizer.encode(text)).toHaveLength(n);
  return text;
}
const generated = (err: string) => Number(/: (\d+) tokens in /.exec(err)?.[1]);

describe("generate at its edges", () => {
  it("refuses bad option values and prompts with exit 1 and nothing on stdout", async () => {
    const cases: [Parameters<typeof generateCommand>[0], RegExp][] = [
      [{ prompt: "In the", maxTokens: "0" }, /--max-tokens expects a whole number >= 1, found `0`/],
      [{ prompt: "In the", maxTokens: "1.5" }, /--max-tokens expects a whole number >= 1/],
      [{ prompt: "In the", temperature: "-1" }, /--temperature expects a number >= 0, found `-1`/],
      [{ prompt: "In the", topK: "x" }, /--top-k expects a whole number >= 0/],
      [{ prompt: "" }, /the prompt is empty/],
      [{ prompt: promptOf(CONTEXT) }, new RegExp(`the prompt is ${CONTEXT} tokens, but \`${MODEL}\` has a context of ${CONTEXT}`)],
      [{ prompt: "x".repeat(1 << 20) }, new RegExp(`the prompt is \\d+ tokens, but \`${MODEL}\` has a context of ${CONTEXT}`)],
    ];
    for (const [opts, message] of cases) {
      const r = await inProcess(() => generateCommand({ model: MODEL, ...opts }));
      expect({ code: r.code, out: r.out }).toEqual({ code: 1, out: "" });
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/internal|\n\s+at /);
    }
  });

  it("stops at the context: a prompt one token short yields one token, and -n beyond the context stops there", async () => {
    const short = await inProcess(() => generateCommand({ model: MODEL, prompt: promptOf(CONTEXT - 1), maxTokens: "5" }));
    expect(short.code).toBe(0);
    expect(generated(short.err)).toBe(1);
    const long = await inProcess(() => generateCommand({ model: MODEL, prompt: promptOf(3), maxTokens: String(10 * CONTEXT), temperature: "0" }));
    expect(long.code).toBe(0);
    expect(generated(long.err)).toBe(CONTEXT - 3);
  });

  it("report on the BPE decoder: an empty text is refused, a text longer than the context is said to be cut", async () => {
    const empty = await inProcess(() => reportCommand({ model: MODEL, text: [" ".repeat(0)] }));
    expect({ code: empty.code, out: empty.out }).toEqual({ code: 1, out: "" });
    expect(empty.err).toMatch(/the text is empty/);
    const long = await inProcess(() => reportCommand({ model: MODEL, text: [promptOf(CONTEXT + 20)] }));
    expect(long.code).toBe(0);
    expect(long.out).toMatch(new RegExp(`${MODEL} \\(T = \\d+, ${CONTEXT} tokens`));
    expect(long.err).toMatch(new RegExp(`note: the text is ${CONTEXT + 20} tokens; the report covers the first ${CONTEXT} \\(the context of \`${MODEL}\`\\)`));
    const fits = await inProcess(() => reportCommand({ model: MODEL, text: [promptOf(CONTEXT)] }));
    expect(fits.err).not.toMatch(/note:/);
  });

  it("prints the same text cached or not, optimized or on the reference interpreter", async () => {
    const outs = [];
    for (const [cache, opt] of [
      [true, true],
      [false, true],
      [true, false],
      [false, false],
    ] as const) {
      const r = await inProcess(() => generateCommand({ model: MODEL, prompt: "And God said", maxTokens: "12", seed: "3", cache, opt }));
      expect(r.code).toBe(0);
      outs.push(r.out);
    }
    expect(outs[0]!.length).toBeGreaterThan("And God said".length + 12);
    expect(new Set(outs).size).toBe(1);
  });

  it("many generations in one process (reset between them) give the same tokens and do not grow the caches' memory", async () => {
    await initSpikeKernels();
    const g = new Generator({ file: m.info.spec, entry: m.info.entry, args: m.info.args, weights: m.weights, weightsSource: m.weightsSource, seed: m.seed, cache: true, maxContext: CONTEXT, optimize: true });
    const prompt = m.tokenizer.encode("In the beginning");
    const greedy = () => {
      let logits = g.feed(prompt);
      const out: number[] = [];
      while (g.length < CONTEXT) {
        let best = 0;
        for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
        out.push(best);
        if (g.length < CONTEXT) logits = g.feed([best]);
      }
      g.reset();
      return out;
    };
    const first = greedy();
    const bytes = wasmAccess()!.views.i8.buffer.byteLength;
    for (let k = 0; k < 6; k++) expect(greedy()).toEqual(first);
    expect(wasmAccess()!.views.i8.buffer.byteLength).toBe(bytes);
    expect(() => {
      g.feed(prompt);
      g.feed(Array.from({ length: CONTEXT - prompt.length + 1 }, () => 0));
    }).toThrow(new RegExp(`the sequence would be ${CONTEXT + 1} tokens, longer than the model's context of ${CONTEXT}`));
  });
});
