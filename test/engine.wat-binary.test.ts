import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { watToBinary } from "../interpreter/engine/kernels/wat-binary.js";
import { fnv1a32 } from "../interpreter/engine/random.js";
import { REPO } from "./helpers.js";

const CACHE = path.join(REPO, "node_modules", ".cache", "spikelm");
const wat = (k: number) => `(module (func (export "f") (result i32) i32.const ${k}))`;
const fileOf = (name: string, text: string) => path.join(CACHE, `${name}-${fnv1a32(new TextEncoder().encode(text)).toString(16)}.v2.watbin`);
// (the project's lib has no WebAssembly declarations; wasm-backend.ts types the same way)
const WA = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object; Instance: new (m: object) => { exports: Record<string, unknown> } } }).WebAssembly;
const run = (bin: Uint8Array) => (new WA.Instance(new WA.Module(bin)).exports.f as () => number)();

describe("watToBinary", () => {
  it("assembles once, then gives the same binary from the cache", async () => {
    fs.mkdirSync(CACHE, { recursive: true });
    const text = wat(Date.now() % 100000);
    const name = `test-${process.pid}`;
    const first = await watToBinary(name, text);
    expect(fs.existsSync(fileOf(name, text))).toBe(true);
    const again = await watToBinary(name, text);
    expect(Buffer.from(again).equals(Buffer.from(first))).toBe(true);
    expect(run(again)).toBe(Number(/i32.const (\d+)/.exec(text)![1]));
    fs.rmSync(fileOf(name, text), { force: true });
  });

  it("never uses a cached binary whose stored text differs (a hash collision, a stale file)", async () => {
    fs.mkdirSync(CACHE, { recursive: true });
    const name = `test-forged-${process.pid}`;
    const text = wat(7);
    const other = new TextEncoder().encode(wat(8));
    const bin8 = await watToBinary(`${name}-8`, wat(8));
    // Under this text's file name: another text and its binary.
    const forged = new Uint8Array(4 + other.length + bin8.length);
    new DataView(forged.buffer).setUint32(0, other.length, true);
    forged.set(other, 4);
    forged.set(bin8, 4 + other.length);
    fs.writeFileSync(fileOf(name, text), forged);
    expect(run(await watToBinary(name, text))).toBe(7);
    for (const f of [fileOf(name, text), fileOf(`${name}-8`, wat(8))]) fs.rmSync(f, { force: true });
  });

  it("never uses a truncated, extended or damaged binary (it would compile to other kernels, or not at all, and stay): assembles and replaces it", async () => {
    fs.mkdirSync(CACHE, { recursive: true });
    const name = `test-damaged-${process.pid}`;
    const text = wat(31);
    const good = await watToBinary(name, text);
    const kept = fs.readFileSync(fileOf(name, text));
    const damaged = [kept.subarray(0, kept.length - 1), Buffer.concat([kept, Buffer.from([0])]), Buffer.from(kept.map((v, i) => (i === kept.length - 2 ? v ^ 0x01 : v))), kept.subarray(0, kept.length - good.length)];
    try {
      for (const bytes of damaged) {
        fs.writeFileSync(fileOf(name, text), bytes);
        const bin = await watToBinary(name, text);
        expect(Buffer.from(bin).equals(Buffer.from(good))).toBe(true);
        expect(fs.readFileSync(fileOf(name, text)).equals(kept)).toBe(true);
      }
    } finally {
      fs.rmSync(fileOf(name, text), { force: true });
    }
  });
});
