/**
 * The playground in a real browser (Debian's Chromium through playwright-core): the page is
 * built with vite and served on localhost, then used as a person would: it opens the spec a
 * link names, highlights it, shows a diagnostic for a typo and a shape on hover, goes to a
 * definition in the stdlib, keeps edits in the link, and runs TinySpikeLM, whose spike rasters
 * (read back from the canvas pixels) and firing rates must equal, bit for bit, what the CLI's
 * `spikelm run --record` writes for the command and inputs the page shows. The page must make
 * no request outside localhost.
 *
 * Without /usr/bin/chromium the whole block is skipped, with the reason in its name.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countSigns } from "../interpreter/report/counts.js";
import { formatCell } from "../tools/cli/table.js";
import { formatSpk } from "../tools/prettier/printer.js";
import { NEG_COLOUR, POS_COLOUR } from "../tools/playground/page/raster.js";
import { browserMissing, buildPlayground, launchChromium, servePlayground } from "../tools/playground/browser.js";
import { REPO } from "./helpers.js";

const missing = browserMissing();
const TINY = "file:///spikelm/models/tiny/tiny_spikelm.spk";
const LINK = `#file=${encodeURIComponent(TINY)}&entry=TinySpikeLM&seed=3&input=random&inputSeed=5`;
/** A test's whole budget, and how long one step (a tooltip, a diagnostic, a run) may take on a loaded machine. */
const SLOW = 600_000;
const STEP = 120_000;

