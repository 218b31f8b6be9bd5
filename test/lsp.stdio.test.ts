/**
 * The real thing: `node --import tsx tools/cli/main.ts lsp --stdio` as a child process,
 * driven through initialize → didOpen → diagnostics → hover → shutdown/exit.
 */
import { expect, it } from "vitest";
import type { Hover, InitializeResult } from "vscode-languageserver";
import { fixture, spawnedClient } from "./lsp.client.js";

it("serves a spec over stdio and exits cleanly", async () => {
  const { client, child, exitCode } = spawnedClient();
  try {
    const init = await client.request<InitializeResult>("initialize", { processId: process.pid, rootUri: null, capabilities: {} });
    expect(init.capabilities.hoverProvider).toBe(true);
    await client.conn.sendNotification("initialized", {});
    const main = fixture("project/main.spk");
    const broken = main.text.replace("heaviside(u - vth)", "heaviside(u - vht)");
    const diags = await client.open(main.uri, broken);
    expect(diags.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual(["SPK201 unknown name `vht`; did you mean `vth`?"]);
    const hover = await client.request<Hover>("textDocument/hover", { textDocument: { uri: main.uri }, position: main.at("gate") });
    expect((hover.contents as { value: string }).value).toContain("neuron Gate(tau = 0.5, vth = 1.0)");
    await client.close();
    expect(await exitCode).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}, 30_000);
