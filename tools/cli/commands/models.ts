/** `spikelm models`: the shipped models, as a table. */
import * as fs from "node:fs";
import { DEFAULT_MODELS, MODELS, READABLE_DECODER } from "../../../models/registry.js";
import { displayPath } from "../report-errors.js";
import { renderTable } from "../table.js";

export function modelsCommand(): number {
  // generate and npm start use the readable (BPE) decoder; the byte decoder stays report's default.
  const defaults = new Set([...Object.values(DEFAULT_MODELS).filter((m) => m !== DEFAULT_MODELS.generate), READABLE_DECODER]);
  const rows = MODELS.map((m) => {
    const a = m.args as Record<string, number | boolean | undefined>;
    const config = `${a.depth}×d${a.d}, ${a.heads} heads, ffn ${a.ffn}`;
    const tok = m.tokenizer.kind === "byte" ? "bytes" : m.tokenizer.kind === "bpe" ? `bpe ${m.tokenizer.size} (${displayPath(m.tokenizer.merges)})` : m.tokenizer.vocab ? `wordpiece ${m.tokenizer.size} (${displayPath(m.tokenizer.vocab)})` : `wordpiece ${m.tokenizer.size} (--vocab)`;
    const weights = m.weights ? (fs.existsSync(m.weights) ? displayPath(m.weights) : `${displayPath(m.weights)} (missing)`) : "seeded init (--weights)";
    return [`${m.name}${defaults.has(m.name) ? " *" : ""}`, m.task, m.entry, config, m.context, tok, weights];
  });
  process.stdout.write(`${renderTable(["model", "task", "entry", "layers", "context", "tokenizer", "weights"], rows)}\n`);
  process.stdout.write(`* default for its task (\`report\` without --model runs ${DEFAULT_MODELS.generate}); weights are in the reference code's naming (models/spikelm/mapping.ts)\n`);
  return 0;
}
