/** The platform layer under Node: node:fs, node:path, node:url, node:os (see platform.ts). */
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
};
