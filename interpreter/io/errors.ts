/**
 * Errors caused by the user's input (bad files, bad arguments), as opposed to bugs.
 *
 * The CLI catches `UserError` and prints its message without a stack trace, so the
 * message must stand alone: name the file, the tensor and, for shape problems, both shapes.
 */

export class UserError extends Error {
  /** The file the problem is in, when there is one. */
  readonly file?: string;

  constructor(message: string, options?: { file?: string; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "UserError";
    if (options?.file !== undefined) this.file = options.file;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/** A short description of an unknown thrown value, for wrapping system errors. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "no such file or directory";
    if (code === "EACCES" || code === "EPERM") return "permission denied";
    if (code === "EISDIR") return "is a directory";
    if (code === "ENOTDIR") return "a parent path is not a directory";
    if (code === "ENOSPC") return "no space left on device";
    return e.message;
  }
  return String(e);
}
