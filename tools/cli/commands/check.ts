/** `spikelm check FILE...`: every diagnostic as `file:line:col: error CODE: message`; exit 1 on errors. */
import * as fs from "node:fs";
import { checkFiles } from "../../../interpreter/checker/check.js";
import { UserError } from "../../../interpreter/io/errors.js";
import { formatDiagnostics } from "../report-errors.js";

export function checkCommand(files: string[], opts: { quiet?: boolean }): number {
  for (const f of files) if (!fs.existsSync(f)) throw new UserError(`cannot read ${f}: no such file`);
  const r = checkFiles(files);
  for (const line of formatDiagnostics(r.diagnostics, r.program)) process.stdout.write(`${line}\n`);
  const errors = r.diagnostics.filter((d) => d.severity === "error").length;
  if (!opts.quiet) process.stderr.write(errors === 0 ? `checked ${files.length} file${files.length === 1 ? "" : "s"}: no errors\n` : `${errors} error${errors === 1 ? "" : "s"}\n`);
  return errors > 0 ? 1 : 0;
}
