/**
 * The playground in a real browser, for the browser tests and the README screenshot: build the
 * page with vite, serve the build on localhost (vite preview), and drive Debian's Chromium
 * with playwright-core (no browser download; a fresh profile each time).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium } from "playwright-core";
import { build, preview, type PreviewServer } from "vite";

const CONFIG = path.join(path.dirname(fileURLToPath(import.meta.url)), "vite.config.ts");

/** Debian's chromium (`apt-get install chromium`). */
export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  return fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)`;
}

/** Builds the page into `outDir` (a static folder any host can serve). */
export async function buildPlayground(outDir: string): Promise<void> {
  await build({ configFile: CONFIG, logLevel: "error", build: { outDir: path.resolve(outDir), emptyOutDir: true } });
}

/** Serves a built page on 127.0.0.1 (a free port); returns the server and the page's URL. */
export async function servePlayground(outDir: string): Promise<{ server: PreviewServer; url: string }> {
  const server = await preview({ configFile: CONFIG, logLevel: "warn", build: { outDir: path.resolve(outDir) }, preview: { port: 0, strictPort: false, host: "127.0.0.1", open: false } });
  const address = server.httpServer.address();
  if (address === null || typeof address === "string") throw new Error("the preview server has no port");
  return { server, url: `http://127.0.0.1:${address.port}/` };
}

/** The flags the tests run Chromium with: headless, no sandbox (root in CI), nothing phoning home. */
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Chromium with a fresh profile; `close()` closes it and removes the profile. */
export async function launchChromium(viewport = { width: 1440, height: 900 }): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-chromium-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
