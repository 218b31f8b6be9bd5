// @ts-check
/**
 * The SpikeLM extension for VS Code: the `spk` language (grammar and editing rules come
 * from package.json) and a client for the spikelm language server, started as
 * `<spikelm.server.path> <spikelm.server.args...> lsp --stdio`.
 *
 * Plain CommonJS with no build step: VS Code loads this file as it is.
 */
"use strict";

const vscode = require("vscode");
const { LanguageClient, State } = require("vscode-languageclient/node");

/** @type {LanguageClient | undefined} */
let client;
/** @type {vscode.OutputChannel | undefined} */
let output;

/** The command line of the server, from the settings. */
function serverCommand() {
  const config = vscode.workspace.getConfiguration("spikelm");
  const command = config.get("server.path", "spikelm") || "spikelm";
  const extra = config.get("server.args", []);
  const args = Array.isArray(extra) ? extra.filter((a) => typeof a === "string") : [];
  return { command, args: [...args, "lsp", "--stdio"] };
}

async function startClient() {
  const { command, args } = serverCommand();
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  /** @type {import("vscode-languageclient/node").ServerOptions} */
  const serverOptions = {
    // No `transport` here: the client would append its own `--stdio`; ours is explicit.
    command,
    args,
    options: folder ? { cwd: folder, shell: process.platform === "win32" } : { shell: process.platform === "win32" },
  };
  /** @type {import("vscode-languageclient/node").LanguageClientOptions} */
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "spk" },
      { scheme: "untitled", language: "spk" },
    ],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.spk") },
    outputChannel: output,
  };
  client = new LanguageClient("spikelm", "SpikeLM language server", serverOptions, clientOptions);
  try {
    await client.start();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const choice = await vscode.window.showErrorMessage(
      `SpikeLM: could not start the language server \`${command} ${args.join(" ")}\`: ${message}. ` +
        "Set `spikelm.server.path` (and `spikelm.server.args`) to a working spikelm command.",
      "Open Settings",
    );
    if (choice === "Open Settings") await vscode.commands.executeCommand("workbench.action.openSettings", "spikelm.server");
  }
}

async function stopClient() {
  const c = client;
  client = undefined;
  if (c && c.state !== State.Stopped) await c.stop();
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  output = vscode.window.createOutputChannel("SpikeLM");
  context.subscriptions.push(output);
  context.subscriptions.push(
    vscode.commands.registerCommand("spikelm.restartServer", async () => {
      await stopClient();
      await startClient();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("spikelm.server")) {
        await stopClient();
        await startClient();
      }
    }),
  );
  await startClient();
}

function deactivate() {
  return stopClient();
}

module.exports = { activate, deactivate };
