/**
 * `spikelm verify FILE --entry NAME [--arg ...] [--runs N] [--seed S] [--nonfinite]
 * [--replay CASE.json] [--case-out F] [--json F]`: property-based verification of a user's
 * spec (interpreter/verify/verify.ts). Exit 0 when every path agreed on every case; on a
 * counterexample, print it shrunk with the first differing op and its place in the spec,
 * write a replay file, and exit 1.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Program } from "../../../interpreter/checker/program.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { setVecTuning } from "../../../interpreter/engine/kernels/wasm-vector.js";
import { UserError, describeError } from "../../../interpreter/io/errors.js";
import { readJsonFile } from "../../../interpreter/io/tensor-json.js";
import { availablePaths } from "../../../interpreter/verify/paths.js";
import { replayCase } from "../../../interpreter/verify/replay.js";
import { prepareVerify } from "../../../interpreter/verify/verify.js";
import { progressBar } from "../progress.js";
import { verifyReport } from "./verify-report.js";
import { parseArgs, parseIntOption } from "./run.js";

export interface VerifyCommandOptions {
  entry: string;
  arg?: string[];
  runs?: string;
  seed?: string;
  replay?: string;
  caseOut?: string;
  nonfinite?: boolean;
  json?: string;
}

const MAX_RUNS = 100_000;

export async function verifyCommand(file: string, opts: VerifyCommandOptions): Promise<number> {
  const args = parseArgs(opts.arg);
  const runs = parseIntOption("--runs", opts.runs, 1) ?? 100;
  if (runs > MAX_RUNS) throw new UserError(`--runs expects at most ${MAX_RUNS.toLocaleString("en-US")}, found ${runs}`);
  const seed = parseIntOption("--seed", opts.seed, 0) ?? Math.floor(Math.random() * 0x7fffffff);
  if (seed > 0x7fffffff) throw new UserError(`--seed expects a whole number from 0 to ${0x7fffffff}, found \`${opts.seed}\``);
  if (opts.json !== undefined && !/\.json$/i.test(opts.json)) throw new UserError(`--json ${opts.json}: expected a .json file`);
  if (!fs.existsSync(file)) throw new UserError(`cannot read spec file ${file}: no such file`, { file });
  const replay = opts.replay === undefined ? undefined : { file: opts.replay, json: replayCase(readJsonFile(opts.replay, "replay file"), opts.replay, opts.entry, args) };
  const caseOut = opts.caseOut ?? `${opts.entry}.verify-case.json`;
  // Checked now, not after a long run that found a counterexample (the preAction hook checks --json).
  if (!replay) checkWritable("--case-out", caseOut);

  const bar = progressBar(replay ? "verify (replay)" : "verify", "cases");
  const program = new Program();
  let shrinking = false;
  // Every mistake in the request is found here, before the kernels (WebAssembly, a worker) start.
  const prepared = prepareVerify({
    file,
    entry: opts.entry,
    args,
    runs,
    seed,
    nonfinite: opts.nonfinite === true,
    replay,
    program,
    onProgress: (p) => {
      if (p.phase === "run") bar(p.done, p.total);
      else if (!shrinking) {
        // Shrinking has no known length: close the bar and say what is happening.
        shrinking = true;
        bar(p.total, p.total);
        if (process.stderr.isTTY) process.stderr.write("found a counterexample; shrinking it...\n");
      }
    },
  });
  const available = await initSpikeKernels({ threads: 2 });
  // Small chunks and no size threshold, so that the small cases verify generates really split
  // neuron steps over both threads (results never depend on the tuning).
  setVecTuning({ chunk: 16, threadMin: 0 });
  const result = prepared.run(availablePaths(available));
  const report = verifyReport(result, { file, entry: opts.entry, args, nonfinite: opts.nonfinite === true, replayed: replay !== undefined, caseOut, program });
  // Files first, then stdout: a write that fails leaves no claim that it was written.
  if (report.replay !== undefined) fs.writeFileSync(caseOut, `${JSON.stringify(report.replay, null, 2)}\n`);
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(report.summary, null, 2)}\n`);
  process.stdout.write(`${report.lines.join("\n")}\n`);
  return result.counterexample ? 1 : 0;
}

function checkWritable(flag: string, file: string): void {
  const dir = path.dirname(path.resolve(file));
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new Error("it is a folder");
    fs.accessSync(fs.existsSync(file) ? file : dir, fs.constants.W_OK);
  } catch (e) {
    throw new UserError(`${flag} ${file}: cannot write there: ${describeError(e)}`, { file });
  }
}
