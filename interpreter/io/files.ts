/** Small file helpers shared by the readers and writers: clear errors, atomic writes. */

import { platform } from "#platform";
import { utf8 } from "../platform/platform.js";
import { UserError, describeError } from "./errors.js";

/** Reads a whole file; a missing or unreadable file is a UserError naming it. */
export function readFileBytes(file: string, what = "file"): Uint8Array {
  try {
    return platform.readBytes(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`${file}: ${what} not found`, { file, cause: e });
    throw new UserError(`${file}: cannot read ${what}: ${describeError(e)}`, { file, cause: e });
  }
}

/** Reads a whole file as UTF-8 text (see readFileBytes). */
export function readFileText(file: string, what = "file"): string {
  const bytes = readFileBytes(file, what);
  try {
    return utf8(bytes);
  } catch (e) {
    // Node strings top out around 512 MiB.
    throw new UserError(`${file}: ${what} is too large to read as text (${bytes.length} bytes)`, { file, cause: e });
  }
}

/**
 * Writes `data` to `file` atomically: the bytes go to a temporary file in the same
 * directory, which is then renamed over `file`. A failure leaves no partial output
 * (and no temporary file) behind.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  try {
    platform.writeAtomic(file, data);
  } catch (e) {
    throw new UserError(`${file}: cannot write file: ${describeError(e)}`, { file, cause: e });
  }
}
