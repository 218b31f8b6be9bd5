// Types of code-cache.mjs (plain JavaScript: it runs before any TypeScript loader).
export type CacheStatus = "absent" | "stale" | "corrupt" | "accepted" | "rejected" | "off" | "wrote" | "unwritable";
/** The cache file of `bundle` for the command word `command`. */
export function cacheFile(bundle: string, command: string | undefined): string;
/** A cache file's contents: header (bundle build, Node, V8, arch, checksum), then V8's data. */
export function encodeCache(build: string, data: Buffer): Buffer;
/** V8's data from cache file contents when they are for `build` on this Node and intact. */
export function decodeCache(bytes: Buffer | undefined, build: string): { status: "absent" | "stale" | "corrupt" } | { status: "usable"; data: Buffer };
/** Runs the bundle from its code cache (written at exit when missing and the command succeeded); its exports. */
export function loadBundle(bundle: string, command: string | undefined, trace?: (what: CacheStatus) => void): Record<string, unknown>;
/** The CLI's exports from `getBundle()`'s bundle, rebuilt once with `rebuild` when it does not load; undefined: run the sources. */
export function loadCli(
  getBundle: () => Promise<string | undefined> | string | undefined,
  rebuild: () => Promise<string | undefined> | string | undefined,
  command: string | undefined,
  trace?: (what: CacheStatus | "damaged bundle") => void,
): Promise<Record<string, unknown> | undefined>;
