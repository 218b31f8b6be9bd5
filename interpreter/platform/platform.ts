/**
 * The platform layer: everything the engine, the checker and the language server need from
 * their host (files, paths, file URLs, threads), behind one small interface with two
 * implementations. `#platform` (package.json "imports") resolves to `node.ts` under Node and
 * to `browser.ts` for a bundler resolving the `browser` condition (vite, for the playground's
 * Web Workers), so there is one build of the engine, not a fork.
 */

/** The part of `node:path` the code uses (POSIX semantics in the browser). */
export interface PathApi {
  readonly sep: string;
  resolve(...paths: string[]): string;
  join(...paths: string[]): string;
  dirname(p: string): string;
  basename(p: string, ext?: string): string;
  extname(p: string): string;
  relative(from: string, to: string): string;
  isAbsolute(p: string): boolean;
  normalize(p: string): string;
}

/** A directory entry. */
export interface DirEntry {
  readonly name: string;
  readonly directory: boolean;
  /** A regular file (not a folder, link or device). */
  readonly file: boolean;
}

/** A file-system error with Node's `code` (`ENOENT` for a missing file). */
export interface FileError extends Error {
  readonly code?: string;
}

/** A thread started by `Platform.startThread`. */
export interface PlatformThread {
  /** Resolves on the thread's first message (it is ready); rejects if it fails to start. */
  readonly ready: Promise<void>;
  /** Called once when the thread ends (or dies). */
  onExit(callback: () => void): void;
  /** The thread no longer keeps the process alive (Node); nothing in a browser. */
  unref(): void;
  terminate(): Promise<void>;
}

export interface Platform {
  readonly kind: "node" | "browser";
  readonly path: PathApi;
  /** Absolute folder holding the repository's `stdlib/`, `models/` and `examples/`. */
  readonly repoRoot: string;
  /** A whole file's bytes; throws a FileError (code ENOENT when missing). */
  readBytes(file: string): Uint8Array;
  /** Whether a file or folder exists. */
  exists(file: string): boolean;
  /** A folder's entries; throws a FileError when it cannot be read. */
  readDir(dir: string): DirEntry[];
  /** Writes `data` to `file` through a temporary file renamed over it (no partial output). */
  writeAtomic(file: string, data: string | Uint8Array): void;
  /** `file:` URL → absolute path. */
  fileURLToPath(url: string): string;
  /** Absolute path → `file:` URL. */
  pathToFileURL(file: string): string;
  /** Logical processors the kernels may spread over. */
  availableParallelism(): number;
  /**
   * Starts a thread running `body`, plain JavaScript evaluated inside an async function where
   * `workerData` (a structured clone of `data`: WebAssembly modules and shared memories are
   * shared, not copied) and `postToParent(message)` are in scope. Undefined where threads
   * cannot share memory (a page without cross-origin isolation).
   */
  startThread(body: string, data: Readonly<Record<string, unknown>>): PlatformThread | undefined;
  /**
   * Runs `compile` (a synchronous WebAssembly compile) so that the module is compiled straight
   * to optimized code where the engine allows choosing (V8 under Node: `--no-liftoff`).
   */
  compileEagerly<T>(compile: () => T): T;
  /**
   * The exports of the Node-API addon `name` built from the C files `sources` (absolute
   * paths; headers among them are hashed, not compiled), compiled with the system's C compiler on first use and kept in `cacheDir` under a
   * name that hashes the sources, the compile flags, Node's ABI and the architecture (and,
   * checked before loading, the file's own bytes: a damaged one is built again); or why
   * there is none (no compiler, no Node headers, a browser, the compile failed). Synchronous.
   */
  loadNativeAddon(name: string, sources: readonly string[], cacheDir: string): { readonly exports: unknown } | { readonly error: string };
}

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** UTF-8 text of bytes as Node's `readFileSync(file, "utf8")` gives it: invalid sequences become U+FFFD, a BOM stays. */
export function utf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
