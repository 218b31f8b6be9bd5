/**
 * The parse cache (interpreter/checker/parse-cache.ts): a syntax tree read back from the cache
 * is the tree `parse` gives for that text, key by key; a changed text, a tree kept by another
 * grammar version, a damaged file and a parse with diagnostics are parsed afresh. The oracle
 * is grammar/parse.ts itself.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "../grammar/parse.js";
import { fnv1a32 } from "../interpreter/engine/random.js";
import { cachedParse, parseCacheStats } from "../interpreter/checker/parse-cache.js";
import { Program } from "../interpreter/checker/program.js";
import { REPO } from "./helpers.js";

const CACHE = path.join(REPO, "node_modules", ".cache", "spikelm");
// Specs of the repository are cached (the folder is under it); those elsewhere are not.
const TMP = fs.mkdtempSync(path.join(REPO, "node_modules", ".cache", "spikelm-parse-cache-test-"));
const OUTSIDE = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-parse-cache-"));
const cacheFileOf = (uri: string) => path.join(CACHE, `ast-${fnv1a32(new TextEncoder().encode(uri)).toString(16)}.json`);
const made: string[] = [];
/** A uri of this test's own (its cache file is removed afterwards). */
function uri(name: string): string {
  const u = path.join(TMP, name);
  made.push(cacheFileOf(u));
  return u;
}
afterAll(() => {
  for (const f of made) fs.rmSync(f, { force: true });
  fs.rmSync(TMP, { recursive: true, force: true });
  fs.rmSync(OUTSIDE, { recursive: true, force: true });
});

const neuron = (name: string, input: string) => `neuron ${name}(tau = 0.5) {\n  state u = 0\n  step(x) {\n    u = tau * u + ${input}\n    emit heaviside(u - 1)\n  }\n}\n`;

/** A kept file's header line and tree JSON. */
const splitKept = (kept: string): [string, string] => [kept.slice(0, kept.indexOf("\n")), kept.slice(kept.indexOf("\n") + 1)];

/** Parses twice through the cache: the second is a hit, and both are parse's tree. */
function twice(text: string, u: string) {
  fs.mkdirSync(CACHE, { recursive: true });
  const before = { ...parseCacheStats };
  const a = cachedParse(text, u);
  const b = cachedParse(text, u);
  return { a, b, hits: parseCacheStats.hits - before.hits, parsed: parseCacheStats.parsed - before.parsed };
}

const SPECS = ["stdlib/prelude.spk", "stdlib/layers.spk", "stdlib/neurons.spk", "models/spikelm/spikelm_encoder.spk", "models/spikelm/spikelm_decoder.spk", ...fs.readdirSync(path.join(REPO, "examples")).filter((f) => f.endsWith(".spk")).map((f) => `examples/${f}`)];

