/// <reference types="vite/client" />
/**
 * The repository files the playground's workers carry (vite resolves the globs at build time):
 * the stdlib, the examples, the shipped model specs and their small data as text (the small
 * models' weights are model-weights.ts'). Mounted under the browser platform's `repoRoot`,
 * they sit where the Node code expects them, so models/registry.ts and the checker find them
 * unchanged.
 */
import { mountFiles, platform } from "../../../interpreter/platform/browser.js";
import { BUNDLED_PATHS } from "./bundled-paths.js";

const texts = import.meta.glob(
  ["../../../stdlib/*.spk", "../../../examples/*.spk", "../../../models/tiny/*.spk", "../../../models/tiny/prompt.json", "../../../models/spikelm/*.spk", "../../../models/spikelm/vocab-small.txt", "../../../models/spikelm/bpe-kjv.txt"],
  { query: "?raw", import: "default", eager: true },
) as Record<string, string>;

/** A glob key (`../../../stdlib/layers.spk`) as a repository path (`stdlib/layers.spk`). */
export const repoPath = (key: string) => key.replace(/^(\.\.\/)+/, "");
const abs = (rel: string) => platform.path.join(platform.repoRoot, rel);

/** Mounts the bundled texts; returns the repository paths mounted. */
export function mountBundledTexts(): string[] {
  const files = Object.fromEntries(Object.entries(texts).map(([k, v]) => [abs(repoPath(k)), v]));
  mountFiles(files);
  const mounted = Object.keys(texts).map(repoPath);
  const missing = [...BUNDLED_PATHS.specs, ...BUNDLED_PATHS.data].filter((p) => !mounted.includes(p));
  if (missing.length > 0) throw new Error(`internal: the playground bundle lacks ${missing.join(", ")}`);
  return mounted;
}
