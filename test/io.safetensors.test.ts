import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Tensor } from "../interpreter/engine/tensor.js";
import { f32, i32 } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import {
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from "../interpreter/io/safetensors.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-io-st-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const FILE = "model.safetensors";

/** Builds a safetensors file from a header object (serialised as given) and raw data bytes. */
function build(header: unknown, data: Uint8Array | number[] = [], headerText?: string): Uint8Array {
  const text = headerText ?? JSON.stringify(header);
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function le(kind: "u16" | "f64" | "i64" | "u32", values: (number | bigint)[]): Uint8Array {
  const size = kind === "u16" ? 2 : kind === "u32" ? 4 : 8;
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    if (kind === "u16") v.setUint16(i * 2, Number(x), true);
    else if (kind === "u32") v.setUint32(i * 4, Number(x), true);
    else if (kind === "f64") v.setFloat64(i * 8, Number(x), true);
    else v.setBigInt64(i * 8, BigInt(x), true);
  });
  return out;
}

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error("expected a UserError, nothing was thrown");
}

function bitsOf(a: Float32Array): number[] {
  return [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
}

const anyFloat32 = fc.integer({ min: 0, max: 0xffffffff }).map((b) => new Float32Array(new Uint32Array([b]).buffer)[0]!);
const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 });
const tensorArb: fc.Arbitrary<Tensor> = shapeArb.chain((shape) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return fc.oneof(
    fc.array(fc.oneof(anyFloat32, fc.float()), { minLength: n, maxLength: n }).map((d) => f32(shape, d) as Tensor),
    fc.array(fc.integer({ min: -2147483648, max: 2147483647 }), { minLength: n, maxLength: n }).map((d) => i32(shape, d) as Tensor),
  );
});
const mapArb = fc
  .dictionary(fc.string({ maxLength: 10 }).filter((s) => s !== "__metadata__"), tensorArb, { maxKeys: 5, noNullPrototype: true })
  .map((o) => new Map(Object.entries(o)));
const metaArb = fc.dictionary(fc.string(), fc.string(), { maxKeys: 3, noNullPrototype: true });

function expectSameMap(a: ReadonlyMap<string, Tensor>, b: ReadonlyMap<string, Tensor>): void {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [k, t] of a) {
    const u = b.get(k)!;
    expect(u.dtype).toBe(t.dtype);
    expect([...u.shape]).toEqual([...t.shape]);
    if (t.dtype === "f32") expect(bitsOf(u.data as Float32Array)).toEqual(bitsOf(t.data as Float32Array));
    else expect([...u.data]).toEqual([...t.data]);
  }
}