describe.skipIf(missing !== undefined)(missing ? `playground in Chromium (skipped: ${missing})` : "playground in Chromium", () => {
  let tmp = "";
  let url = "";
  let stopServer: () => Promise<void> = async () => undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  const outside: string[] = [];
  const pageErrors: string[] = [];

  async function open(fragment: string): Promise<Page> {
    const page = await browser!.context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(url + fragment);
    await page.waitForSelector("body[data-ready=true]", { timeout: STEP });
    return page;
  }

  /**
   * Hovers `target` until a tooltip with `text` shows, and returns the tooltip. CodeMirror drops
   * a hover when the document view redraws under the pointer (diagnostics arriving), so a
   * person would move the pointer again: so do we, a few times.
   */
  async function hoverFor(page: Page, target: Locator, text: string): Promise<Locator> {
    const tip = page.locator(".cm-tooltip", { hasText: text });
    for (let attempt = 1; ; attempt++) {
      await page.mouse.move(0, 0);
      await target.hover();
      try {
        await tip.waitFor({ timeout: 10_000 });
        return tip;
      } catch (e) {
        if (attempt === 6) throw e;
      }
    }
  }

  /** The text of the visible editor (CodeMirror renders the lines in view; the specs here fit). */
  const editorText = (page: Page) => page.locator(".cm-editor:not([hidden]) .cm-content").evaluate((el) => [...el.querySelectorAll(".cm-line")].map((l) => l.textContent).join("\n"));

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-playground-"));
    const out = path.join(tmp, "site");
    await buildPlayground(out);
    const served = await servePlayground(out);
    url = served.url;
    stopServer = () => served.server.close();
    browser = await launchChromium();
    browser.context.setDefaultTimeout(STEP);
    // Anything but this server is a request the page must not make (no CDN, no network).
    await browser.context.route("**/*", (route) => {
      const u = new URL(route.request().url());
      if (u.origin === new URL(url).origin) return route.continue();
      outside.push(u.href);
      return route.abort();
    });
  }, SLOW);

  afterAll(async () => {
    await browser?.close();
    await stopServer();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(
    "opens the spec a link names, highlighted by the TextMate grammar, with the examples and models in the menu",
    async () => {
      const page = await open(LINK);
      expect(await editorText(page)).toBe(fs.readFileSync(path.join(REPO, "models/tiny/tiny_spikelm.spk"), "utf8"));
      expect(await page.locator("#entry").inputValue()).toBe("TinySpikeLM");
      expect(await page.locator("#seed").inputValue()).toBe("3");
      expect(await page.locator("#input-seed").inputValue()).toBe("5");
      await page.waitForSelector(".cm-content .spk-declaration");
      expect(await page.locator(".cm-content .spk-declaration").first().textContent()).toBe("TinySpikeLM");
      expect(await page.locator(".cm-content .spk-keyword").first().textContent()).toBe("model");
      expect(await page.locator(".cm-content .spk-comment").first().textContent()).toMatch(/^\/\/ The small causal SpikeLM/);
      const options = await page.locator("#examples option").allTextContents();
      expect(options).toEqual(expect.arrayContaining(["examples/tiny_spikelm.spk", "examples/neurons.spk"]));
      expect(await page.locator("#examples").inputValue()).toBe(`example:${TINY}`);
      // Choosing another example opens it, with its suggested entry.
      await page.selectOption("#examples", "example:file:///spikelm/examples/neurons.spk");
      await page.waitForFunction(() => (document.getElementById("entry") as HTMLSelectElement).value === "SpikeLMReference", undefined, { timeout: STEP });
      expect(await editorText(page)).toBe(fs.readFileSync(path.join(REPO, "examples/neurons.spk"), "utf8"));
      expect(decodeURIComponent(new URL(page.url()).hash)).toContain("file=file:///spikelm/examples/neurons.spk");
      await page.close();
    },
    SLOW,
  );

  it(
    "shows a diagnostic for a typo, and the link keeps the edit",
    async () => {
      const page = await open(LINK);
      await page.locator(".cm-line", { hasText: "let h = norm(" }).click();
      await page.keyboard.press("End");
      await page.keyboard.type("\nlet z = nrom(h)");
      const range = page.locator(".cm-lintRange-error", { hasText: "nrom" });
      await range.waitFor({ timeout: STEP });
      // Its message on hover (the completion popup closed first).
      await page.keyboard.press("Escape");
      const tip = await hoverFor(page, range, "nrom");
      expect(await tip.textContent()).toMatch(/unknown name `nrom`; did you mean `norm`\?/);
      // The edited text is in the link: opening it again shows the same document.
      const edited = await editorText(page);
      await page.waitForFunction(() => location.hash.includes("code="), undefined, { timeout: STEP });
      const link = new URL(page.url()).hash;
      await page.close();
      const again = await open(link);
      expect(await editorText(again)).toBe(edited);
      await again.close();
    },
    SLOW,
  );

  it(
    "hovers a name and shows its shape and spike type; goes to a definition in the stdlib, read-only",
    async () => {
      const page = await open(LINK);
      const tip = await hoverFor(page, page.locator(".cm-line", { hasText: "let h = norm(" }).locator(".spk-local", { hasText: /^h$/ }), "type:");
      expect(await tip.textContent()).toContain("f32[B, L, d]");
      // A spike type: BiLIF's `s` in the examples.
      const neurons = await open(`#file=${encodeURIComponent("file:///spikelm/examples/neurons.spk")}&entry=BiLIF`);
      const spike = await hoverFor(neurons, neurons.locator(".cm-line", { hasText: "let s = clamp(round(u / vth), -1, 1)" }).locator(".spk-local", { hasText: /^s$/ }), "type:");
      expect(await spike.textContent()).toContain("f32[...] spike{-1,0,1}");
      await neurons.close();
      await page.mouse.move(0, 0);
      await page.locator(".cm-line", { hasText: "SpikeBlock(" }).locator(".spk-call", { hasText: "SpikeBlock" }).click();
      await page.keyboard.press("F12");
      const tab = page.locator("#tabs button", { hasText: "std/layers.spk (read-only)" });
      await tab.waitFor({ timeout: STEP });
      expect(await tab.getAttribute("aria-selected")).toBe("true");
      expect(await editorText(page)).toContain("layer SpikeBlock(");
      // Read-only: typing changes nothing.
      const before = await editorText(page);
      await page.locator(".cm-editor:not([hidden]) .cm-line", { hasText: "layer SpikeBlock(" }).click();
      await page.keyboard.type("xyz");
      expect(await editorText(page)).toBe(before);
      expect(await page.locator(".cm-editor:not([hidden]) .cm-content").getAttribute("aria-readonly")).toBe("true");
      await page.close();
    },
    SLOW,
  );

  it(
    "completes a name and formats the document through the language server",
    async () => {
      const page = await open(LINK);
      await page.locator(".cm-line", { hasText: "let h = norm(" }).click();
      await page.keyboard.press("End");
      await page.keyboard.type("\nlet   e  =  h  +  layern");
      await page.keyboard.press("Control+Space");
      const option = page.locator(".cm-tooltip-autocomplete li", { hasText: /^layernorm/ });
      await option.waitFor({ timeout: STEP });
      await option.click();
      expect(await editorText(page)).toContain("let   e  =  h  +  layernorm");
      await page.keyboard.type("(h)");
      // Format: the document becomes what the project's printer makes of it (tools/prettier, in Node here).
      const messy = await editorText(page);
      const want = await formatSpk(messy, { filepath: "tiny_spikelm.spk" });
      expect(want).not.toBe(messy);
      await page.locator("#format").click();
      await page.waitForFunction((w) => [...document.querySelectorAll(".cm-editor:not([hidden]) .cm-line")].map((l) => l.textContent).join("\n") === w, want, { timeout: STEP });
      expect(await editorText(page)).toBe(want);
      await page.close();
    },
    SLOW,
  );

  it(
    "runs TinySpikeLM from a link: rasters and rates equal the CLI's --record for the command and inputs the page shows, bit for bit",
    async () => {
      // A link with run=1 (what "Copy link" makes) runs on opening.
      const page = await open(`${LINK}&run=1`);
      await page.locator("#rates-table").waitFor({ timeout: SLOW / 2 });
      const command = (await page.locator("#command").textContent()) ?? "";
      expect(command).toMatch(/^spikelm run models\/tiny\/tiny_spikelm\.spk --entry TinySpikeLM .*--seed 3 .*--input inputs\.json .*--record$/);
      const inputs = await page.evaluate(async () => (await fetch((document.getElementById("inputs-download") as HTMLAnchorElement).href)).text());
      fs.writeFileSync(path.join(tmp, "inputs.json"), inputs);

      // The CLI on the same command, from the repository, writing what it recorded.
      const rec = path.join(tmp, "record.json");
      const cli = spawnSync("bash", ["-c", `${command.replace(/^spikelm /, "node --import tsx tools/cli/main.ts ").replace(" --input inputs.json", ` --input '${path.join(tmp, "inputs.json")}'`)} --out '${rec}'`], { cwd: REPO, encoding: "utf8" });
      expect(cli.stderr).toBe("");
      expect(cli.status).toBe(0);
      // `--out x.json` nests: {output, record: {<neuron path>: {spikes: {shape, dtype, data}}}}.
      const written = JSON.parse(fs.readFileSync(rec, "utf8")) as { record: Record<string, { spikes: { shape: number[]; data: number[] } }> };
      const cliSpikes = new Map(Object.entries(written.record).map(([k, v]) => [k, v.spikes] as const));
      expect(cliSpikes.size).toBeGreaterThan(10);

      // Rasters: every cell's centre pixel read back as a level.
      const rasters = await page.evaluate(
        ([pos, neg]) =>
          [...document.querySelectorAll<HTMLCanvasElement>("#rasters canvas")].map((c) => {
            const cellW = Number(c.dataset.cellW);
            const cellH = Number(c.dataset.cellH);
            const shape = c.dataset.shape!.split(",").map(Number);
            const rows = Number(c.dataset.rows);
            const T = shape[0]!;
            const features = shape[shape.length - 1]!;
            const positions = shape.slice(1, -1).reduce((a, b) => a * b, 1);
            const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
            const levels: number[] = new Array(T * positions * features).fill(0);
            for (let t = 0; t < T; t++)
              for (let p = 0; p < positions; p++)
                for (let f = 0; f < rows; f++) {
                  const x = (p * T + t) * cellW + (cellW >> 1);
                  const y = f * cellH + (cellH >> 1);
                  const i = (y * c.width + x) * 4;
                  const rgb = [px[i], px[i + 1], px[i + 2]];
                  levels[t * positions * features + p * features + f] = rgb.every((v, k) => v === pos[k]) ? 1 : rgb.every((v, k) => v === neg[k]) ? -1 : 0;
                }
            return { path: c.dataset.path!, shape, rows, levels };
          }),
        [POS_COLOUR, NEG_COLOUR] as const,
      );
      expect(rasters.map((r) => r.path).sort()).toEqual([...cliSpikes.keys()].sort());
      for (const r of rasters) {
        const want = cliSpikes.get(r.path)!;
        expect(r.shape, r.path).toEqual(want.shape);
        expect(r.rows, r.path).toBe(want.shape[want.shape.length - 1]);
        expect(r.levels, r.path).toEqual(want.data.map((v) => Math.sign(v) + 0));
      }

      // Rates: the exact values against the CLI's levels, the printed ones against the CLI's table.
      const rows = await page.locator("#rates-table tr[data-path]").evaluateAll((trs) =>
        trs.map((tr) => ({ path: tr.getAttribute("data-path")!, rate: Number(tr.getAttribute("data-rate")), pos: Number(tr.getAttribute("data-rate-pos")), neg: Number(tr.getAttribute("data-rate-neg")), cells: [...tr.querySelectorAll("td")].map((td) => td.textContent) })),
      );
      expect(rows.map((r) => r.path)).toEqual([...cliSpikes.keys()]);
      for (const r of rows) {
        const d = cliSpikes.get(r.path)!.data;
        const { pos, neg } = countSigns(d);
        expect([r.rate, r.pos, r.neg], r.path).toEqual([(pos + neg) / d.length, pos / d.length, neg / d.length]);
        const printed = cli.stdout.split("\n").find((l) => l.startsWith(`${r.path} `))!.trim().split(/\s+/);
        expect([r.path, ...r.cells.slice(2)], r.path).toEqual(printed);
        expect(r.cells.slice(2)).toEqual([formatCell(r.rate), formatCell(r.pos), formatCell(r.neg)]);
      }
      expect(await page.locator("#proof").textContent()).toMatch(/spike-driven/i);

      // "Copy link": the link opens the same run, with the same spikes.
      await browser!.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(url).origin });
      await page.locator("#share").click();
      await page.locator("#run-status", { hasText: "link copied" }).waitFor({ timeout: STEP });
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      expect(copied).toContain("run=1");
      const again = await open(new URL(copied).hash);
      await again.locator("#rates-table").waitFor({ timeout: SLOW / 2 });
      const ratesOf = (p: Page) => p.locator("#rates-table tr[data-path]").evaluateAll((trs) => trs.map((tr) => [tr.getAttribute("data-path"), tr.getAttribute("data-rate"), tr.getAttribute("data-rate-pos")]));
      expect(await ratesOf(again)).toEqual(await ratesOf(page));
      expect(await again.locator("#command").textContent()).toBe(command);
      await again.close();
      await page.close();
    },
    SLOW,
  );

  it(
    "a run with a mistake says where it is, in file:line:col, and shows no results; the place is a link into the spec; fixed, Ctrl-Enter runs it",
    async () => {
      const page = await open(`#file=${encodeURIComponent("file:///spikelm/examples/tiny_spikelm.spk")}&entry=SpikeLinear&arg.inp=16&arg.out=8&input=random&inputSeed=1`);
      const line = page.locator(".cm-line", { hasText: "return fire(x) @ transpose(W) + b" });
      await line.click();
      await page.keyboard.press("End");
      await page.keyboard.press("Backspace");
      await page.keyboard.type("W");
      await page.locator("#run").click();
      const problem = page.locator("#run-problems button", { hasText: "examples/tiny_spikelm.spk:10:12: error SPK301" }).first();
      await problem.waitFor({ timeout: STEP });
      expect(await page.locator("#run-status").textContent()).toMatch(/^tiny_spikelm\.spk:10:12: shapes \[T, B, L, out\] and \[out, inp\] do not broadcast/);
      expect(await page.locator("#results").isHidden()).toBe(true);
      await page.locator(".cm-line", { hasText: "layer SpikeBlock(" }).click();
      await problem.click();
      expect(await page.locator(".cm-editor:not([hidden]) .cm-activeLine").textContent()).toBe("    return fire(x) @ transpose(W) + W");
      // Fixed where the link put the cursor, and run again from the keyboard: results, no problems.
      await page.keyboard.press("End");
      await page.keyboard.press("Backspace");
      await page.keyboard.type("b");
      await page.keyboard.press("Control+Enter");
      await page.locator("#rates-table").waitFor({ timeout: STEP });
      expect(await page.locator("#run-problems li").count()).toBe(0);
      expect(await page.locator("#summary").textContent()).toMatch(/^SpikeLinear: output f32\[4, 1, 8, 8\], T = 4/);
      await page.close();
    },
    SLOW,
  );

  it(
    "Stop cancels a long run; the next run works",
    async () => {
      // About ten seconds of work in the worker (4 × 128 tokens, d 256, T 8, then the report).
      const page = await open(`#file=${encodeURIComponent(TINY)}&entry=TinySpikeLM&arg.d=256&arg.ffn=1024&T=8&input=random&inputSeed=1&size.B=4&size.L=128`);
      await page.locator("#run").click();
      await page.locator("#run-status", { hasText: /running|counting/ }).waitFor({ timeout: STEP });
      await page.locator("#stop").click();
      await page.locator("#run-status", { hasText: "stopped" }).waitFor({ timeout: 10_000 });
      expect(await page.locator("#run").isEnabled()).toBe(true);
      expect(await page.locator("#stop").isHidden()).toBe(true);
      expect(await page.locator("#results").isHidden()).toBe(true);
      for (const id of ["input[data-arg=d]", "input[data-arg=ffn]", "#steps", "#input-sizes"]) await page.locator(id).fill("");
      await page.locator("#run").click();
      await page.locator("#rates-table").waitFor({ timeout: STEP });
      expect(await page.locator("#summary").textContent()).toMatch(/^TinySpikeLM: output f32\[1, 8, 256\], T = 4/);
      await page.close();
    },
    SLOW,
  );

  it("made no request outside localhost and threw no error", () => {
    expect(outside).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
