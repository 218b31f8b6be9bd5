/**
 * Child process of test/playground.workers.test.ts, started with `--conditions=browser` so that
 * `#platform` (and every package) resolves as in the page's Web Workers: mounts the bundled
 * files (read from the repository given as argv[2], as the bundle carries them), then answers
 * the run worker requests on stdin, one JSON per line, through the run handler. (The language
 * server's browser build is not loadable this way: Node's CommonJS interop cannot see the
 * named exports of vscode-languageserver's browser entry; vite's can, and the page's browser
 * test covers it.)
 */
import * as fs from "node:fs";
import * as readline from "node:readline";
import { mountFiles, platform } from "../interpreter/platform/browser.js";
import { platform as resolved } from "#platform";
import { BUNDLED_PATHS } from "../tools/playground/workers/bundled-paths.js";
import { handle } from "../tools/playground/workers/run-handler.js";
import type { RunWorkerRequest } from "../tools/playground/protocol.js";

const repo = process.argv[2]!;
mountFiles(Object.fromEntries([...BUNDLED_PATHS.specs, ...BUNDLED_PATHS.data].map((rel) => [platform.path.join(platform.repoRoot, rel), fs.readFileSync(`${repo}/${rel}`)])));

const reply = (o: unknown) => process.stdout.write(`${JSON.stringify(o, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v))}\n`);
reply({ platform: resolved.kind, same: resolved === platform });

for await (const line of readline.createInterface({ input: process.stdin })) {
  reply(await handle(JSON.parse(line) as RunWorkerRequest));
}
