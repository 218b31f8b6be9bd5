/// <reference types="vite/client" />
/**
 * The repository files the playground's workers carry (vite resolves the globs at build time):
 * the stdlib, the examples, the shipped model specs and their small data as text; the small
 * models' trained weights as asset URLs, fetched from the same origin on first use. Mounted
 * under the browser platform's `repoRoot`, they sit where the Node code expects them, so
 * models/registry.ts and the checker find them unchanged.
 */
import { mountFiles, platform } from "../../../interpreter/platform/browser.js";
import { MODELS } from "../../../models/registry.js";
import { BUNDLED_PATHS } from "./run-handler.js";

const texts = import.meta.glob(
  ["../../../stdlib/*.spk", "../../../examples/*.spk", "../../../models/tiny/*.spk", "../../../models/tiny/prompt.json", "../../../models/spikelm/*.spk", "../../../models/spikelm/vocab-small.txt"],
  { query: "?raw", import: "default", eager: true },
) as Record<string, string>;

const weightUrls = import.meta.glob("../../../models/spikelm/trained-*.safetensors", { query: "?url", import: "default", eager: true }) as Record<string, string>;

const repoPath = (key: string) => key.replace(/^(\.\.\/)+/, "");
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

/** Whether the bundle carries a shipped model's weights. */
export function hasModelWeights(name: string): boolean {
  const model = MODELS.find((m) => m.name === name);
  return model?.weights !== undefined && Object.keys(weightUrls).some((k) => repoPath(k) === platform.path.relative(platform.repoRoot, model.weights!));
}

const fetched = new Map<string, Promise<void>>();

/** Fetches and mounts a shipped model's weights (once), if the bundle has them. */
export function ensureModelWeights(name: string | undefined): Promise<void> {
  const model = MODELS.find((m) => m.name === name);
  if (!model?.weights) return Promise.resolve();
  const rel = platform.path.relative(platform.repoRoot, model.weights);
  const url = Object.entries(weightUrls).find(([k]) => repoPath(k) === rel)?.[1];
  if (!url) return Promise.resolve();
  let p = fetched.get(rel);
  if (!p) {
    p = (async () => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`cannot fetch the weights of ${name} (${url}: HTTP ${res.status})`);
      mountFiles({ [model.weights!]: new Uint8Array(await res.arrayBuffer()) });
    })();
    fetched.set(rel, p);
    p.catch(() => fetched.delete(rel));
  }
  return p;
}
