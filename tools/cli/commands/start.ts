/**
 * `npm start` / `spikelm start`: the default demonstration. Runs the shipped TinySpikeLM
 * (seeded weights) on a shipped prompt in both execution modes, shows the next-byte
 * prediction, the firing rate of every neuron, and whether the two modes agree bit for bit.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { i32 } from "../../../interpreter/engine/tensor.js";
import { readTensorMap } from "../../../interpreter/io/tensor-json.js";
import { runSpec } from "../../../interpreter/run.js";
import { displayPath } from "../report-errors.js";
import { renderTable } from "../table.js";
import { rateRows } from "./run.js";

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../models");

export function startCommand(): number {
  const spec = path.join(MODELS, "tiny/tiny_spikelm.spk");
  const inputFile = path.join(MODELS, "tiny/prompt.json");
  const inputs = readTensorMap(inputFile);
  const ids = inputs.get("ids")!;
  const text = Buffer.from(Array.from(ids.data)).toString("utf8");
  process.stdout.write(`spikelm: running TinySpikeLM (${displayPath(spec)}) on ${JSON.stringify(text)}\n`);
  const multi = runSpec({ file: spec, entry: "TinySpikeLM", inputs, seed: 0, mode: "multi", record: true });
  const step = runSpec({ file: spec, entry: "TinySpikeLM", inputs, seed: 0, mode: "step", record: true });
  const [, L, V] = multi.output.shape as [number, number, number];
  const last = multi.output.data.subarray((L - 1) * V, L * V);
  const top = [...last.keys()].sort((a, b) => last[b]! - last[a]!).slice(0, 5);
  process.stdout.write(`\nnext-byte logits after the prompt (seeded, untrained weights):\n`);
  process.stdout.write(`${renderTable(["byte", "char", "logit"], top.map((b) => [b, JSON.stringify(String.fromCharCode(b)), last[b]!]))}\n`);
  process.stdout.write(`\nfiring rates over T = ${multi.compiled.graph.timesteps} steps:\n${renderTable(["neuron", "rate", "rate +1", "rate -1"], rateRows(multi.record))}\n`);
  const same = Buffer.compare(Buffer.from(multi.output.data.buffer), Buffer.from(step.output.data.buffer)) === 0;
  const spikesSame = [...multi.record].every(([k, r]) => Buffer.compare(Buffer.from(r.levels.data.buffer), Buffer.from(step.record.get(k)!.levels.data.buffer)) === 0);
  process.stdout.write(`\nmulti-step vs step-by-step: output bytes ${same ? "identical" : "DIFFER"}, spikes ${spikesSame ? "identical" : "DIFFER"}\n`);
  void i32;
  return same && spikesSame ? 0 : 1;
}
