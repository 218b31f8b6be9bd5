/**
 * The bundled CLI's V8 code cache (tools/cli/code-cache.mjs): made after a successful
 * command, then consumed (V8 accepts it: `cachedDataRejected` false); a cache for another
 * bundle, another Node, or one V8 rejects (made under other V8 flags) is replaced; a
 * truncated or damaged file is ignored and rewritten, never a failed command. The spawned
 * runs load a copy of the real bundle through loadBundle (what bin.mjs does after
 * ensureBundle), so another build of the shared bundle during the test cannot interfere; the
 * last case runs bin.mjs itself.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBundle } from "../tools/cli/bundle.mjs";
import { cacheFile, decodeCache, encodeCache } from "../tools/cli/code-cache.mjs";
import { REPO } from "./helpers.js";

// Next to the real bundle's folder (the same depth: the bundle finds the stdlib and models relative to itself).
const DIR = path.join(REPO, "node_modules", ".cache", `spikelm-code-cache-test-${process.pid}`);
const BUNDLE = path.join(DIR, "cli.cjs");
const RUNNER = path.join(DIR, "run.mjs");
const BUILD = /^\/\/ spikelm-bundle ([0-9a-f]{40})\n/;

function run(args: string[], nodeFlags: string[] = [], entry = RUNNER) {
  const r = spawnSync(process.execPath, [...nodeFlags, entry, ...args], { cwd: REPO, encoding: "utf8", env: { ...process.env, SPIKELM_CODE_CACHE_TRACE: "1", SPIKELM_NO_CODE_CACHE: "" } });
  const trace = r.stderr.split("\n").flatMap((l) => (l.startsWith("code cache: ") ? [l.slice("code cache: ".length)] : []));
  return { code: r.status, out: r.stdout, err: r.stderr, trace };
}

const classify = ["classify", "--model", "classifier-small", "a fine film"];
const file = () => cacheFile(BUNDLE, "classify");

beforeAll(async () => {
  const real = await ensureBundle();
  expect(real).toBeDefined();
  fs.mkdirSync(DIR, { recursive: true });
  fs.copyFileSync(real!, BUNDLE);
  const loader = pathToFileURL(path.join(REPO, "tools/cli/code-cache.mjs")).href;
  fs.writeFileSync(
    RUNNER,
    `import { loadBundle } from ${JSON.stringify(loader)};\n` +
      `const trace = (what) => process.stderr.write("code cache: " + what + "\\n");\n` +
      `process.on("exit", () => { if (process.env.SHOW_MAX_RSS) process.stderr.write("max rss kB " + process.resourceUsage().maxRSS + "\\n"); });\n` +
      `const { runCli } = loadBundle(${JSON.stringify(BUNDLE)}, process.argv[2], trace);\n` +
      `await runCli(process.argv);\n`,
  );
});

afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

describe("the CLI's code cache, spawned", () => {
  it("is written after the first successful command and accepted by V8 on the next, which prints the same", () => {
    fs.rmSync(file(), { force: true });
    const first = run(classify);
    expect(first.code).toBe(0);
    expect(first.trace).toEqual(["absent", "wrote"]);
    const build = BUILD.exec(fs.readFileSync(BUNDLE, "utf8"))![1]!;
    expect(decodeCache(fs.readFileSync(file()), build).status).toBe("usable");
    const second = run(classify);
    expect(second.trace).toEqual(["accepted"]);
    expect(second.code).toBe(0);
    expect(second.out).toBe(first.out);
    expect(second.out).toMatch(/a fine film\s+(negative|positive)\s/);
  });

  it("is one file per command: `models` makes its own and leaves classify's alone", () => {
    run(classify);
    const before = fs.readFileSync(file());
    fs.rmSync(cacheFile(BUNDLE, "models"), { force: true });
    expect(run(["models"]).trace).toEqual(["absent", "wrote"]);
    expect(run(["models"]).trace).toEqual(["accepted"]);
    expect(fs.readFileSync(file()).equals(before)).toBe(true);
  });

  it("ignores a truncated, damaged or foreign file, runs the command, and rewrites the cache", () => {
    // (`models`: the quickest command; the file is handled the same for every command)
    const models = ["models"];
    const file = () => cacheFile(BUNDLE, "models");
    const reference = run(models).out;
    const good = () => {
      run(models);
      return fs.readFileSync(file());
    };
    const damaged: [string, (b: Buffer) => Buffer, string][] = [
      ["truncated", (b) => b.subarray(0, Math.floor(b.length / 2)), "corrupt"],
      ["header only", (b) => b.subarray(0, b.indexOf(10, 30) + 1), "corrupt"],
      ["a byte of V8's data flipped", (b) => Buffer.from(b.map((v, i) => (i === b.length - 100 ? v ^ 0x40 : v))), "corrupt"],
      ["random bytes", (b) => Buffer.from(b.map((_, i) => (i * 7919) & 255)), "corrupt"],
      ["empty", () => Buffer.alloc(0), "corrupt"],
      ["for another bundle", (b) => encodeCache("0".repeat(40), (decodeCache(b, BUILD.exec(fs.readFileSync(BUNDLE, "utf8"))![1]!) as { data: Buffer }).data), "stale"],
    ];
    for (const [what, damage, status] of damaged) {
      fs.writeFileSync(file(), damage(good()));
      const r = run(models);
      expect({ what, code: r.code, trace: r.trace, same: r.out === reference }).toEqual({ what, code: 0, trace: [status, "wrote"], same: true });
      expect(run(models).trace).toEqual(["accepted"]);
    }
  });

  it("runs the command when the cache path is a directory (nothing written) or a huge file (not read into memory, then replaced)", () => {
    const models = ["models"];
    const reference = run(models).out;
    fs.rmSync(cacheFile(BUNDLE, "models"), { force: true });
    fs.mkdirSync(cacheFile(BUNDLE, "models"));
    const dir = run(models);
    expect({ code: dir.code, trace: dir.trace, same: dir.out === reference }).toEqual({ code: 0, trace: ["absent", "unwritable"], same: true });
    fs.rmSync(cacheFile(BUNDLE, "models"), { recursive: true });
    // sparse: 1 GiB of zeros that take no disk
    fs.writeFileSync(cacheFile(BUNDLE, "models"), "");
    fs.truncateSync(cacheFile(BUNDLE, "models"), 1 << 30);
    const r = spawnSync(process.execPath, [RUNNER, ...models], { cwd: REPO, encoding: "utf8", env: { ...process.env, SPIKELM_NO_CODE_CACHE: "", SHOW_MAX_RSS: "1" } });
    const rss = Number(/^max rss kB (\d+)$/m.exec(r.stderr)?.[1]);
    expect({ code: r.status, same: r.stdout === reference, trace: r.stderr.match(/^code cache: .*$/gm) }).toEqual({ code: 0, same: true, trace: ["code cache: corrupt", "code cache: wrote"] });
    expect(rss).toBeLessThan(512 * 1024);
    expect(run(models).trace).toEqual(["accepted"]);
  });

  it("a damaged bundle (truncated, or throwing at its top level) is built again and the command runs; none leaves a code cache", () => {
    const damagedBundle = path.join(DIR, "damaged.cjs");
    const runner = path.join(DIR, "run-damaged.mjs");
    const loader = pathToFileURL(path.join(REPO, "tools/cli/code-cache.mjs")).href;
    // getBundle gives the damaged file; rebuild puts the real bundle there (or, with NO_REBUILD, fails)
    fs.writeFileSync(
      runner,
      `import * as fs from "node:fs";\nimport { loadCli } from ${JSON.stringify(loader)};\n` +
        `const trace = (what) => process.stderr.write("code cache: " + what + "\\n");\n` +
        `const rebuild = () => { if (process.env.NO_REBUILD) return undefined; fs.copyFileSync(${JSON.stringify(BUNDLE)}, ${JSON.stringify(damagedBundle)}); return ${JSON.stringify(damagedBundle)}; };\n` +
        `const cli = await loadCli(() => ${JSON.stringify(damagedBundle)}, rebuild, process.argv[2], trace);\n` +
        `if (cli) await cli.runCli(process.argv); else process.stdout.write("fallback\\n");\n`,
    );
    const reference = run(["models"]).out;
    const good = fs.readFileSync(BUNDLE, "utf8");
    // truncated: usually does not compile (before the cache is looked at), but V8 compiles
    // lazily and a cut inside a function V8 does not parse yet compiles, then fails at its
    // first run; throwing: compiles, then its top level throws
    const damages: [string, string[][]][] = [
      [good.slice(0, good.length >> 1), [[], ["code cache: absent"]]],
      [`${good.split("\n")[0]}\nthrow new Error("damaged");\n${good.slice(good.indexOf("\n") + 1)}`, [["code cache: absent"]]],
    ];
    for (const [damaged, befores] of damages) {
      for (const rebuild of [true, false]) {
        fs.writeFileSync(damagedBundle, damaged);
        fs.rmSync(cacheFile(damagedBundle, "models"), { force: true });
        const r = spawnSync(process.execPath, [runner, "models"], { cwd: REPO, encoding: "utf8", env: { ...process.env, SPIKELM_NO_CODE_CACHE: "", NO_REBUILD: rebuild ? "" : "1" } });
        const trace = r.stderr.match(/^code cache: .*$/gm);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        // what happened before the damage was seen: one of the expected openings
        const before = befores.find((b) => b.every((line, i) => trace?.[i] === line) && trace?.[b.length] === "code cache: damaged bundle") ?? befores[0]!;
        if (rebuild) expect({ code: r.status, same: r.stdout === reference, trace }).toEqual({ code: 0, same: true, trace: [...before, "code cache: damaged bundle", "code cache: absent", "code cache: wrote"] });
        else expect({ code: r.status, out: r.stdout, trace, cache: fs.existsSync(cacheFile(damagedBundle, "models")) }).toEqual({ code: 0, out: "fallback\n", trace: [...before, "code cache: damaged bundle"], cache: false });
      }
    }
  });

  it("replaces a cache V8 rejects (made under other V8 flags), then is accepted again", () => {
    run(classify);
    // A run under another flag: V8 rejects the cache made without it, and writes one with it ...
    expect(run(classify, ["--no-lazy-feedback-allocation"]).trace).toEqual(["rejected", "wrote"]);
    // ... which a plain run rejects in turn (its checksum is fine: this is V8's own check).
    const plain = run(classify);
    expect(plain.trace).toEqual(["rejected", "wrote"]);
    expect(plain.code).toBe(0);
    expect(run(classify).trace).toEqual(["accepted"]);
  });

  it("is accepted after a forward that compiled the WebAssembly kernels (their flag flip leaves V8's flags as they were)", () => {
    // classifier-small runs on the kernels like classifier-base; --timings says so
    fs.rmSync(file(), { force: true });
    const first = run([...classify, "--timings"]);
    const [, native, wasm] = /spike matmuls: (\d+) native, (\d+) wasm/.exec(first.err)!.map(Number);
    expect(native! + wasm!).toBeGreaterThan(0);
    expect(first.trace).toEqual(["absent", "wrote"]);
    expect(run(classify).trace).toEqual(["accepted"]);
  });

  it("runs a command that loads a package at run time (fmt: prettier) from the cache as well", () => {
    const spec = path.join(REPO, "stdlib/layers.spk");
    fs.rmSync(cacheFile(BUNDLE, "fmt"), { force: true });
    const first = run(["fmt", "--check", spec]);
    expect({ code: first.code, trace: first.trace }).toEqual({ code: 0, trace: ["absent", "wrote"] });
    const second = run(["fmt", "--check", spec]);
    const said = (err: string) => err.replace(/^code cache: .*\n/gm, "");
    expect({ code: second.code, trace: second.trace, err: said(second.err) }).toEqual({ code: 0, trace: ["accepted"], err: said(first.err) });
    expect(said(second.err)).toMatch(/already formatted/);
  });

  it("is not written by a failed command", () => {
    fs.rmSync(file(), { force: true });
    const r = run(["classify", "--model", "classifier-nope", "x"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/unknown model `classifier-nope`/);
    expect(r.trace).toEqual(["absent"]);
    expect(fs.existsSync(file())).toBe(false);
  });

  it("SPIKELM_NO_CODE_CACHE=1 compiles from source and writes nothing (the startup bench's control)", () => {
    fs.rmSync(cacheFile(BUNDLE, "models"), { force: true });
    const r = spawnSync(process.execPath, [RUNNER, "models"], { cwd: REPO, encoding: "utf8", env: { ...process.env, SPIKELM_NO_CODE_CACHE: "1" } });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^code cache: off$/m);
    expect(fs.existsSync(cacheFile(BUNDLE, "models"))).toBe(false);
  });

  it("through the installed entry point (bin.mjs): the second run is compiled from the cache", async () => {
    const bin = path.join(REPO, "tools/cli/bin.mjs");
    const attempt = async () => {
      const bundle = await ensureBundle();
      const build = BUILD.exec(fs.readFileSync(bundle!, "utf8"))![1];
      run(["models"], [], bin);
      const second = run(["models"], [], bin);
      // another build of the shared bundle in between (a source edited meanwhile) starts over
      return { second, rebuilt: BUILD.exec(fs.readFileSync(bundle!, "utf8"))![1] !== build };
    };
    let { second, rebuilt } = await attempt();
    if (rebuilt) ({ second } = await attempt());
    expect(second.code).toBe(0);
    expect(second.trace).toEqual(["accepted"]);
  });
});

describe("cache file contents (decodeCache)", () => {
  const build = "a".repeat(40);
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 255));
  it("round-trips, and names why a file is unusable", () => {
    const good = encodeCache(build, data);
    const got = decodeCache(good, build);
    expect(got.status).toBe("usable");
    expect("data" in got && got.data.equals(data)).toBe(true);
    expect(decodeCache(undefined, build).status).toBe("absent");
    expect(decodeCache(good, "b".repeat(40)).status).toBe("stale");
    expect(decodeCache(good.subarray(0, good.length - 1), build).status).toBe("corrupt");
    expect(decodeCache(Buffer.concat([good, Buffer.from([0])]), build).status).toBe("corrupt");
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1]! ^= 1;
    expect(decodeCache(flipped, build).status).toBe("corrupt");
  });

  it("is stale for another Node version (V8's data would be rejected, or worse, misread)", () => {
    const text = encodeCache(build, data).toString("latin1").replace(`"node":"${process.version}"`, '"node":"v0.0.1"');
    expect(text).toContain('"node":"v0.0.1"');
    expect(decodeCache(Buffer.from(text, "latin1"), build).status).toBe("stale");
  });
});
