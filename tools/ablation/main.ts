/**
 * `npm run ablation -- [--steps N] [--seeds N] [--batch N] [--seq N] [--d N] [--depth N]
 * [--heads N] [--lr X] [--variants a,b,...] [--k-grid 0.5,2,4] [--jobs N] [--json F] [--html F]`:
 * trains the decoder with each neuron (and the dense ANN) on models/data/kjv-train.txt,
 * evaluates on kjv-valid.txt, and prints held-out loss / bits per byte (mean ± std over seeds)
 * and firing rates. See ablation.ts.
 */
import * as os from "node:os";
import { Command } from "commander";
import { UserError } from "../../interpreter/io/errors.js";
import { progressBar } from "../cli/progress.js";
import { ABLATION_DEFAULTS, type AblationOptions, formatTable, inProcessRunner, parseVariants, processRunner, runAblation, writeOutputs } from "./ablation.js";

function num(flag: string, raw: string | undefined, fallback: number, int: boolean, min: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || (int && !Number.isInteger(v)) || v < min) throw new UserError(`${flag} expects ${int ? "a whole number" : "a number"} >= ${min}, found \`${raw}\``);
  return v;
}

async function main(argv: string[]): Promise<number> {
  const cmd = new Command("ablation")
    .description("the paper's neuron ablation: LIF, BiLIF, ElasticBiSpike (k=1 and tuned k), SpikeLMReference and the dense ANN on one decoder, data and budget")
    .option("--steps <n>", `optimizer steps per run (default ${ABLATION_DEFAULTS.steps})`)
    .option("--seeds <n>", `seeds per variant (default ${ABLATION_DEFAULTS.seeds})`)
    .option("--batch <n>", `rows per batch (default ${ABLATION_DEFAULTS.batch})`)
    .option("--seq <n>", `tokens (bytes) per row (default ${ABLATION_DEFAULTS.seq})`)
    .option("--d <n>", `model width (default ${ABLATION_DEFAULTS.d}; ffn is 4d)`)
    .option("--depth <n>", `blocks (default ${ABLATION_DEFAULTS.depth})`)
    .option("--heads <n>", `attention heads (default ${ABLATION_DEFAULTS.heads})`)
    .option("--lr <x>", `peak learning rate (default ${ABLATION_DEFAULTS.lr})`)
    .option("--variants <list>", "comma-separated: lif,bilif,elastic,elastic-k,reference,dense (default all)")
    .option("--k-grid <list>", `k values tried for elastic-k, seed 0, on a split of the training text (default ${ABLATION_DEFAULTS.kGrid.join(",")})`)
    .option("--jobs <n>", "worker processes (default: min(2, CPUs); 1 runs in this process)")
    .option("--json <file>", "write the result as JSON")
    .option("--html <file>", "write a page with the table and a bar chart")
    .option("--quiet", "no progress bar")
    .exitOverride();
  cmd.parse(argv, { from: "user" });
  const o = cmd.opts<Record<string, string | boolean | undefined>>();
  const s = (k: string) => o[k] as string | undefined;
  const opts: AblationOptions = {
    steps: num("--steps", s("steps"), ABLATION_DEFAULTS.steps, true, 1),
    seeds: num("--seeds", s("seeds"), ABLATION_DEFAULTS.seeds, true, 1),
    batch: num("--batch", s("batch"), ABLATION_DEFAULTS.batch, true, 1),
    seq: num("--seq", s("seq"), ABLATION_DEFAULTS.seq, true, 2),
    d: num("--d", s("d"), ABLATION_DEFAULTS.d, true, 1),
    depth: num("--depth", s("depth"), ABLATION_DEFAULTS.depth, true, 1),
    heads: num("--heads", s("heads"), ABLATION_DEFAULTS.heads, true, 1),
    lr: num("--lr", s("lr"), ABLATION_DEFAULTS.lr, false, 0),
    variants: parseVariants(s("variants")),
    kGrid: s("kGrid") === undefined ? ABLATION_DEFAULTS.kGrid : s("kGrid")!.split(",").map((x) => num("--k-grid", x, 1, false, 0)),
  };
  if (opts.d % opts.heads !== 0) throw new UserError(`--d ${opts.d} is not divisible by --heads ${opts.heads}`);
  const jobs = num("--jobs", s("jobs"), Math.max(1, Math.min(2, os.availableParallelism())), true, 1);
  const runner = jobs > 1 ? await processRunner(jobs) : inProcessRunner();
  const bar = o.quiet ? undefined : progressBar("ablation", "runs");
  try {
    const result = await runAblation(opts, runner, (done, total) => bar?.(done, total));
    writeOutputs(result, s("json"), s("html"));
    process.stdout.write(`${formatTable(result)}\n`);
  } finally {
    runner.close();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UserError) process.stderr.write(`error: ${e.message}\n`);
    else if (e && typeof e === "object" && "code" in e && String((e as { code: string }).code).startsWith("commander.")) return process.exit((e as { exitCode?: number }).exitCode ?? 1);
    else process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
