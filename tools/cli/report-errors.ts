/**
 * How the CLI ends on a problem: a user's mistake prints a clear message (diagnostics with
 * file:line:col) and exits 1; only a bug in spikelm itself prints a stack trace.
 */
import * as path from "node:path";
import { type Diagnostic, formatDiagnostic } from "../../grammar/source.js";
import type { Program } from "../../interpreter/checker/program.js";
import { SpecError } from "../../interpreter/compile.js";
import { isUserError } from "../../interpreter/io/errors.js";
import { shutdownKernelPool } from "../../interpreter/engine/kernels/spike-matmul.js";

export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
}

export function formatDiagnostics(diags: readonly Diagnostic[], program: Program): string[] {
  return diags.map((d) => formatDiagnostic(d, program.files.get(d.uri)?.lines ?? "", displayPath(d.uri)));
}

/** Prints the error the way a user should see it and returns the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof SpecError) {
    for (const line of formatDiagnostics(e.diagnostics, e.program)) process.stderr.write(`${line}\n`);
    return 1;
  }
  if (isUserError(e)) {
    process.stderr.write(`error: ${e.message}\n`);
    return 1;
  }
  // Every tensor is checked against MAX_TENSOR_ELEMENTS before it is allocated, but a run
  // within the bounds can still need more memory than this machine has: that is a fact
  // about the run, not a bug, so it gets a message and exit 1 rather than a stack trace.
  if (e instanceof RangeError && /Array buffer allocation failed|Invalid typed array length|Invalid array length/.test(e.message)) {
    process.stderr.write(`error: not enough memory for this run (${e.message}); use a smaller batch, sequence length or model\n`);
    return 1;
  }
  process.stderr.write(`internal error (a bug in spikelm, please report it):\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 70;
}

/** Runs a command body, turning thrown errors into an exit code. */
export async function guarded(body: () => Promise<number | void> | number | void): Promise<void> {
  try {
    const code = await body();
    process.exitCode = code ?? 0;
  } catch (e) {
    process.exitCode = reportError(e);
  } finally {
    // Kernel worker threads must not keep the process alive.
    await shutdownKernelPool();
  }
}
