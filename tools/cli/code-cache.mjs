// The bundled CLI run from V8's code cache: compiling the 2.3 MB bundle and, lazily, every
// function a command calls is a fixed cost of each one-shot command (Node 20 has no
// module.enableCompileCache, which is 22.1+). The bundle is a CommonJS script
// (bundle.mjs) compiled here with vm.Script; after a successful command, the script's code
// cache (createCachedData at exit, so it holds the functions the command compiled lazily,
// not just the top level) is stored next to the bundle, one file per command word: the
// functions `classify` compiles are not the ones `models` does.
//
// A cache file is used only when its header names this very bundle (its content hash,
// written into the bundle's first line at build time), this Node and V8, and the checksum
// of the data that follows. V8 checks its own version and flags but not the source (only
// its length) and, in release builds, no checksum: a cache of another bundle of the same
// length, or a damaged file, must never reach it. Anything unusable is ignored and replaced
// at exit; nothing here ever fails a command.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import * as vm from "node:vm";

const MAGIC = "spikelm-v8-code-cache 1\n";
/** The bundle's first line (bundle.mjs writes it): `// spikelm-bundle <sha1 of the rest>`. */
const BUILD_LINE = /^\/\/ spikelm-bundle ([0-9a-f]{40})\n/;

/** The cache file of `bundle` for command word `command` (a successful run's argv[2]). */
export function cacheFile(bundle, command) {
  const word = /^[a-z][a-z0-9-]{0,31}$/.test(command ?? "") ? command : "none";
  return path.join(path.dirname(bundle), `${path.basename(bundle)}.${word}.v8cache`);
}

const checksum = (data) => createHash("sha1").update(data).digest("hex");

/** What this process requires of a cache file, besides the data's checksum. */
function identity(build) {
  return { build, node: process.version, v8: process.versions.v8, arch: process.arch };
}

/** The header and data of a cache file for `build`. */
export function encodeCache(build, data) {
  const header = JSON.stringify({ ...identity(build), bytes: data.length, sha1: checksum(data) });
  return Buffer.concat([Buffer.from(`${MAGIC}${header}\n`), data]);
}

/**
 * The V8 data of cache file contents `bytes` when they are for `build` on this Node and
 * intact; otherwise why not ("absent" when there is no file, "stale" when it is for another
 * bundle or Node, "corrupt" when it cannot be read or its checksum does not match).
 */
export function decodeCache(bytes, build) {
  if (!bytes) return { status: "absent" };
  const magic = Buffer.from(MAGIC);
  if (bytes.length < magic.length || !bytes.subarray(0, magic.length).equals(magic)) return { status: "corrupt" };
  const end = bytes.indexOf(10, magic.length);
  if (end < 0) return { status: "corrupt" };
  let header;
  try {
    header = JSON.parse(bytes.subarray(magic.length, end).toString("utf8"));
  } catch {
    return { status: "corrupt" };
  }
  const want = identity(build);
  if (!header || typeof header !== "object" || Object.keys(want).some((k) => header[k] !== want[k])) return { status: "stale" };
  const data = bytes.subarray(end + 1);
  if (data.length !== header.bytes || checksum(data) !== header.sha1) return { status: "corrupt" };
  return { status: "usable", data };
}

/** Larger than any cache V8 makes of the bundle (~2 MB): such a file is damaged, and not read into memory. */
const MAX_CACHE_BYTES = 64 << 20;

/** The file's bytes; undefined when there is none (or it is not a readable file); empty when absurdly large. */
function readIfAny(file) {
  try {
    if (fs.statSync(file).size > MAX_CACHE_BYTES) return Buffer.alloc(0);
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Written whole, then renamed (a concurrent command never reads half a file); read-only: nothing. */
function writeAtomic(file, bytes) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
    return true;
  } catch {
    fs.rmSync(tmp, { force: true });
    return false;
  }
}

/**
 * Runs the CommonJS bundle `bundle` (built by bundle.mjs) as the command `command`,
 * compiled from its code cache when there is a usable one, and arranges for the cache to be
 * written at exit when there was none (or V8 rejected it) and the command succeeded.
 * Resolves to the bundle's exports. `trace` (if given) is told what happened to the cache:
 * `absent`, `stale`, `corrupt`, `accepted`, `rejected` or `off` when loading, then `wrote`
 * or `unwritable` at exit.
 */
export function loadBundle(bundle, command, trace = () => {}, requiredExport = undefined) {
  const source = fs.readFileSync(bundle, "utf8");
  const build = BUILD_LINE.exec(source)?.[1];
  const file = cacheFile(bundle, command);
  // SPIKELM_NO_CODE_CACHE=1: compile from source and keep nothing (the startup bench's control).
  const off = process.env.SPIKELM_NO_CODE_CACHE === "1";
  const found = off ? { status: "off" } : build ? decodeCache(readIfAny(file), build) : { status: "stale" };
  // The wrapper a CommonJS module gets, plus the bundle's own URL (its modules find their
  // neighbours relative to it: bundle.mjs rewrites import.meta.url) and strict mode, which an
  // ES module (what the sources are) always has.
  const wrapped = `(function (exports, require, module, __filename, __dirname, __spikelmBundleUrl) {"use strict";${source}\n})`;
  const script = new vm.Script(wrapped, {
    filename: bundle,
    cachedData: found.data,
    // No importModuleDynamically: a script compiled from the cache loses it in Node 20
    // (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), so the bundle has no import() (bundle.mjs).
  });
  const status = found.status !== "usable" ? found.status : script.cachedDataRejected ? "rejected" : "accepted";
  trace(status);
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle), pathToFileURL(bundle).href);
  // A truncated bundle can compile (V8 parses function bodies lazily) and run its top level
  // without defining what it exports: that is damage too.
  if (requiredExport !== undefined && typeof module.exports[requiredExport] !== "function") throw new Error(`bundle ${bundle} does not export ${requiredExport}`);
  // Only a bundle that compiled, ran its top level and exports what it must leaves a cache.
  if (status !== "accepted" && status !== "off" && build) {
    process.once("exit", (code) => {
      if (code !== 0) return;
      trace(writeAtomic(file, encodeCache(build, script.createCachedData())) ? "wrote" : "unwritable");
    });
  }
  return module.exports;
}

/**
 * The CLI's exports from the bundle `getBundle()` gives (loadBundle), or undefined when there
 * is none (then the caller runs the sources). The bundle is a cache: one that does not compile,
 * whose top level throws or that exports no `runCli` (a truncated or damaged file with a fresh
 * date) is built again
 * with `rebuild` and loaded once more; a failure then is undefined too, never a stack trace.
 */
export async function loadCli(getBundle, rebuild, command, trace = () => {}) {
  const bundle = await getBundle();
  if (!bundle) return undefined;
  try {
    return loadBundle(bundle, command, trace, "runCli");
  } catch {
    trace("damaged bundle");
  }
  try {
    const again = await rebuild();
    return again ? loadBundle(again, command, trace, "runCli") : undefined;
  } catch {
    trace("damaged bundle");
    return undefined;
  }
}
