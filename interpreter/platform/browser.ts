/**
 * The platform layer in a browser (Web Worker): an in-memory file table under `repoRoot`
 * (the bundled stdlib, examples and model specs, mounted by the worker that bundles them, plus
 * whatever it fetches, such as shipped weights), POSIX paths (path-browserify: node:path's
 * own POSIX code; paths are always resolved from "/", there is no working directory) and `file:` URLs
 * computed without node:url. There is nothing to write to.
 */
import posix from "path-browserify";
import type { DirEntry, FileError, PathApi, Platform, PlatformThread } from "./platform.js";

const files = new Map<string, Uint8Array>();
const encoder = new TextEncoder();

function missing(file: string, what = "no such file or directory"): FileError {
  return Object.assign(new Error(`ENOENT: ${what}, '${file}'`), { code: "ENOENT" });
}

const path: PathApi = {
  sep: "/",
  resolve: (...p) => posix.resolve("/", ...p),
  join: posix.join,
  dirname: posix.dirname,
  basename: posix.basename,
  extname: posix.extname,
  relative: (from, to) => posix.relative(posix.resolve("/", from), posix.resolve("/", to)),
  isAbsolute: posix.isAbsolute,
  normalize: posix.normalize,
};

/** Adds (or replaces) files by absolute path. */
export function mountFiles(entries: Readonly<Record<string, string | Uint8Array>>): void {
  for (const [file, content] of Object.entries(entries)) files.set(path.resolve(file), typeof content === "string" ? encoder.encode(content) : content);
}

function isDir(dir: string): boolean {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  for (const f of files.keys()) if (f.startsWith(prefix)) return true;
  return false;
}

interface WorkerScope {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  Worker?: new (url: string, options?: { type?: "classic" | "module" }) => BrowserWorker;
  Blob?: new (parts: string[], options: { type: string }) => object;
  URL: { createObjectURL(blob: object): string; revokeObjectURL(url: string): void };
}
interface BrowserWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: "message" | "error", listener: (e: { data?: unknown; message?: string }) => void, options?: { once?: boolean }): void;
}
const scope = globalThis as unknown as WorkerScope;

// The thread's first message is its data; everything after goes to the body's own handlers.
const threadSource = (body: string) => `
(async () => {
"use strict";
const workerData = await new Promise((resolve) => { self.onmessage = (e) => { self.onmessage = null; resolve(e.data); }; });
const postToParent = (m) => self.postMessage(m);
${body}
})();
`;

/** A Web Worker from a Blob URL; only with cross-origin isolation (shared memory across threads). */
function startThread(body: string, data: Readonly<Record<string, unknown>>): PlatformThread | undefined {
  if (!scope.crossOriginIsolated || !scope.Worker || !scope.Blob) return undefined;
  const url = scope.URL.createObjectURL(new scope.Blob([threadSource(body)], { type: "text/javascript" }));
  const worker = new scope.Worker(url);
  const exits: (() => void)[] = [];
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    for (const f of exits) f();
  };
  const ready = new Promise<void>((resolve, reject) => {
    worker.addEventListener("message", () => resolve(), { once: true });
    worker.addEventListener("error", (e) => {
      end();
      reject(new Error(e.message ?? "kernel thread failed to start"));
    });
  }).finally(() => scope.URL.revokeObjectURL(url));
  worker.postMessage(data);
  return {
    ready,
    onExit: (callback) => void exits.push(callback),
    unref: () => undefined,
    terminate: async () => {
      worker.terminate();
      end();
    },
  };
}

export const platform: Platform = {
  kind: "browser",
  path,
  repoRoot: "/spikelm",
  readBytes(file) {
    const bytes = files.get(path.resolve(file));
    if (!bytes) throw missing(file);
    return bytes;
  },
  exists: (file) => files.has(path.resolve(file)) || isDir(path.resolve(file)),
  readDir(dir) {
    const abs = path.resolve(dir);
    if (!isDir(abs)) throw missing(dir);
    const prefix = abs === "/" ? "/" : `${abs}/`;
    const out = new Map<string, DirEntry>();
    for (const f of files.keys()) {
      if (!f.startsWith(prefix)) continue;
      const rest = f.slice(prefix.length);
      const slash = rest.indexOf("/");
      const name = slash < 0 ? rest : rest.slice(0, slash);
      if (!out.has(name)) out.set(name, { name, directory: slash >= 0, file: slash < 0 });
    }
    return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  },
  writeAtomic(file) {
    throw Object.assign(new Error(`EROFS: the playground has no file system to write ${file} to`), { code: "EROFS" });
  },
  fileURLToPath(url) {
    const u = new URL(url);
    if (u.protocol !== "file:") throw new TypeError(`not a file URL: ${url}`);
    return decodeURIComponent(u.pathname);
  },
  pathToFileURL: (file) => `file://${path.resolve(file).split("/").map(encodeURIComponent).join("/")}`,
  availableParallelism: () => Math.max(1, scope.navigator?.hardwareConcurrency ?? 1),
  startThread,
  compileEagerly: (compile) => compile(),
  loadNativeAddon: () => ({ error: "a browser runs no native code" }),
};
