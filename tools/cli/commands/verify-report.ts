/**
 * What `spikelm verify` prints and writes for a result: the summary or the counterexample
 * (the failing comparison, the first differing op at file:line:col, the smallest case), the
 * replay file's JSON and the `--json` summary. Pure: the command does the writing.
 */
import type { Program } from "../../../interpreter/checker/program.js";
import type { ArgValue } from "../../../interpreter/compile.js";
import type { Origin } from "../../../interpreter/ir/graph.js";
import { describeCase } from "../../../interpreter/verify/case.js";
import { describeValue } from "../../../interpreter/verify/compare.js";
import { originText } from "../../../interpreter/verify/locate.js";
import { replayJson } from "../../../interpreter/verify/replay.js";
import type { Counterexample, VerifyResult } from "../../../interpreter/verify/verify.js";
import { displayPath } from "../report-errors.js";

export interface VerifyReportContext {
  readonly file: string;
  readonly entry: string;
  readonly args: Readonly<Record<string, ArgValue>>;
  readonly nonfinite: boolean;
  /** The run replayed a case file (no new replay file is written). */
  readonly replayed: boolean;
  readonly caseOut: string;
  /** The program the run loaded, for line and column of origins. */
  readonly program: Program;
}

export interface VerifyReport {
  readonly lines: string[];
  /** The replay file's JSON, when there is a counterexample to write. */
  readonly replay?: unknown;
  readonly summary: unknown;
}

export function verifyReport(result: VerifyResult, ctx: VerifyReportContext): VerifyReport {
  const where = (o: Origin | undefined) =>
    originText(
      o,
      (uri, offset) => ctx.program.files.get(uri)?.lines.position(offset),
      (uri) => displayPath(uri),
    );
  const cx = result.counterexample;
  const located = cx?.location ? `${cx.location.what}${where(cx.location.origin) ? ` at ${where(cx.location.origin)}` : ""}` : undefined;
  const name = `${ctx.entry} (${displayPath(ctx.file)})`;
  const summary = summaryJson(ctx.file, ctx.entry, result, located);
  if (!cx) {
    const cases = ctx.replayed ? "replayed case" : result.runs === 1 ? "case" : "cases";
    return {
      lines: [
        `verify ${name}: ${result.runs} ${cases}, ${result.checks} checks, every path agrees bit for bit (seed ${result.seed}, ${(result.timeMs / 1000).toFixed(1)} s)`,
        `compared with the reference interpreter (multi-step): its step-by-step mode; the optimized executor in both modes, first and second call, on ${result.kernels.length} kernel paths (${result.kernels.join("; ")}); gradients after each forward`,
      ],
      summary,
    };
  }
  const lines = describeCounterexample(name, result, cx, located, where);
  if (ctx.replayed) return { lines, summary };
  const header = { file: displayPath(ctx.file), entry: ctx.entry, args: ctx.args, nonfinite: ctx.nonfinite, seed: result.seed };
  const argFlags = Object.entries(ctx.args)
    .map(([k, v]) => ` --arg ${k}=${String(v)}`)
    .join("");
  lines.push(`wrote ${ctx.caseOut}; run this case again with: spikelm verify ${displayPath(ctx.file)} --entry ${ctx.entry}${argFlags} --replay ${ctx.caseOut}`);
  return { lines, replay: replayJson(header, cx, located), summary };
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
  } else if (loc) lines.push(`  ${f.error ? "failed in" : "differs at"}: ${located ?? loc.what}`);
  else if (!f.error) lines.push("  first differing op: not found (every traced node agrees; the difference is in how the results are gathered)");
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