describe("safetensors: writing and round trips", () => {
  it("serialize → parse is the identity (bits), with metadata, for I32 and I64 storage", () => {
    fc.assert(
      fc.property(mapArb, metaArb, fc.constantFrom("I32" as const, "I64" as const), (map, meta, intDtype) => {
        const bytes = serializeSafetensors(map, meta, { intDtype });
        const back = parseSafetensors(bytes, FILE);
        expectSameMap(map, back.tensors);
        expect(back.metadata).toEqual(meta);
      }),
      { numRuns: 300 },
    );
  });

  it("lays out a padded header and contiguous tensors in sorted-name order", () => {
    fc.assert(
      fc.property(mapArb, metaArb, (map, meta) => {
        const bytes = serializeSafetensors(map, meta);
        const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect(n % 8).toBe(0);
        const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
        expect(text.startsWith("{")).toBe(true);
        expect(text.trimEnd().length).toBeGreaterThan(0);
        const header = JSON.parse(text) as Record<string, { data_offsets: [number, number]; dtype: string }>;
        const names = [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        let offset = 0;
        for (const name of names) {
          const e = header[name]!;
          expect(e.data_offsets[0]).toBe(offset);
          offset = e.data_offsets[1];
          expect(e.dtype).toBe(map.get(name)!.dtype === "f32" ? "F32" : "I32");
        }
        expect(bytes.length).toBe(8 + n + offset);
      }),
      { numRuns: 100 },
    );
  });

  it("writes and reads files; a missing file is a UserError", () => {
    const file = path.join(dir, "w.safetensors");
    const map = new Map<string, Tensor>([["b", i32([2], [7, -7])], ["a", f32([1, 2], [0.5, -0])]]);
    writeSafetensors(file, map, { format: "pt" });
    const back = readSafetensors(file);
    expectSameMap(map, back.tensors);
    expect(back.metadata).toEqual({ format: "pt" });
    expect(fs.readdirSync(dir)).toEqual(["w.safetensors"]);
    const missing = path.join(dir, "missing.safetensors");
    expect(userError(() => readSafetensors(missing)).message).toBe(`${missing}: safetensors file not found`);
  });

  it("refuses a tensor named __metadata__", () => {
    userError(() => serializeSafetensors(new Map([["__metadata__", f32([1], [1])]])));
  });
});

describe("safetensors: dtype decoding (hand-checked)", () => {
  it("F16", () => {
    const halves = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x3555, 0x7c00, 0xfc00, 0x7e00];
    const expected = [1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, -0, 0.333251953125, Infinity, -Infinity, NaN];
    const t = parseSafetensors(build({ h: { dtype: "F16", shape: [halves.length], data_offsets: [0, 2 * halves.length] } }, le("u16", halves)), FILE)
      .tensors.get("h")!;
    expect(t.dtype).toBe("f32");
    expected.forEach((v, i) => expect(Object.is(t.data[i], v) || (Number.isNaN(v) && Number.isNaN(t.data[i]))).toBe(true));
    const inexact: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const v = halfToFloat(h);
      if (!Number.isNaN(v) && Math.fround(v) !== v) inexact.push(h); // every half is exact in float32
      if (Number.isNaN(v) !== ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0)) inexact.push(h);
    }
    expect(inexact).toEqual([]);
  });

  it("BF16", () => {
    const vals = [0x3f80, 0xc0a0, 0x4049, 0x7f80, 0xff80, 0x0001, 0x8000, 0x7fc0];
    const t = parseSafetensors(build({ b: { dtype: "BF16", shape: [2, 4], data_offsets: [0, 16] } }, le("u16", vals)), FILE).tensors.get("b")!;
    expect(t.shape).toEqual([2, 4]);
    expect(bitsOf(t.data as Float32Array)).toEqual(vals.map((v) => (v << 16) >>> 0));
    expect([...t.data].slice(0, 5)).toEqual([1, -5, 3.140625, Infinity, -Infinity]);
    expect(t.data[5]).toBe(2 ** -133);
  });

  it("F64 rounds to float32; too large is an error", () => {
    const t = parseSafetensors(build({ d: { dtype: "F64", shape: [3], data_offsets: [0, 24] } }, le("f64", [0.1, -1e-300, 1 / 3])), FILE)
      .tensors.get("d")!;
    expect([...t.data]).toEqual([Math.fround(0.1), -0, Math.fround(1 / 3)]);
    const e = userError(() => parseSafetensors(build({ d: { dtype: "F64", shape: [2], data_offsets: [0, 16] } }, le("f64", [1, 1e300])), FILE));
    expect(e.message).toBe(`${FILE}: tensor "d": value 1e+300 at index 1 is too large for float32`);
  });

  it("I64 → i32 with a range check naming the tensor", () => {
    const ok = [1n, -1n, 2147483647n, -2147483648n, 0n];
    const t = parseSafetensors(build({ ids: { dtype: "I64", shape: [5], data_offsets: [0, 40] } }, le("i64", ok)), FILE).tensors.get("ids")!;
    expect(t.dtype).toBe("i32");
    expect([...t.data]).toEqual([1, -1, 2147483647, -2147483648, 0]);
    for (const bad of [2147483648n, -2147483649n, 2n ** 40n, -(2n ** 62n)]) {
      const e = userError(() => parseSafetensors(build({ ids: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, le("i64", [0n, bad])), FILE));
      expect(e.message).toBe(`${FILE}: tensor "ids": I64 value ${bad} at index 1 does not fit in i32 [-2147483648, 2147483647]`);
    }
  });

  it("I8, U8, I16, U16, U32, BOOL → i32", () => {
    const header = {
      a: { dtype: "I8", shape: [2], data_offsets: [0, 2] },
      b: { dtype: "U8", shape: [2], data_offsets: [2, 4] },
      c: { dtype: "BOOL", shape: [2], data_offsets: [4, 6] },
      d: { dtype: "I16", shape: [2], data_offsets: [6, 10] },
      e: { dtype: "U16", shape: [1], data_offsets: [10, 12] },
      f: { dtype: "U32", shape: [1], data_offsets: [12, 16] },
    };
    const data = new Uint8Array([0xff, 0x7f, 0xff, 0x01, 1, 0, 0x00, 0x80, 0xff, 0x7f, 0xff, 0xff, 5, 0, 0, 0]);
    const { tensors } = parseSafetensors(build(header, data), FILE);
    expect([...tensors.get("a")!.data]).toEqual([-1, 127]);
    expect([...tensors.get("b")!.data]).toEqual([255, 1]);
    expect([...tensors.get("c")!.data]).toEqual([1, 0]);
    expect([...tensors.get("d")!.data]).toEqual([-32768, 32767]);
    expect([...tensors.get("e")!.data]).toEqual([65535]);
    expect([...tensors.get("f")!.data]).toEqual([5]);
    for (const t of tensors.values()) expect(t.dtype).toBe("i32");
    expect(userError(() => parseSafetensors(build({ c: { dtype: "BOOL", shape: [1], data_offsets: [0, 1] } }, [2]), FILE)).message)
      .toMatch(/tensor "c": BOOL value 2 at index 0 is not 0 or 1/);
    expect(userError(() => parseSafetensors(build({ u: { dtype: "U32", shape: [1], data_offsets: [0, 4] } }, le("u32", [2 ** 31])), FILE)).message)
      .toMatch(/tensor "u": U32 value 2147483648 at index 0 does not fit in i32/);
  });

  it("reads unaligned data (odd header length) and zero-size tensors", () => {
    const header = { e: { dtype: "F32", shape: [0], data_offsets: [0, 0] }, x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } };
    const data = new Uint8Array(4);
    new DataView(data.buffer).setFloat32(0, 1.25, true);
    const text = JSON.stringify(header);
    const pad = (8 + text.length + 1) % 4 === 0 ? "  " : " ";
    const bytes = build(header, data, text + pad);
    expect((8 + text.length + pad.length) % 4).not.toBe(0);
    expect([...parseSafetensors(bytes, FILE).tensors.get("x")!.data]).toEqual([1.25]);
    expect(parseSafetensors(bytes, FILE).tensors.get("e")!.shape).toEqual([0]);
  });
});

