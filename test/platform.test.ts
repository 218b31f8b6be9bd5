/**
 * The platform layer (interpreter/platform/): the browser implementation must behave as the
 * Node one does on POSIX paths, since the checker, the registry and the language server run
 * unchanged on either. Oracles: node:path's posix functions and node:url's file URL functions.
 */
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mountFiles, platform as browser } from "../interpreter/platform/browser.js";
import { platform as node } from "../interpreter/platform/node.js";
import { platform as resolved } from "#platform";
import { BUNDLED_ROOT } from "../tools/playground/protocol.js";
import { REPO } from "./helpers.js";

const segment = fc.oneof(
  fc.constantFrom(".", "..", "", "stdlib", "a b", "ü", "x%20y", "#h", "?q", "layers.spk"),
  fc.string({ unit: fc.constantFrom(..."ab.-_ %#?&@!$'()+,;=é中"), minLength: 1, maxLength: 6 }),
);
const relPath = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));
const absPath = relPath.map((p) => `/${p}`);

describe("platform layer", () => {
  it("#platform is the Node implementation under Node", () => {
    expect(resolved).toBe(node);
    expect(node.repoRoot).toBe(REPO);
    expect(browser.repoRoot).toBe(BUNDLED_ROOT);
  });

  it("browser paths are node:path's POSIX paths (absolute inputs)", () => {
    fc.assert(
      fc.property(absPath, relPath, (a, r) => {
        expect(browser.path.resolve(a, r)).toBe(path.posix.resolve(a, r));
        expect(browser.path.join(a, r)).toBe(path.posix.join(a, r));
        expect(browser.path.normalize(a)).toBe(path.posix.normalize(a));
        expect(browser.path.dirname(browser.path.resolve(a))).toBe(path.posix.dirname(path.posix.resolve(a)));
        expect(browser.path.basename(browser.path.resolve(a))).toBe(path.posix.basename(path.posix.resolve(a)));
        expect(browser.path.extname(browser.path.resolve(a))).toBe(path.posix.extname(path.posix.resolve(a)));
        expect(browser.path.relative(browser.path.resolve(a), browser.path.resolve(a, r))).toBe(path.posix.relative(path.posix.resolve(a), path.posix.resolve(a, r)));
        expect(browser.path.isAbsolute(r)).toBe(path.posix.isAbsolute(r));
      }),
    );
  });

  it("browser file URLs round-trip and read the same as node:url's", () => {
    fc.assert(
      fc.property(absPath, (a) => {
        const p = path.posix.resolve(a);
        const url = browser.pathToFileURL(p);
        expect(browser.fileURLToPath(url)).toBe(p);
        // The same file for Node, and Node's URL for it reads back the same in the browser.
        expect(fileURLToPath(url)).toBe(p);
        expect(browser.fileURLToPath(pathToFileURL(p).href)).toBe(p);
      }),
    );
    expect(() => browser.fileURLToPath("untitled:Untitled-1")).toThrow(/not a file URL/);
  });

  it("browser files: mounted bytes, folders listed as Node lists them, ENOENT when missing", () => {
    // Paths in the browser layer's own virtual tree (under its repoRoot).
    const at = (p: string) => browser.path.join(browser.repoRoot, "platform-test", p);
    mountFiles({ [at("dir/a.spk")]: "neuron A {}", [at("dir/sub/b.spk")]: new Uint8Array([104, 105]), [at("top.txt")]: "x" });
    expect(new TextDecoder().decode(browser.readBytes(at("dir/a.spk")))).toBe("neuron A {}");
    expect(browser.readBytes([at("dir"), "..", "dir", "sub", "b.spk"].join("/"))).toEqual(new Uint8Array([104, 105]));
    expect(browser.readDir(at("dir"))).toEqual([
      { name: "a.spk", directory: false, file: true },
      { name: "sub", directory: true, file: false },
    ]);
    expect(browser.exists(at("dir/sub"))).toBe(true);
    expect(browser.exists(at("di"))).toBe(false);
    expect(() => browser.readBytes(at("nope.spk"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
    expect(() => browser.readDir(at("nope"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
    expect(() => browser.writeAtomic(at("out.json"), "{}")).toThrow(expect.objectContaining({ code: "EROFS" }));
  });

  it("Node lists a folder the same way (names, folder and file flags)", () => {
    const listed = node.readDir(path.join(REPO, "stdlib")).filter((e) => e.name.endsWith(".spk"));
    expect(listed.map((e) => [e.name, e.directory, e.file]).sort()).toEqual([
      ["layers.spk", false, true],
      ["neurons.spk", false, true],
      ["prelude.spk", false, true],
    ]);
  });

  it("the browser has no kernel threads without cross-origin isolation; Node has them", async () => {
    expect(browser.startThread("postToParent(1)", {})).toBeUndefined();
    const t = node.startThread("postToParent(workerData.x)", { x: 1 });
    expect(t).toBeDefined();
    await t!.ready;
    await t!.terminate();
  });
});
