/**
 * Runs a CLI command body in this process as `spikelm` does (behind the same `guarded` wrapper
 * commander calls), capturing stdout, stderr and the exit code: spawning a process per case
 * would cost about a second each.
 */
import { guarded } from "../tools/cli/report-errors.js";

export interface Outcome {
  code: number;
  out: string;
  err: string;
}

export async function inProcess(body: () => Promise<number | void> | number | void): Promise<Outcome> {
  const out: string[] = [];
  const err: string[] = [];
  const realOut = process.stdout.write.bind(process.stdout);
  const realErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  const before = process.exitCode;
  try {
    await guarded(body);
    return { code: Number(process.exitCode ?? 0), out: out.join(""), err: err.join("") };
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
    process.exitCode = before; // the test process must not inherit a case's exit code
  }
}
