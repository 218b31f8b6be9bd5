/// <reference types="vite/client" />
/**
 * The small shipped models' trained weights in the playground: asset URLs of the build (vite
 * resolves the glob), fetched from the same origin on a model's first run and mounted where
 * models/registry.ts expects the files.
 */
import { platform } from "#platform";
import { mountFiles } from "../../../interpreter/platform/browser.js";
import { MODELS } from "../../../models/registry.js";
import { repoPath } from "./bundled.js";

const weightUrls = import.meta.glob("../../../models/spikelm/trained-*.safetensors", { query: "?url", import: "default", eager: true }) as Record<string, string>;

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
