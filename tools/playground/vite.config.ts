/**
 * Vite configuration of the playground page: `npm run playground` serves it, `npm run
 * build:playground` writes it to out/playground/ (relative URLs: any static host, any
 * sub-folder). The page and its workers import the engine, the checker and the language
 * server from the repository itself (one build of the engine, no fork), so the dev server may
 * read the whole repository.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
/** Cross-origin isolation lets the run worker share memory with kernel threads; a host without these headers still runs the page, on one thread. */
const ISOLATION = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

export default defineConfig({
  root: HERE,
  base: "./",
  publicDir: false,
  clearScreen: false,
  server: { fs: { allow: [REPO] }, host: "127.0.0.1", headers: ISOLATION },
  preview: { host: "127.0.0.1", headers: ISOLATION },
  worker: { format: "es" },
  build: {
    outDir: path.join(REPO, "out/playground"),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 4096,
    assetsInlineLimit: 0,
  },
});
