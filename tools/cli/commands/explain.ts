/**
 * `spikelm explain FILE --entry NAME`: the IR after elaboration and after each optimization
 * pass, with the pass's name and what it changed.
 */
import { optimize } from "../../../interpreter/passes/pass.js";
import { compileEntry } from "../../../interpreter/compile.js";
import { countNodes, printGraph } from "../../../interpreter/ir/print.js";
import { readTensorMap } from "../../../interpreter/io/tensor-json.js";
import type { Tensor } from "../../../interpreter/engine/tensor.js";
import { parseArgs, parseIntOption } from "./run.js";

export interface ExplainOptions {
  entry: string;
  arg?: string[];
  input?: string;
  timesteps?: string;
  summary?: boolean;
}

export function explainCommand(file: string, opts: ExplainOptions): number {
  const inputs = opts.input ? readTensorMap(opts.input) : new Map<string, Tensor>();
  const compiled = compileEntry({ file, entry: opts.entry, args: parseArgs(opts.arg), inputs, timesteps: parseIntOption("--timesteps", opts.timesteps, 1) });
  const { log } = optimize(compiled.graph);
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(`== elaborated: ${countNodes(compiled.graph)} nodes`);
  if (!opts.summary) w(printGraph(compiled.graph));
  for (const step of log) {
    w(`\n== after ${step.pass}: ${countNodes(step.graph)} nodes${step.notes.length ? ` — ${step.notes.join("; ")}` : " — no change"}`);
    if (!opts.summary) w(printGraph(step.graph));
  }
  return 0;
}
