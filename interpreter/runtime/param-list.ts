/**
 * The tensors a model's forward seeded whole, kept from one run to the next, so a one-shot
 * command can start seeding them on another thread before it compiles the spec (the
 * compile, ~0.3 s for BERT-base, is what gives the list): seed-threads.ts prefillOnThread.
 *
 * A hint, never a source of truth: ParamStore takes a prefilled tensor only where the
 * compiled spec asks for the same path, size, init and seed (the values depend on nothing
 * else), so a stale or damaged list costs time, not correctness. Kept as one JSON file per
 * key in node_modules/.cache/spikelm/ (next to the CLI bundle and the kernels' binaries);
 * where that folder does not exist or cannot be written, nothing is kept.
 */
import { platform } from "#platform";
import type { Init } from "../engine/random.js";
import { fnv1a32 } from "../engine/random.js";
import type { SeedJob } from "./seed-threads.js";

const cacheDir = () => platform.path.join(platform.repoRoot, "node_modules", ".cache", "spikelm");
const fileOf = (key: string) => platform.path.join(cacheDir(), `seeded-params-${fnv1a32(new TextEncoder().encode(key)).toString(16)}.json`);

const isInit = (x: unknown): x is Init => {
  const i = x as { kind?: unknown; bound?: unknown; std?: unknown };
  return (i?.kind === "uniform" && typeof i.bound === "number") || (i?.kind === "normal" && typeof i.std === "number") || i?.kind === "zeros" || i?.kind === "ones";
};
const isJob = (x: unknown): x is SeedJob => {
  const j = x as { path?: unknown; size?: unknown; init?: unknown; rows?: unknown };
  return typeof j?.path === "string" && Number.isSafeInteger(j.size) && (j.size as number) >= 0 && isInit(j.init) && j.rows === undefined;
};

/**
 * The key a model's list is kept under: its spec, entry and arguments; undefined (nothing
 * kept) for a spec outside the repository (the shipped models are in it), so specs in
 * temporary folders do not grow the cache without bound.
 */
export function listKey(spec: string, entry: string, args: unknown): string | undefined {
  const rel = platform.path.relative(platform.repoRoot, spec);
  if (rel.length === 0 || rel.startsWith("..") || platform.path.isAbsolute(rel)) return undefined;
  return JSON.stringify({ spec, entry, args });
}

/**
 * The most values a remembered list may seed (2^28 float32, 1 GiB; BERT-base seeds 110 M): a
 * damaged or tampered list naming absurd sizes must not make the prefill allocate them. A
 * larger model just seeds after its compile, as without a list.
 */
export const MAX_REMEMBERED_VALUES = 2 ** 28;

/** The whole-tensor seed jobs remembered for `key` (undefined: none, unreadable, or absurdly large). */
export function rememberedJobs(key: string): SeedJob[] | undefined {
  try {
    const file = fileOf(key);
    if (!platform.exists(file)) return undefined;
    const data = JSON.parse(new TextDecoder().decode(platform.readBytes(file))) as { key?: unknown; jobs?: unknown };
    if (data.key !== key || !Array.isArray(data.jobs) || !data.jobs.every(isJob)) return undefined;
    if (data.jobs.reduce((a, j) => a + j.size, 0) > MAX_REMEMBERED_VALUES) return undefined;
    return data.jobs;
  } catch {
    return undefined;
  }
}

/** Keeps `jobs` (whole tensors) for `key` when they differ from what is kept. */
export function rememberJobs(key: string, jobs: readonly SeedJob[]): void {
  const whole = jobs.filter((j) => !j.rows).map((j) => ({ path: j.path, init: j.init, size: j.size }));
  const text = JSON.stringify({ key, jobs: whole });
  try {
    if (!platform.exists(cacheDir())) return;
    const file = fileOf(key);
    if (platform.exists(file) && new TextDecoder().decode(platform.readBytes(file)) === text) return;
    platform.writeAtomic(file, new TextEncoder().encode(text));
  } catch {
    // read-only: nothing kept
  }
}
