#!/usr/bin/env node
// Installed entry point (`npx spikelm`): the bundled CLI when it can be had (bundle.mjs:
// rebuilt whenever a source is newer), compiled from V8's code cache (code-cache.mjs), else
// tsx registered so the TypeScript sources run as they are.
import { buildBundle, ensureBundle } from "./bundle.mjs";
import { loadCli } from "./code-cache.mjs";

// SPIKELM_CODE_CACHE_TRACE=1: what happened to the code cache, on stderr (the tests read it).
const trace = process.env.SPIKELM_CODE_CACHE_TRACE === "1" ? (what) => process.stderr.write(`code cache: ${what}\n`) : undefined;
const cli = await loadCli(ensureBundle, () => buildBundle().catch(() => undefined), process.argv[2], trace);
if (cli) {
  await cli.runCli(process.argv);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("./main.ts");
}
