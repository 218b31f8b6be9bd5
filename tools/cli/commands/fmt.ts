/**
 * `spikelm fmt FILE...`: formats .spk files in place with the project's prettier plugin.
 *
 *   - rewrites each file that changes atomically (a temporary file beside it, then rename),
 *     through symbolic links (the link stays, its target is formatted);
 *   - `--check` writes nothing, prints the files that would change, exits 1 if any would;
 *   - a file with syntax errors prints its diagnostics (`file:line:col: error CODE: message`)
 *     and is left alone; the exit code is then 1.
 * Width and indentation come from the prettier configuration that applies to the file
 * (`.prettierrc`, `.editorconfig`), as `prettier --write` would use them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "../../../grammar/parse.js";
import { formatDiagnostic } from "../../../grammar/source.js";
import { describeError, UserError } from "../../../interpreter/io/errors.js";
import { syntaxDiagnostics } from "../../prettier/plugin.js";
import { formatSpk } from "../../prettier/printer.js";
import type { FormatSpkOptions } from "../../prettier/printer.js";
import { displayPath } from "../report-errors.js";

export interface FmtOptions {
  check?: boolean;
  quiet?: boolean;
}

export async function fmtCommand(files: string[], opts: FmtOptions): Promise<number> {
  for (const f of files) if (!fs.existsSync(f)) throw new UserError(`cannot read ${f}: no such file`);
  let changed = 0;
  let failed = 0;
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      throw new UserError(`cannot read ${file}: ${describeError(e)}`, { file });
    }
    const errors = syntaxDiagnostics(parse(text, file).diagnostics);
    if (errors.length > 0) {
      for (const d of errors) process.stdout.write(`${formatDiagnostic(d, text, displayPath(file))}\n`);
      failed++;
      continue;
    }
    const formatted = await formatSpk(text, { ...(await configFor(file)), filepath: file });
    if (formatted === text) continue;
    changed++;
    if (opts.check) {
      process.stdout.write(`${displayPath(file)}\n`);
    } else {
      writeAtomically(file, formatted);
      if (!opts.quiet) process.stdout.write(`${displayPath(file)}\n`);
    }
  }
  if (!opts.quiet) {
    const n = (k: number) => `${k} file${k === 1 ? "" : "s"}`;
    const what = opts.check
      ? changed === 0
        ? `${n(files.length - failed)} already formatted`
        : `${n(changed)} would be reformatted`
      : `${n(changed)} reformatted, ${n(files.length - failed - changed)} unchanged`;
    process.stderr.write(`${what}${failed > 0 ? `; ${n(failed)} with syntax errors left alone` : ""}\n`);
  }
  return failed > 0 || (opts.check && changed > 0) ? 1 : 0;
}

/** The prettier options that apply to `file` and that the printer reads. */
async function configFor(file: string): Promise<FormatSpkOptions> {
  try {
    const prettier = await import("prettier");
    const config = await prettier.resolveConfig(path.resolve(file), { editorconfig: true });
    const out: { -readonly [K in keyof FormatSpkOptions]: FormatSpkOptions[K] } = {};
    if (typeof config?.printWidth === "number") out.printWidth = config.printWidth;
    if (typeof config?.tabWidth === "number") out.tabWidth = config.tabWidth;
    if (typeof config?.useTabs === "boolean") out.useTabs = config.useTabs;
    return out;
  } catch {
    return {}; // an unreadable configuration: the plugin's defaults
  }
}

/**
 * Writes `text` to a temporary file in the same directory (same mode), then renames it over
 * `file`. A symbolic link is written through: the rename replaces the file it points to (a
 * rename over the link itself would turn the link into a plain copy and leave its target
 * unformatted).
 */
function writeAtomically(file: string, text: string): void {
  let target: string;
  try {
    target = fs.realpathSync(file);
  } catch (e) {
    throw new UserError(`cannot write ${file}: ${describeError(e)}`, { file });
  }
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  try {
    const mode = fs.statSync(target).mode & 0o7777;
    fs.writeFileSync(tmp, text, { encoding: "utf8", mode });
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new UserError(`cannot write ${file}: ${describeError(e)}`, { file });
  }
}
