/**
 * `spikelm check PATH...`: every diagnostic as `file:line:col: error CODE: message`; exit 1
 * on errors. A directory stands for the `.spk` files under it (as `prettier`, `eslint` and
 * `tsc` treat directories); one with none is an error, never a silent success.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { checkFiles } from "../../../interpreter/checker/check.js";
import { UserError, describeError } from "../../../interpreter/io/errors.js";
import { formatDiagnostics } from "../report-errors.js";

/** The `.spk` files under `dir`, sorted; hidden folders and node_modules are skipped. */
function specsUnder(dir: string): string[] {
  const out: string[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const d = pending.pop()!;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (!e.name.startsWith(".") && e.name !== "node_modules") pending.push(p);
      } else if (e.name.endsWith(".spk") && (e.isFile() || e.isSymbolicLink())) out.push(p);
    }
  }
  return out.sort();
}

/** The spec files `paths` name: files as given, directories expanded. */
function specFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch (e) {
      throw new UserError(`cannot read ${p}: ${describeError(e)}`, { file: p });
    }
    if (stat.isDirectory()) {
      const found = specsUnder(p);
      if (found.length === 0) throw new UserError(`${p} is a directory with no .spk files in it`, { file: p });
      files.push(...found);
    } else {
      try {
        fs.accessSync(p, fs.constants.R_OK);
      } catch (e) {
        throw new UserError(`cannot read ${p}: ${describeError(e)}`, { file: p });
      }
      files.push(p);
    }
  }
  return files;
}

export function checkCommand(paths: string[], opts: { quiet?: boolean }): number {
  const files = specFiles(paths);
  const r = checkFiles(files);
  for (const line of formatDiagnostics(r.diagnostics, r.program)) process.stdout.write(`${line}\n`);
  const errors = r.diagnostics.filter((d) => d.severity === "error").length;
  if (!opts.quiet) process.stderr.write(errors === 0 ? `checked ${files.length} file${files.length === 1 ? "" : "s"}: no errors\n` : `${errors} error${errors === 1 ? "" : "s"}\n`);
  return errors > 0 ? 1 : 0;
}
