/**
 * The README's screenshot of the playground (docs/playground.png): builds the page, serves it
 * on localhost, opens TinySpikeLM in Chromium, hovers a name, runs it, and captures the window.
 *
 *   node --import tsx tools/playground/screenshot.ts [out.png]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { browserMissing, buildPlayground, launchChromium, servePlayground } from "./browser.js";

const LINK = `#file=${encodeURIComponent("file:///spikelm/models/tiny/tiny_spikelm.spk")}&entry=TinySpikeLM&seed=0&input=file&inputFile=${encodeURIComponent("file:///spikelm/models/tiny/prompt.json")}`;
const SLOW = 600_000;

async function main(out: string): Promise<void> {
  const missing = browserMissing();
  if (missing) throw new Error(missing);
  const site = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-playground-site-"));
  await buildPlayground(site);
  const { server, url } = await servePlayground(site);
  const browser = await launchChromium({ width: 1440, height: 900 });
  try {
    const page = await browser.context.newPage();
    await page.goto(url + LINK);
    await page.waitForSelector("body[data-ready=true]", { timeout: SLOW });
    await page.locator("#run").click();
    await page.locator("#rates-table").waitFor({ timeout: SLOW });
    // A hover tooltip on the editor: the shape and spike type of a name.
    // (CodeMirror drops a hover when the view redraws under the pointer: move it again until one shows.)
    const name = page.locator(".cm-line", { hasText: "let h = norm(" }).locator(".spk-local", { hasText: /^h$/ });
    for (let attempt = 0; !(await page.locator(".cm-tooltip-hover").isVisible()); attempt++) {
      if (attempt === 10) throw new Error("no hover tooltip showed");
      await page.mouse.move(0, 0);
      await name.hover();
      await page.waitForTimeout(2000);
    }
    await page.screenshot({ path: out });
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(site, { recursive: true, force: true });
  }
  process.stdout.write(`wrote ${out}\n`);
}

main(process.argv[2] ?? "docs/playground.png").catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