describe("cachedParse", () => {
  it("gives parse's tree for the stdlib, the shipped models and the examples, parsed once then read back", () => {
    for (const spec of SPECS) {
      const text = fs.readFileSync(path.join(REPO, spec), "utf8");
      const u = uri(spec.replaceAll("/", "_"));
      const { a, b, hits, parsed } = twice(text, u);
      const oracle = parse(text, u);
      expect({ spec, parsed, hits }).toEqual({ spec, parsed: oracle.diagnostics.length === 0 ? 1 : 2, hits: oracle.diagnostics.length === 0 ? 1 : 0 });
      expect(a).toEqual(oracle);
      expect(b).toEqual(oracle);
    }
  });

  it("parses a changed text afresh (and keeps the new tree)", () => {
    const u = uri("changed.spk");
    const one = neuron("A", "x");
    const two = neuron("B", "2 * x");
    twice(one, u);
    const { a, b, hits } = twice(two, u);
    expect(a).toEqual(parse(two, u));
    expect(b).toEqual(parse(two, u));
    expect(hits).toBe(1);
  });

  it("never keeps a parse with diagnostics", () => {
    const u = uri("broken.spk");
    const text = "layer L( {\n";
    const { a, b, hits } = twice(text, u);
    expect(a.diagnostics.length).toBeGreaterThan(0);
    expect(b).toEqual(parse(text, u));
    expect(hits).toBe(0);
  });

  it("ignores a tree kept under another grammar version, and a damaged file", () => {
    const u = uri("stale.spk");
    const text = neuron("C", "x");
    twice(text, u);
    const [line, treeJson] = splitKept(fs.readFileSync(cacheFileOf(u), "utf8"));
    const kept = JSON.parse(line) as { version: string; sum: string };
    // the same text, but a tree another grammar made
    fs.writeFileSync(cacheFileOf(u), `${JSON.stringify({ ...kept, version: `${kept.version}-old` })}\n${treeJson}`);
    expect(cachedParse(text, u)).toEqual(parse(text, u));
    for (const damaged of ["", "{", `${line}\nnull`, `${line}\n`, `${line}\n${treeJson.slice(0, -1)}`, "\u0000\u0001", `${line}`]) {
      fs.writeFileSync(cacheFileOf(u), damaged);
      expect(cachedParse(text, u)).toEqual(parse(text, u));
    }
  });

  it("never takes a tree that is valid JSON but not the one kept (its checksum): no wrong program, no crash", () => {
    const u = uri("tampered.spk");
    const text = neuron("G", "x");
    twice(text, u);
    const [line, treeJson] = splitKept(fs.readFileSync(cacheFileOf(u), "utf8"));
    const otherTree = parse(neuron("H", "3 * x"), u).file;
    const other = JSON.stringify(otherTree);
    const trees = [other, treeJson.replace('"G"', '"Z"'), "{}", "[]", '{"decls":7}', treeJson.replace(/"start":(\d+)/, '"start":9$1')];
    // each tree after the kept header line, and (what a file held before it had a checksum) the header with another tree in one JSON object
    const tampered = [...trees.map((tree) => `${line}\n${tree}`), JSON.stringify({ ...(JSON.parse(line) as object), tree: otherTree })];
    for (const kept of tampered) {
      expect(kept).not.toBe(`${line}\n${treeJson}`);
      fs.writeFileSync(cacheFileOf(u), kept);
      const before = parseCacheStats.hits;
      expect(cachedParse(text, u)).toEqual(parse(text, u));
      expect(parseCacheStats.hits).toBe(before);
    }
    // A Program loading the spec from disk compiles the spec's own neuron, not the kept one.
    const file = path.join(TMP, "tampered-prog.spk");
    made.push(cacheFileOf(file));
    fs.writeFileSync(file, text);
    new Program().load(file);
    const [fileLine] = splitKept(fs.readFileSync(cacheFileOf(file), "utf8"));
    const fileOther = parse(neuron("H", "3 * x"), file).file;
    for (const kept of [`${fileLine}\n${JSON.stringify(fileOther)}`, JSON.stringify({ ...(JSON.parse(fileLine) as object), tree: fileOther })]) {
      fs.writeFileSync(cacheFileOf(file), kept);
      const p = new Program();
      p.load(file);
      expect(p.files.get(file)!.ast).toEqual(parse(text, file).file);
    }
  });

  it("two processes racing to write the same entry with different texts: every read is its own text's tree", async () => {
    const u = uri("raced.spk");
    const script = path.join(REPO, "test/fixtures/scripts/parse-cache-race.ts");
    const spawnOne = (texts: string[]) =>
      new Promise<string>((resolve) => {
        const c = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify(texts), u], { cwd: REPO });
        let out = "";
        c.stdout.on("data", (d: Buffer) => (out += String(d)));
        c.on("close", (code) => resolve(`${code}:${out}`));
      });
    const results = await Promise.all([spawnOne([neuron("R1", "x"), neuron("R2", "2 * x")]), spawnOne([neuron("R3", "3 * x"), neuron("R4", "4 * x")])]);
    expect(results).toEqual(["0:0", "0:0"]);
  }, 60_000);

  it("keeps nothing for a spec outside the repository (a temporary folder would grow the cache without bound)", () => {
    const u = path.join(OUTSIDE, "elsewhere.spk");
    made.push(cacheFileOf(u));
    const { a, b, hits, parsed } = twice(neuron("F", "x"), u);
    expect({ hits, parsed }).toEqual({ hits: 0, parsed: 2 });
    expect(fs.existsSync(cacheFileOf(u))).toBe(false);
    expect(b).toEqual(a);
  });

  it("is what a Program reading from disk uses (and an in-memory host does not)", () => {
    const file = path.join(TMP, "prog.spk");
    made.push(cacheFileOf(file));
    fs.writeFileSync(file, neuron("D", "x"));
    new Program().load(file);
    const before = parseCacheStats.hits;
    const p = new Program();
    p.load(file);
    expect(parseCacheStats.hits).toBeGreaterThan(before);
    expect(p.files.get(file)!.ast).toEqual(parse(fs.readFileSync(file, "utf8"), file).file);
    const hits = parseCacheStats.hits;
    const parsed = parseCacheStats.parsed;
    new Program({ read: (f) => (f === file ? neuron("E", "x") : fs.existsSync(f) ? fs.readFileSync(f, "utf8") : undefined) } as ConstructorParameters<typeof Program>[0]).load(file);
    expect(parseCacheStats.hits).toBe(hits);
    expect(parseCacheStats.parsed).toBe(parsed);
  });
});
