/** The platform layer under Node: node:fs, node:path, node:url, node:os (see platform.ts). */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import type { Platform, PlatformThread } from "./platform.js";

let tempCounter = 0;

// Plain JavaScript run with { eval: true } and an empty execArgv: needs no TypeScript loader
// and uses only dynamic import(), so it works whether the eval is treated as CommonJS or as a
// module (e.g. a parent started with --input-type=module), under vitest or `node --import tsx`.
const threadSource = (body: string) => `
(async () => {
"use strict";
const { workerData, parentPort } = await import("node:worker_threads");
const postToParent = (m) => parentPort.postMessage(m);
${body}
})();
`;

function startThread(body: string, data: Readonly<Record<string, unknown>>): PlatformThread {
  const worker = new Worker(threadSource(body), { eval: true, execArgv: [], workerData: data });
  const ready = new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  });
  return {
    ready,
    onExit: (callback) => void worker.on("exit", callback),
    unref: () => worker.unref(),
    terminate: async () => void (await worker.terminate()),
  };
}

/**
 * V8 normally starts wasm functions in its baseline compiler (Liftoff) and tiers up only
 * after they run hot; the flag is flipped only around the synchronous compile, and left alone
 * when the command line chose.
 */
function compileEagerly<T>(compile: () => T): T {
  let flipped = false;
  try {
    if (!process.execArgv.some((a) => /^--(no-)?liftoff$/.test(a))) {
      setFlagsFromString("--no-liftoff");
      flipped = true;
    }
  } catch {
    // flags unavailable: fall back to normal tiering
  }
  try {
    return compile();
  } finally {
    // --no-liftoff also turned dynamic tiering off (a V8 flag implication): both are put
    // back, so the flags end as they started (the CLI's V8 code cache, made at exit by
    // tools/cli/code-cache.mjs, is accepted only by a process whose flags hash the same).
    if (flipped) {
      setFlagsFromString("--liftoff");
      setFlagsFromString("--wasm-dynamic-tiering");
    }
  }
}

/**
 * Flags for the native kernels: IEEE float32 semantics kept exactly (no contraction of a*b+c
 * into one rounding, no fast-math), position-independent, threads.
 */
const NATIVE_FLAGS = ["-O2", "-std=c11", "-D_GNU_SOURCE", "-ffp-contract=off", "-fno-fast-math", "-fPIC", "-shared", "-pthread"];

/** The first 16 hex digits of the SHA-256 of `data`. */
function shortHash(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 16);
}

/**
 * A built addon in `cacheDir` named `<prefix><hash of its bytes>.node` whose bytes still hash
 * to its name, or null. The check comes before dlopen because a damaged shared object can
 * kill the process inside it: a truncated one is mapped past the file's end (SIGBUS), or
 * loads with no exports. Files that fail the check are removed.
 */
function verifiedAddon(cacheDir: string, prefix: string): string | null {
  let names: string[];
  try {
    names = fs.readdirSync(cacheDir);
  } catch {
    return null;
  }
  for (const n of names) {
    const m = n.startsWith(prefix) ? /^([0-9a-f]{16})\.node$/.exec(n.slice(prefix.length)) : null;
    if (!m) continue;
    const file = path.join(cacheDir, n);
    try {
      if (shortHash(fs.readFileSync(file)) === m[1]) return file;
      fs.rmSync(file, { force: true });
    } catch {
      // removed by another process meanwhile, or unreadable: try the next
    }
  }
  return null;
}

/** Compiles `sources` into `<prefix><hash of its bytes>.node` in cacheDir (atomically: another process sees all of it or nothing); the file or why not. */
function buildAddon(cc: string, include: string, sources: readonly string[], cacheDir: string, prefix: string): { file: string } | { error: string } {
  const tmp = path.join(cacheDir, `${prefix}${process.pid}.${Date.now()}.${tempCounter++}.tmp`);
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    // headers are hashed with the sources (the cache key) but not compiled on their own
    execFileSync(cc, [...NATIVE_FLAGS, "-I", include, "-o", tmp, ...sources.filter((f) => f.endsWith(".c"))], { stdio: ["ignore", "ignore", "pipe"], timeout: 120_000 });
    const file = path.join(cacheDir, `${prefix}${shortHash(fs.readFileSync(tmp))}.node`);
    fs.renameSync(tmp, file);
    return { file };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const err = e as Error & { code?: string; syscall?: string; stderr?: Buffer };
    if (err.code === "ENOENT" && String(err.syscall).startsWith("spawn")) return { error: `no C compiler (${cc}) to build the native kernels` };
    return { error: `could not build the native kernels with ${cc}: ${(err.stderr?.toString() || err.message).trim().split("\n").slice(0, 3).join(" / ")}` };
  }
}

/** dlopen with every symbol bound now: a missing one is an exception here, not a fatal error at its first call. */
function dlopenNow(file: string): { exports: unknown } | { error: string } {
  try {
    const m = { exports: {} as unknown };
    process.dlopen(m, file, os.constants.dlopen.RTLD_NOW);
    return { exports: m.exports };
  } catch (e) {
    return { error: `could not load ${file}: ${(e as Error).message}` };
  }
}

function loadNativeAddon(name: string, sources: readonly string[], cacheDir: string): { exports: unknown } | { error: string } {
  if (process.arch !== "x64") return { error: `no native kernels for ${process.arch} (they are written for x86-64)` };
  const hash = createHash("sha256");
  for (const source of sources) {
    try {
      hash.update(fs.readFileSync(source)).update("\0");
    } catch (e) {
      return { error: `cannot read ${source}: ${(e as Error).message}` };
    }
  }
  const include = path.resolve(path.dirname(process.execPath), "..", "include", "node");
  if (!fs.existsSync(path.join(include, "node_api.h"))) return { error: `no Node headers at ${include} (node_api.h)` };
  const cc = process.env.CC || "cc";
  const key = hash.update(JSON.stringify([sources.map((s) => path.basename(s)), NATIVE_FLAGS, cc, process.versions.modules, process.versions.napi, process.arch, process.platform])).digest("hex").slice(0, 16);
  const prefix = `${name}-${key}-`;
  const cached = verifiedAddon(cacheDir, prefix);
  if (cached !== null) {
    const got = dlopenNow(cached);
    if ("exports" in got) return got;
    // intact but not loadable here (made against another C library, say): built again, once
    fs.rmSync(cached, { force: true });
  }
  const built = buildAddon(cc, include, sources, cacheDir, prefix);
  return "error" in built ? built : dlopenNow(built.file);
}

export const platform: Platform = {
  kind: "node",
  path,
  repoRoot: path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../.."),
  readBytes: (file) => fs.readFileSync(file),
  exists: (file) => fs.existsSync(file),
  readDir: (dir) => fs.readdirSync(dir, { withFileTypes: true }).map((d) => ({ name: d.name, directory: d.isDirectory(), file: d.isFile() })),
  writeAtomic(file, data) {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.${tempCounter++}.tmp`);
    try {
      fs.writeFileSync(tmp, data, { flag: "wx" });
      fs.renameSync(tmp, file);
    } catch (e) {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // best effort
      }
      throw e;
    }
  },
  fileURLToPath: (url) => fileURLToPath(url),
  pathToFileURL: (file) => pathToFileURL(file).href,
  availableParallelism: () => os.availableParallelism(),
  startThread,
  compileEagerly,
  loadNativeAddon,
};
