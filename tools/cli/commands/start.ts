/**
 * `npm start` / `spikelm start`: the default demonstration on the shipped small decoder
 * (trained on the KJV corpus in models/data; models/README.md says how):
 * 1. generates text from a prompt with the spike key/value cache on the optimized executor,
 *    and checks the tokens against recomputing the prefix and against the reference
 *    interpreter (cached);
 * 2. runs one forward over the result on the optimized executor and the reference
 *    interpreter, in both execution modes, and checks they agree bit for bit;
 * 3. prints the energy and spike report of that forward.
 */
import { streamFor } from "../../../interpreter/engine/random.js";
import { i32 } from "../../../interpreter/engine/tensor.js";
import { Generator, sampleToken } from "../../../interpreter/generate/generator.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { runWithReport } from "../../../interpreter/report/run.js";
import { runSpec } from "../../../interpreter/run.js";
import { READABLE_DECODER } from "../../../models/registry.js";
import { loadModel } from "../../../models/tasks.js";
import { renderReportText } from "../../report/render.js";
import { displayPath } from "../report-errors.js";
import { held } from "./generate.js";

const PROMPT = "And the LORD said";
const TOKENS = 40;

export async function startCommand(): Promise<number> {
  await initSpikeKernels();
  const w = (s: string) => process.stdout.write(`${s}\n`);
  const model = loadModel("generate", { model: READABLE_DECODER });
  const { info, tokenizer } = model;
  w(`spikelm: ${info.name} (${info.description})`);
  w(`spec ${displayPath(info.spec)}, entry ${info.entry}, weights ${model.weightsSource ? displayPath(model.weightsSource) : "seeded"}\n`);

  const run = (cache: boolean, optimize = true) => {
    const g = new Generator({ file: info.spec, entry: info.entry, args: info.args, weights: model.weights, seed: model.seed, cache, maxContext: info.context, optimize });
    const rng = streamFor(0, "spikelm-start");
    const ids = tokenizer.encode(PROMPT);
    const t0 = performance.now();
    let logits = g.feed(ids);
    const out: number[] = [];
    for (let i = 0; i < TOKENS; i++) {
      const t = sampleToken(logits, { temperature: 0.8, topK: 40, uniform: () => rng.uniform() });
      out.push(t);
      if (i + 1 < TOKENS) logits = g.feed([t]);
    }
    return { g, out, ms: performance.now() - t0, prompt: ids };
  };
  const cached = run(true);
  const uncached = run(false);
  const reference = run(true, false);
  const stats = cached.g.cacheStats();
  w(`generated (${TOKENS} tokens, temperature 0.8, top-k 40, seed 0):`);
  // The text as it reads (its own line breaks, indented), not as a quoted string.
  for (const line of tokenizer.decode([...cached.prompt, ...cached.out]).split("\n")) w(`  ${line}`);
  const same = cached.out.every((t, i) => t === uncached.out[i] && t === reference.out[i]);
  const perToken = (r: { ms: number }) => (r.ms / TOKENS).toFixed(1);
  w(`  spike key/value cache: ${stats.bytesPerToken} bytes/token held as ${held(stats)} vs ${stats.float32BytesPerToken} as float32; ` + `${perToken(cached)} ms/token cached vs ${perToken(uncached)} recomputing the prefix vs ${perToken(reference)} on the reference interpreter (cached; prompt included); tokens ${same ? "identical" : "DIFFER"}\n`);

  // One forward over the whole text: optimized and reference, both modes, same parameters.
  const ids = [...cached.prompt, ...cached.out];
  const inputs = new Map([["ids", i32([1, ids.length], ids)]]);
  const params = cached.g.parameters;
  const results = (["multi", "step"] as const).flatMap((mode) => [true, false].map((optimize) => runSpec({ file: info.spec, entry: info.entry, args: info.args, inputs, params, mode, optimize, record: true })));
  const first = results[0]!;
  const agree = results.every((r) => Buffer.from(r.output.data.buffer).equals(Buffer.from(first.output.data.buffer)) && [...r.record].every(([k, v]) => Buffer.from(v.levels.data.buffer).equals(Buffer.from(first.record.get(k)!.levels.data.buffer))));
  w(`forward over ${ids.length} tokens: optimized and reference interpreters, multi-step and step-by-step: outputs and spikes ${agree ? "identical" : "DIFFER"}\n`);

  const report = runWithReport({ file: info.spec, entry: info.entry, args: info.args, inputs, params, model: info.name }).report;
  w(renderReportText(report));
  w(`\nmore: spikelm generate --prompt "..." | spikelm report --html report.html | spikelm models | spikelm explain FILE --entry NAME --summary`);
  return same && agree ? 0 : 1;
}
