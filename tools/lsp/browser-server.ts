/**
 * The language server in a browser Web Worker (the playground's LSP worker): the string
 * transport of string-server.ts on vscode-languageserver's browser runtime, and the
 * formatter imported statically (a bundle cannot find tools/prettier/ at run time).
 */
import { createProtocolConnection } from "vscode-languageserver/browser";
import { formatSpk } from "../prettier/printer.js";
import { useFormatter } from "./formatting.js";
import { type StringServer, startStringServer } from "./string-server.js";

export function startBrowserServer(send: (message: string) => void): StringServer {
  useFormatter((text) => formatSpk(text));
  return startStringServer(send, createProtocolConnection);
}
