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
import { UserError, describeError } from "../../../interpreter/io/errors.js";
import { readJsonFile } from "../../../interpreter/io/tensor-json.js";
import type { Origin } from "../../../interpreter/ir/graph.js";
import { describeCase } from "../../../interpreter/verify/case.js";
import { describeValue } from "../../../interpreter/verify/compare.js";
import { originText } from "../../../interpreter/verify/locate.js";
import { availablePaths } from "../../../interpreter/verify/paths.js";
import { replayCase, replayJson } from "../../../interpreter/verify/replay.js";
import { type Counterexample, type VerifyResult, verify } from "../../../interpreter/verify/verify.js";
import { progressBar } from "../progress.js";
import { displayPath } from "../report-errors.js";
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

  const available = await initSpikeKernels({ threads: 2 });
  const program = new Program();
  let bar = progressBar(replay ? "verify (replay)" : "verify", "cases");
  let shrinking = false;
  const result = verify({
    file,
    entry: opts.entry,
    args,
    runs,
    seed,
    nonfinite: opts.nonfinite === true,
    replay,
    paths: availablePaths(available),
    program,
    onProgress: (p) => {
      if (p.phase === "run") bar(p.done, p.total);
      else if (!shrinking) {
        shrinking = true;
        bar(p.total, p.total);
        bar = progressBar("shrinking", "candidates");
      }
    },
  });

  const where = (o: Origin | undefined) =>
    originText(
      o,
      (uri, offset) => program.files.get(uri)?.lines.position(offset),
      (uri) => displayPath(uri),
    );
  const cx = result.counterexample;
  const located = cx?.location ? `${cx.location.what}${where(cx.location.origin) ? ` at ${where(cx.location.origin)}` : ""}` : undefined;
  const out: string[] = [];
  const name = `${opts.entry} (${displayPath(file)})`;
  const secs = (result.timeMs / 1000).toFixed(1);
  if (!cx) {
    out.push(`verify ${name}: ${result.runs} ${replay ? "replayed case" : result.runs === 1 ? "case" : "cases"}, ${result.checks} checks, every path agrees bit for bit (seed ${seed}, ${secs} s)`);
    out.push(`compared with the reference interpreter (multi-step): its step-by-step mode; the optimized executor in both modes on ${result.kernels.length} spike-kernel paths (${result.kernels.join(", ")}), first and second call; gradients after each forward`);
  } else {
    out.push(...describeCounterexample(name, result, cx, located, where));
    if (!replay) {
      const header = { file: displayPath(file), entry: opts.entry, args, nonfinite: opts.nonfinite === true, seed };
      fs.writeFileSync(caseOut, `${JSON.stringify(replayJson(header, cx, located), null, 2)}\n`);
      const argFlags = Object.entries(args).map(([k, v]) => ` --arg ${k}=${String(v)}`).join("");
      out.push(`wrote ${caseOut}; run this case again with: spikelm verify ${displayPath(file)} --entry ${opts.entry}${argFlags} --replay ${caseOut}`);
    }
  }
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(summaryJson(file, opts.entry, result, located), null, 2)}\n`);
  process.stdout.write(`${out.join("\n")}\n`);
  return cx ? 1 : 0;
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

function describeCounterexample(name: string, r: VerifyResult, cx: Counterexample, located: string | undefined, where: (o: Origin | undefined) => string | undefined): string[] {
  const lines: string[] = [];
  const shrunk = cx.shrinks ? `, shrunk ${cx.shrinks} time${cx.shrinks === 1 ? "" : "s"}` : "";
  lines.push(`verify ${name}: counterexample after ${r.runs} ${r.runs === 1 ? "case" : "cases"} (seed ${r.seed}${shrunk}, ${(r.timeMs / 1000).toFixed(1)} s)`);
  const f = cx.failure;
  lines.push(`  ${f.check}:`);
  if (f.error) lines.push(`    the path failed: ${f.error}`);
  const d = f.difference;
  if (d) {
    if (d.index < 0) lines.push(`    ${d.what} differs: ${d.note ?? ""}`);
    else lines.push(`    ${d.what} differs at element ${d.index} of [${(d.shape ?? []).join(", ")}]: reference ${describeValue(d.expected)}, this path ${describeValue(d.actual)}`);
  }
  const loc = cx.location;
  if (loc?.node) {
    const n = loc.node;
    const at = n.index < 0 ? "its shape differs" : `element ${n.index}${n.step !== undefined ? ` (time step ${n.step})` : ""} of [${n.shape.join(", ")}]: reference ${describeValue(n.expected)}, this path ${describeValue(n.actual)}`;
    lines.push(`  first differing op: %${n.node.id} ${located ?? loc.what}`);
    lines.push(`    ${at}`);
  } else if (loc) lines.push(`  differs at: ${loc.what}${where(loc.origin) ? ` (declared at ${where(loc.origin)})` : ""}`);
  else lines.push("  first differing op: not found (every traced node agrees; the difference is in how the results are gathered)");
  lines.push("  smallest case:");
  for (const l of describeCase(r.shape, cx.case)) lines.push(`    ${l}`);
  return lines;
}

function summaryJson(file: string, entry: string, r: VerifyResult, located: string | undefined): unknown {
  const cx = r.counterexample;
  return {
    file: displayPath(file),
    entry,
    runs: r.runs,
    checks: r.checks,
    failures: r.failures,
    seed: r.seed,
    time_s: Number((r.timeMs / 1000).toFixed(3)),
    paths: r.paths,
    ...(cx
      ? {
          counterexample: {
            check: cx.failure.check,
            ...(cx.failure.difference ? { difference: { ...cx.failure.difference, expected: describeValue(cx.failure.difference.expected), actual: describeValue(cx.failure.difference.actual) } } : {}),
            ...(cx.failure.error ? { error: cx.failure.error } : {}),
            ...(located ? { first_differing_op: located } : {}),
            shrinks: cx.shrinks,
            case: cx.case,
          },
        }
      : {}),
  };
}
