// Types of bundle.mjs (plain JavaScript: it runs before any TypeScript loader).
/** The bundle's path when it is at least as new as every file it was built from. */
export function freshBundle(): string | undefined;
/** Builds the bundle; resolves to its path. */
export function buildBundle(): Promise<string>;
/** The bundle, rebuilt if stale; undefined when it cannot be built here. */
export function ensureBundle(): Promise<string | undefined>;
