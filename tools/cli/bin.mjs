#!/usr/bin/env node
// Installed entry point (`npx spikelm`): the bundled CLI when it can be had (bundle.mjs:
// rebuilt whenever a source is newer), else tsx registered so the TypeScript sources run as
// they are.
import { bundleUrl, ensureBundle } from "./bundle.mjs";

const bundle = await ensureBundle();
if (bundle) await import(bundleUrl(bundle));
else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("./main.ts");
}
