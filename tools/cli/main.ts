/**
 * The `spikelm` command line, run from its TypeScript sources (`node --import tsx
 * tools/cli/main.ts ...`); the installed command runs the same program from the bundle
 * (bin.mjs).
 */
import { runCli } from "./program.js";

await runCli(process.argv);
