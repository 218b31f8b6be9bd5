/**
 * `spikelm lsp --stdio`: the language server on stdin/stdout (the only transport; `--stdio`
 * is accepted for clients that always pass it). Runs until the client sends `exit` or closes
 * the stream. All protocol handling lives in tools/lsp (the only part that speaks LSP).
 */
import { runStdioServer } from "../../lsp/server.js";

export function lspCommand(): void {
  runStdioServer();
}