describe("safetensors: corrupt files give UserErrors", () => {
  const good = serializeSafetensors(
    new Map<string, Tensor>([["w", f32([2, 2], [1, 2, 3, 4])], ["ids", i32([3], [1, 2, 3])]]),
    { format: "pt" },
  );
  const w = { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] };
  const data16 = new Uint8Array(16);

  const cases: [string, Uint8Array, RegExp][] = [
    ["empty file", new Uint8Array(0), /too short to be safetensors \(0 bytes/],
    ["7 bytes", new Uint8Array(7), /too short/],
    ["header length beyond the file", (() => { const b = good.slice(); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; })(), /header length 1099511627776 exceeds the file size/],
    ["truncated header", good.slice(0, 20), /header length \d+ exceeds the file size \(20 bytes/],
    ["truncated data", good.slice(0, good.length - 3), /data_offsets \[\d+, \d+\] are out of range: the data section has only \d+ bytes/],
    ["bad JSON", build(null, [], '{"w": {"dtype": "F32",'), /header is not valid JSON/],
    ["header not an object", build([1, 2]), /header must be a JSON object, got \[1, 2\]/],
    ["invalid UTF-8", (() => { const b = build({ a: 1 }); b[9] = 0xff; return b; })(), /header is not valid UTF-8/],
    ["overlapping offsets", build({ a: { ...w, data_offsets: [0, 16] }, b: { ...w, data_offsets: [8, 24] } }, new Uint8Array(24)), /tensors "a" \(data_offsets \[0, 16\]\) and "b" \(data_offsets \[8, 24\]\) overlap/],
    ["shape/size mismatch", build({ w: { ...w, shape: [4, 4] } }, data16), /tensor "w": data_offsets \[0, 16\] cover 16 bytes \(4 F32 values\) but shape \[4, 4\] needs 16 values \(64 bytes\)/],
    ["out-of-range offsets", build({ w: { ...w, data_offsets: [16, 32] } }, data16), /tensor "w": data_offsets \[16, 32\] are out of range/],
    ["reversed offsets", build({ w: { ...w, data_offsets: [16, 0] } }, data16), /tensor "w": data_offsets \[16, 0\] are reversed/],
    ["offsets not numbers", build({ w: { ...w, data_offsets: ["0", 16] } }, data16), /tensor "w": "data_offsets" must be two non-negative integers/],
    ["offsets wrong length", build({ w: { ...w, data_offsets: [0] } }, data16), /tensor "w": "data_offsets" must be \[begin, end\]/],
    ["unknown dtype", build({ w: { ...w, dtype: "F8_E4M3" } }, data16), /tensor "w": unknown or unsupported dtype "F8_E4M3" \(supported: F64, F32/],
    ["missing dtype", build({ w: { shape: [1], data_offsets: [0, 4] } }, data16), /tensor "w": "dtype" must be a string/],
    ["bad shape", build({ w: { ...w, shape: [2, 1.5] } }, data16), /tensor "w": "shape"\[1\] must be a non-negative integer, got 1.5/],
    ["entry not an object", build({ w: 3 }, data16), /tensor "w": header entry must be an object/],
    ["bad metadata", build({ __metadata__: { a: 1 }, w }, data16), /"__metadata__" entry "a" must be a string/],
    // The reference implementation's validate(): offsets in order must tile the data exactly.
    ["a gap before the first tensor", build({ w: { ...w, data_offsets: [4, 20] } }, new Uint8Array(20)), /bytes \[0, 4\) of the data section belong to no tensor \(a gap before tensor "w"/],
    ["a gap between tensors", build({ a: { ...w, data_offsets: [0, 16] }, b: { ...w, data_offsets: [20, 36] } }, new Uint8Array(36)), /bytes \[16, 20\) of the data section belong to no tensor \(a gap before tensor "b"/],
    ["trailing bytes", build({ w }, new Uint8Array(19)), /the data section has 19 bytes but the tensors cover only 16: 3 trailing bytes/],
    ["the same name twice", build(null, data16, `{"w": ${JSON.stringify(w)}, "w": ${JSON.stringify(w)}}`), /header gives "w" twice; every name must appear once/],
    ["a field twice in one tensor", build(null, data16, `{"w": {"dtype": "F32", "dtype": "I32", "shape": [2, 2], "data_offsets": [0, 16]}}`), /header gives "dtype" twice in tensor "w"/],
    ["null dtype", build({ w: { ...w, dtype: null } }, data16), /tensor "w": "dtype" must be a string, got null/],
    ["a header nested 50,000 deep", build(null, [], `{"w": ${"[".repeat(50000)}${"]".repeat(50000)}}`), /header is nested more than 16 levels deep/],
    ["a shape with 100 axes", build({ w: { ...w, shape: new Array(100).fill(1) } }, data16), /tensor "w": "shape" has 100 axes, more than the limit of 32/],
    ["a shape of 1e18 elements", build({ w: { ...w, shape: [1e9, 1e9] } }, data16), /tensor "w": shape \[1000000000, 1000000000\] has 1,000,000,000,000,000,000 elements, more than the limit/],
  ];
  for (const [what, bytes, re] of cases) {
    it(`${what}`, () => {
      const e = userError(() => parseSafetensors(bytes, FILE));
      expect(e.message.startsWith(`${FILE}: `)).toBe(true);
      expect(e.file).toBe(FILE);
      expect(e.message).toMatch(re);
    });
  }

  it("every truncation of a valid file is a UserError", () => {
    for (let len = 0; len < good.length; len++) userError(() => parseSafetensors(good.slice(0, len), FILE));
  });

  it("random byte mutations either load or throw a UserError", () => {
    const headerLen = Number(new DataView(good.buffer).getBigUint64(0, true));
    const mutation = fc.record({
      edits: fc.array(
        fc.record({
          // Bias edits towards the length prefix and the header, where the structure is.
          pos: fc.oneof(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 8, max: 8 + headerLen - 1 }), fc.nat({ max: good.length - 1 })),
          byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...new TextEncoder().encode('{}[],:"0123456789 -.eE'))),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      cut: fc.option(fc.nat({ max: good.length }), { freq: 4 }),
      extra: fc.uint8Array({ maxLength: 8 }),
    });
    fc.assert(
      fc.property(mutation, ({ edits, cut, extra }) => {
        let b = good.slice();
        for (const { pos, byte } of edits) b[pos] = byte;
        if (cut !== null) b = b.slice(0, cut);
        const withExtra = new Uint8Array(b.length + extra.length);
        withExtra.set(b);
        withExtra.set(extra, b.length);
        for (const bytes of [b, withExtra]) {
          try {
            const r = parseSafetensors(bytes, FILE);
            for (const t of r.tensors.values()) expect(t.data.length).toBe(t.shape.reduce((x, y) => x * y, 1));
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("random headers either load or throw a UserError", () => {
    const entry = fc.record(
      {
        dtype: fc.oneof(fc.constantFrom("F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8", "f32"), fc.jsonValue()),
        shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 3 }), fc.jsonValue()),
        data_offsets: fc.oneof(fc.tuple(fc.integer({ min: -1, max: 40 }), fc.integer({ min: -1, max: 40 })), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    const header = fc.dictionary(fc.oneof(fc.string({ maxLength: 3 }), fc.constant("__metadata__")), fc.oneof(entry, fc.jsonValue()), {
      maxKeys: 4,
      noNullPrototype: true,
    });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 40 }), (h, data) => {
        try {
          parseSafetensors(build(h, data), FILE);
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("safetensors: odd names", () => {
  it("keeps __proto__ as a tensor name and a metadata key", () => {
    const meta: Record<string, string> = {};
    Object.defineProperty(meta, "__proto__", { value: "x", enumerable: true, writable: true, configurable: true });
    const map = new Map<string, Tensor>([["__proto__", f32([1], [1])], ["0", i32([1], [2])]]);
    const back = parseSafetensors(serializeSafetensors(map, meta), FILE);
    expect([...back.tensors.keys()].sort()).toEqual(["0", "__proto__"]);
    expect(Object.entries(back.metadata)).toEqual([["__proto__", "x"]]);
  });
});
