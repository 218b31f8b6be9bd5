/**
 * `parse` (grammar/parse.ts) from a cache when this very text was parsed by this very grammar
 * before: a one-shot command parses the model's spec and the stdlib every time, and building
 * the parser and lexer and running them cold was ~0.14 s of classifier-base's compile (a
 * quarter of it), where reading the syntax tree back is a JSON.parse.
 *
 * One file per spec of the repository (by its URI; specs elsewhere are parsed every time) in
 * node_modules/.cache/spikelm/ (next to the CLI bundle and the kernels' binaries): the grammar's version (a hash of every grammar/ source file), the
 * text itself, and the tree. A cached tree is used only when both match exactly; only a
 * parse without diagnostics whose tree survives JSON unchanged (compared key by key, -0 and
 * all) is kept. Where the folder or the grammar sources cannot be read, or the folder cannot
 * be written, every file is parsed.
 *
 * Unlike the seeded-tensor lists (a hint the compile checks), a cached tree is taken as the
 * program, so the file carries a checksum of the tree's JSON: a damaged or hand-edited tree
 * that is still valid JSON (and names the right text) would otherwise be compiled as if the
 * spec said it. Layout: one JSON line {version, uri, text, sum}, then the tree's JSON.
 */
import { platform } from "#platform";
import { type ParseResult, parse } from "../../grammar/parse.js";
import { fnv1a32 } from "../engine/random.js";

const cacheDir = () => platform.path.join(platform.repoRoot, "node_modules", ".cache", "spikelm");

let grammar: string | null | undefined;
/** A hash of the grammar's sources (null: unreadable, so nothing is cached). */
function grammarVersion(): string | null {
  if (grammar !== undefined) return grammar;
  try {
    const dir = platform.path.join(platform.repoRoot, "grammar");
    const names = platform.readDir(dir).filter((e) => e.file).map((e) => e.name).sort();
    if (names.length === 0) return (grammar = null);
    const parts = names.map((n) => `${n}:${fnv1a32(platform.readBytes(platform.path.join(dir, n))).toString(16)}`);
    grammar = `${parts.length}/${fnv1a32(new TextEncoder().encode(parts.join(","))).toString(16)}`;
  } catch {
    grammar = null;
  }
  return grammar;
}

/** The checksum a kept tree's JSON must match (FNV-1a of its UTF-8, as hex). */
const checksum = (json: string) => fnv1a32(new TextEncoder().encode(json)).toString(16);

/** Deep equality of JSON-shaped values: the same keys, and numbers by Object.is. */
function sameTree(a: unknown, b: unknown): boolean {
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameTree((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const isUnder = (file: string, dir: string) => {
  const rel = platform.path.relative(dir, file);
  return rel.length > 0 && !rel.startsWith("..") && !platform.path.isAbsolute(rel);
};

/** What the last `cachedParse` did (tests read it). */
export const parseCacheStats = { hits: 0, parsed: 0 };

/** `parse(text, uri)`, read back from the cache when it holds this text under this grammar. */
export function cachedParse(text: string, uri: string): ParseResult {
  const version = grammarVersion();
  const dir = cacheDir();
  // Only the repository's own specs (the stdlib, the shipped models, examples): one file per
  // spec keeps the cache bounded, where specs written to temporary folders would not be.
  if (version === null || !isUnder(uri, platform.repoRoot) || !platform.exists(dir)) {
    parseCacheStats.parsed++;
    return parse(text, uri);
  }
  const file = platform.path.join(dir, `ast-${fnv1a32(new TextEncoder().encode(uri)).toString(16)}.json`);
  try {
    if (platform.exists(file)) {
      const kept = new TextDecoder().decode(platform.readBytes(file));
      const cut = kept.indexOf("\n");
      const c = JSON.parse(kept.slice(0, cut)) as { version?: unknown; uri?: unknown; text?: unknown; sum?: unknown };
      const treeJson = kept.slice(cut + 1);
      if (cut > 0 && c.version === version && c.uri === uri && c.text === text && c.sum === checksum(treeJson)) {
        const tree = JSON.parse(treeJson) as unknown;
        if (tree !== null && typeof tree === "object" && !Array.isArray(tree)) {
          parseCacheStats.hits++;
          return { file: tree as ParseResult["file"], diagnostics: [] };
        }
      }
    }
  } catch {
    // unreadable or damaged: parse, and replace it
  }
  parseCacheStats.parsed++;
  const result = parse(text, uri);
  if (result.diagnostics.length === 0) {
    try {
      const treeJson = JSON.stringify(result.file);
      if (sameTree(JSON.parse(treeJson), result.file)) platform.writeAtomic(file, `${JSON.stringify({ version, uri, text, sum: checksum(treeJson) })}\n${treeJson}`);
    } catch {
      // read-only: nothing kept
    }
  }
  return result;
}
