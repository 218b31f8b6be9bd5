/**
 * Replay files: a counterexample written by `spikelm verify`, read back by `--replay` to run
 * exactly that case again. The file names the entry and its arguments it was made for (a
 * case only fits the entry and sizes it was generated for) and, for the reader, what failed.
 */
import type { ArgValue } from "../compile.js";
import { UserError } from "../io/errors.js";
import type { Counterexample } from "./verify.js";

const REPLAY_FORMAT = "spikelm-verify-case/1";

export interface ReplayHeader {
  readonly file: string;
  readonly entry: string;
  readonly args: Readonly<Record<string, ArgValue>>;
  readonly nonfinite: boolean;
  readonly seed: number;
}

/** The JSON of a replay file for a counterexample. */
export function replayJson(header: ReplayHeader, cx: Counterexample, located?: string): unknown {
  return {
    format: REPLAY_FORMAT,
    ...header,
    failure: { check: cx.failure.check, ...(cx.failure.difference ? { what: cx.failure.difference.what, index: cx.failure.difference.index } : {}), ...(cx.failure.error ? { error: cx.failure.error } : {}), ...(located ? { at: located } : {}) },
    case: cx.case,
  };
}

/**
 * The case in a replay file, after checking that it was written for this entry and these
 * arguments (its sizes, inputs and parameters are checked against the entry by parseCase).
 */
export function replayCase(json: unknown, file: string, entry: string, args: Readonly<Record<string, ArgValue>>): unknown {
  const o = json as Record<string, unknown> | null;
  if (!o || typeof o !== "object" || o.format !== REPLAY_FORMAT || !("case" in o))
    throw new UserError(`${file}: not a replay file written by spikelm verify (expected "format": "${REPLAY_FORMAT}" and a "case")`, { file });
  if (o.entry !== entry) throw new UserError(`${file} was written for entry \`${String(o.entry)}\`; run it with --entry ${String(o.entry)}`, { file });
  const want = JSON.stringify(sortKeys(o.args ?? {}));
  const have = JSON.stringify(sortKeys(args));
  if (want !== have) {
    const flags = Object.entries((o.args ?? {}) as Record<string, unknown>).map(([k, v]) => `--arg ${k}=${String(v)}`).join(" ");
    throw new UserError(`${file} was written with ${flags || "no --arg values"}; run it with the same arguments`, { file });
  }
  return o.case;
}

function sortKeys(o: unknown): unknown {
  if (!o || typeof o !== "object") return o;
  return Object.fromEntries(Object.entries(o as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
