/**
 * The playground's LSP worker (a module Web Worker): the spikelm language server, the same
 * handlers as `spikelm lsp`, over strings of JSON-RPC (see ../protocol.ts). The stdlib, the
 * examples and the model specs are mounted first, so go to definition into the stdlib answers
 * `file:///spikelm/stdlib/...` URIs.
 */
import { startBrowserServer } from "../../lsp/browser-server.js";
import { mountBundledTexts } from "./bundled.js";

interface WorkerScope {
  onmessage: ((e: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
}
const scope = globalThis as unknown as WorkerScope;

mountBundledTexts();
const server = startBrowserServer((message) => scope.postMessage(message));
scope.onmessage = (e) => {
  if (typeof e.data === "string") server.receive(e.data);
};
