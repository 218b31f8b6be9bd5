/**
 * The native addon's build cache (platform/node.ts loadNativeAddon) survives damaged files: a
 * truncated or overwritten `.node` must not kill the process (a truncated shared object
 * can die inside dlopen with SIGBUS, or load with no exports); the loader notices and builds
 * it again. Each load runs in a child process that has never loaded the file, since a
 * process that has loaded a path once gets the loaded copy back from the dynamic loader
 * whatever is on disk now. A small addon of this test's own keeps the builds fast; every
 * cache lives in a fresh temp dir.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const NODE_PLATFORM = fileURLToPath(new URL("../interpreter/platform/node.ts", import.meta.url));

const PROBE_C = `#include <node_api.h>
NAPI_MODULE_INIT() {
  napi_value v;
  napi_create_int32(env, 42, &v);
  napi_set_named_property(env, exports, "answer", v);
  return exports;
}
`;

const root = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-native-cache-"));
const source = path.join(root, "probe.c");
fs.writeFileSync(source, PROBE_C);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

interface Load {
  status: number | null;
  signal: NodeJS.Signals | null;
  answer?: unknown;
  error?: string;
  stderr: string;
}

const loadSource = (dir: string) => `
  import { platform } from ${JSON.stringify(NODE_PLATFORM)};
  const r = platform.loadNativeAddon("probe", [${JSON.stringify(source)}], ${JSON.stringify(dir)});
  console.log(JSON.stringify("error" in r ? { error: r.error } : { answer: r.exports.answer }));
`;

function parseLoad(status: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string): Load {
  const last = stdout.trim().split("\n").pop() ?? "";
  let parsed: { answer?: unknown; error?: string } = {};
  try {
    parsed = JSON.parse(last) as typeof parsed;
  } catch {
    // no result line: status/signal say why
  }
  return { status, signal, stderr, ...parsed };
}

/** loadNativeAddon("probe", [probe.c], dir) in a fresh process. */
function load(dir: string, env: NodeJS.ProcessEnv = process.env): Load {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", loadSource(dir)], { cwd: REPO, encoding: "utf8", timeout: 60_000, env });
  return parseLoad(r.status, r.signal, r.stdout, r.stderr);
}

/** The same, without waiting: several processes at once. */
function loadAsync(dir: string): Promise<Load> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", loadSource(dir)], { cwd: REPO, timeout: 60_000 });
    let [stdout, stderr] = ["", ""];
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status, signal) => resolve(parseLoad(status, signal, stdout, stderr)));
  });
}

/** The built addons in dir. */
function addons(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith(".node")) : [];
}

function hash16(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}

let dirs = 0;
const freshDir = () => path.join(root, `cache-${dirs++}`);

// Whether this machine can build an addon at all (a C compiler and Node's headers): decided
// once, by the real loader, before the tests are collected.
const probe = load(freshDir());
const cannot = probe.answer === 42 ? "" : (probe.error ?? `the probe load failed (status ${probe.status}, signal ${probe.signal}): ${probe.stderr.slice(0, 300)}`);

/** A cache dir holding one freshly built probe addon; its path. */
function builtCache(): { dir: string; file: string } {
  const dir = freshDir();
  const r = load(dir);
  expect(r).toMatchObject({ status: 0, signal: null, answer: 42 });
  const [name] = addons(dir);
  expect(addons(dir)).toHaveLength(1);
  return { dir, file: path.join(dir, name!) };
}

/** The load after damaging the cache: the process lives, the addon loads, and the cache holds one intact file again. */
function expectRebuilt(dir: string): void {
  const r = load(dir);
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.answer).toBe(42);
  const names = addons(dir);
  expect(names).toHaveLength(1);
  // the name's last part is the hash of the bytes
  const bytes = fs.readFileSync(path.join(dir, names[0]!));
  expect(names[0]!.endsWith(`-${hash16(bytes)}.node`)).toBe(true);
}

describe.skipIf(cannot !== "")(`native addon cache${cannot ? ` (SKIPPED: ${cannot})` : ""}`, () => {
  it("builds into an empty cache dir a file named by the hash of its bytes, then loads it from there without building", () => {
    const { dir, file } = builtCache();
    const bytes = fs.readFileSync(file);
    expect(path.basename(file)).toMatch(/^probe-[0-9a-f]{16}-[0-9a-f]{16}\.node$/);
    expect(path.basename(file).endsWith(`-${hash16(bytes)}.node`)).toBe(true);
    const mtime = fs.statSync(file).mtimeMs;
    expect(load(dir)).toMatchObject({ status: 0, answer: 42 });
    expect(fs.statSync(file).mtimeMs).toBe(mtime);
    expect(addons(dir)).toEqual([path.basename(file)]);
  });

  for (const fraction of [0.1, 0.5, 0.9]) {
    it(`a cached addon truncated to ${fraction * 100}% of its bytes is built again, without killing the process`, () => {
      const { dir, file } = builtCache();
      const bytes = fs.readFileSync(file);
      fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * fraction)));
      expectRebuilt(dir);
    });
  }

  it("a cached addon overwritten with other bytes of the same length is built again", () => {
    const { dir, file } = builtCache();
    const bytes = fs.readFileSync(file);
    // keep the ELF header so the loader gets past its first check, scramble the rest
    const damaged = Buffer.concat([bytes.subarray(0, 64), randomBytes(bytes.length - 64)]);
    fs.writeFileSync(file, damaged);
    expectRebuilt(dir);
  });

  it("an intact file that is not a loadable addon (its bytes hash to its name) is replaced by a new build", () => {
    const { dir, file } = builtCache();
    const garbage = randomBytes(4096);
    const prefix = path.basename(file).slice(0, -"0123456789abcdef.node".length);
    fs.rmSync(file);
    fs.writeFileSync(path.join(dir, `${prefix}${hash16(garbage)}.node`), garbage);
    expectRebuilt(dir);
  });

  it("three processes building into the same empty cache at once all load the addon, and leave no temporary files", async () => {
    const dir = freshDir();
    const results = await Promise.all([loadAsync(dir), loadAsync(dir), loadAsync(dir)]);
    for (const r of results) expect(r).toMatchObject({ status: 0, signal: null, answer: 42 });
    const names = fs.readdirSync(dir);
    expect(names.filter((n) => !n.endsWith(".node"))).toEqual([]);
    for (const n of names) expect(n.endsWith(`-${hash16(fs.readFileSync(path.join(dir, n)))}.node`)).toBe(true);
  });

  it("without a C compiler: no addon, and the reason names the compiler", () => {
    const r = load(freshDir(), { ...process.env, CC: path.join(root, "no-such-cc") });
    expect(r.status).toBe(0);
    expect(r.answer).toBeUndefined();
    expect(r.error).toMatch(/^no C compiler \(.*no-such-cc\)/);
  });
});
