/**
 * Output paths are checked before a command does any work: a run that takes minutes must not
 * fail at its last step because `--report /missing/dir/r.html` cannot be written. Every
 * command's options pass through `checkOutputPaths` (a `preAction` hook in main.ts), so a new
 * command with an output option is covered by naming the option here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describeError, UserError } from "../../interpreter/io/errors.js";

/** The options, in every command, whose string value is a file the command will write. */
const OUTPUT_OPTIONS: Readonly<Record<string, string>> = { out: "--out", report: "--report", html: "--html", json: "--json", log: "--log", caseOut: "--case-out" };

/**
 * Throws a UserError naming the option if one of `opts`' output files cannot be written:
 * its folder is missing, is not a folder or is not writable, or the path is a folder.
 * Nothing is created (a failed run leaves no file behind).
 */
export function checkOutputPaths(opts: Readonly<Record<string, unknown>>): void {
  for (const [name, flag] of Object.entries(OUTPUT_OPTIONS)) {
    const value = opts[name];
    if (typeof value !== "string") continue; // absent, or `--report` without a file
    const problem = whyNotWritable(value);
    if (problem) throw new UserError(`${flag} ${value}: cannot write there: ${problem}`, { file: value });
  }
}

function whyNotWritable(file: string): string | undefined {
  if (file.trim() === "") return "the path is empty";
  const target = path.resolve(file);
  const dir = path.dirname(target);
  let dirStat: fs.Stats;
  try {
    dirStat = fs.statSync(dir);
  } catch (e) {
    return `folder ${dir}: ${describeError(e)}`;
  }
  if (!dirStat.isDirectory()) return `${dir} is not a folder`;
  try {
    if (fs.statSync(target).isDirectory()) return "it is a folder";
  } catch {
    // Does not exist yet: the folder decides.
  }
  try {
    fs.accessSync(fs.existsSync(target) ? target : dir, fs.constants.W_OK);
  } catch (e) {
    return describeError(e);
  }
  return undefined;
}
