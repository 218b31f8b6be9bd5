import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Tensor } from "../interpreter/engine/tensor.js";
import { f32, i32 } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import { stringifyJson } from "../interpreter/io/json-text.js";
import {
  parseTensor,
  parseTensorFile,
  readTensorJsonFile,
  readTensorMap,
  shortestFloat32,
  tensorToJson,
  writeJson,
  writeTensorMap,
} from "../interpreter/io/tensor-json.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-io-json-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const tmp = (ext = ".json") => path.join(dir, `t${fileNo++}${ext}`);

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Any float32 bit pattern except NaNs (whose payloads JSON cannot carry). */
const float32NoNaN = fc
  .integer({ min: 0, max: 0xffffffff })
  .map((b) => new Float32Array(new Uint32Array([b]).buffer)[0]!)
  .filter((x) => !Number.isNaN(x));
/** Mix of uniform bit patterns and fast-check's float arbitrary (biased to edge cases). */
const anyFloat32 = fc.oneof(float32NoNaN, fc.float({ noNaN: true }));

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 });
const tensorArb: fc.Arbitrary<Tensor> = shapeArb.chain((shape) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return fc.oneof(
    fc.array(anyFloat32, { minLength: n, maxLength: n }).map((d) => f32(shape, d) as Tensor),
    fc.array(fc.integer({ min: -2147483648, max: 2147483647 }), { minLength: n, maxLength: n }).map((d) => i32(shape, d) as Tensor),
  );
});
const tensorMapArb = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== "__metadata__"), tensorArb, {
  maxKeys: 5,
  noNullPrototype: true,
});

function expectSameTensor(a: Tensor, b: Tensor): void {
  expect(b.dtype).toBe(a.dtype);
  expect([...b.shape]).toEqual([...a.shape]);
  if (a.dtype === "f32") {
    expect(b.data).toBeInstanceOf(Float32Array);
    expect([...bitsOf(b.data as Float32Array)]).toEqual([...bitsOf(a.data as Float32Array)]);
  } else {
    expect(b.data).toBeInstanceOf(Int32Array);
    expect([...b.data]).toEqual([...a.data]);
  }
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

describe("JSON tensors: round trips", () => {
  it("write → read gives identical float32 bits and i32 values", () => {
    fc.assert(
      fc.property(tensorMapArb, fc.dictionary(fc.string(), fc.string(), { maxKeys: 3, noNullPrototype: true }), (obj, metadata) => {
        const map = new Map(Object.entries(obj));
        const file = tmp();
        writeTensorMap(file, map, metadata);
        const back = readTensorJsonFile(file);
        expect([...back.tensors.keys()]).toEqual([...map.keys()]);
        for (const [k, t] of map) expectSameTensor(t, back.tensors.get(k)!);
        expect(back.metadata).toEqual(metadata);
        fs.rmSync(file);
      }),
      { numRuns: 150 },
    );
  });

  it("edge values survive: -0, subnormals, extremes, infinities, NaN", () => {
    const edge = [
      -0, 0, 2 ** -149, -(2 ** -149), 2 ** -126, 2 ** -126 - 2 ** -149, 3.4028234663852886e38, -3.4028234663852886e38,
      0.1, 1 / 3, 16777217, 1e-7, 1e21, Infinity, -Infinity, NaN,
    ];
    const t = f32([edge.length], edge);
    const file = tmp();
    writeTensorMap(file, new Map([["x", t]]));
    const text = fs.readFileSync(file, "utf8");
    expect(text).toContain('"NaN"');
    expect(text).toContain('"-Infinity"');
    expect(text).toContain("-0,");
    const back = readTensorMap(file).get("x")!;
    const a = bitsOf(t.data);
    const b = bitsOf(back.data as Float32Array);
    for (let i = 0; i < edge.length; i++) {
      if (Number.isNaN(t.data[i])) expect(Number.isNaN(back.data[i])).toBe(true);
      else expect(b[i]).toBe(a[i]);
    }
  });

  it("shortestFloat32: known values", () => {
    expect(String(shortestFloat32(Math.fround(0.1)))).toBe("0.1");
    expect(String(shortestFloat32(Math.fround(1 / 3)))).toBe("0.33333334");
    expect(String(shortestFloat32(2 ** -149))).toBe("1e-45");
    expect(String(shortestFloat32(Math.fround(3.4028234663852886e38)))).toBe("3.4028235e+38");
    expect(String(shortestFloat32(2 ** -126))).toBe("1.1754944e-38");
    expect(String(shortestFloat32(16777216))).toBe("16777216");
    expect(String(shortestFloat32(Math.fround(1.5)))).toBe("1.5");
    expect(Object.is(shortestFloat32(-0), -0)).toBe(true);
  });

  /** Reference: for p = 1, 2, …, try the nearest p-digit decimal and its two neighbours. */
  function referenceShortest(v: number): number {
    if (v === 0) return v;
    for (let p = 1; p <= 9; p++) {
      const s = v.toExponential(p - 1);
      const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s)!;
      const digits = BigInt(`${m[2]}${m[3] ?? ""}`);
      const exp = Number(m[4]) - (p - 1);
      const ok = [digits, digits - 1n, digits + 1n]
        .filter((d) => d > 0n)
        .map((d) => Number(`${m[1]}${d}e${exp}`))
        .filter((y) => Math.fround(y) === v)
        .sort((a, b) => Math.abs(a - v) - Math.abs(b - v));
      if (ok.length > 0) return ok[0]!;
    }
    throw new Error("unreachable");
  }

  it("shortestFloat32 matches an exhaustive-candidate reference (random values and all powers of two)", () => {
    for (let e = -149; e <= 127; e++) {
      for (const v of [2 ** e, -(2 ** e)]) expect(shortestFloat32(v)).toBe(referenceShortest(v));
    }
    fc.assert(
      fc.property(float32NoNaN.filter(Number.isFinite), (v) => {
        expect(shortestFloat32(v)).toBe(referenceShortest(v));
      }),
      { numRuns: 3000 },
    );
  });

  it("shortestFloat32: round-trips, at most 9 digits, and no shorter rounded decimal round-trips", () => {
    fc.assert(
      fc.property(float32NoNaN.filter(Number.isFinite), (v) => {
        const x = shortestFloat32(v);
        expect(Object.is(Math.fround(x), v)).toBe(true);
        if (v === 0) return;
        const digits = x.toExponential().replace(/^-?(\d)(?:\.(\d+))?e.*$/, "$1$2").length;
        expect(digits).toBeLessThanOrEqual(9);
        for (let p = 1; p < digits; p++) expect(Math.fround(Number(v.toPrecision(p)))).not.toBe(v);
      }),
      { numRuns: 2000 },
    );
  });

  it("tensorToJson writes flat data with dtype", () => {
    expect(tensorToJson(i32([2, 2], [1, 2, 3, 4]))).toEqual({ shape: [2, 2], dtype: "i32", data: [1, 2, 3, 4] });
    expect(tensorToJson(f32([2], [NaN, -Infinity]))).toEqual({ shape: [2], dtype: "f32", data: ["NaN", "-Infinity"] });
  });
});

describe("JSON tensors: parsing", () => {
  it("accepts flat and nested data, default dtype f32, rounding to float32", () => {
    const flat = parseTensor({ shape: [2, 3], data: [1, 2, 3, 4, 5, 0.1] }, "x", "f.json");
    const nested = parseTensor({ shape: [2, 3], data: [[1, 2, 3], [4, 5, 0.1]] }, "x", "f.json");
    expect(flat.dtype).toBe("f32");
    expectSameTensor(flat, nested);
    expect(flat.data[5]).toBe(Math.fround(0.1));
    const t3 = parseTensor({ shape: [2, 1, 2], data: [[[1, 2]], [[3, 4]]], dtype: "i32" }, "y", "f.json");
    expect([...t3.data]).toEqual([1, 2, 3, 4]);
  });

  it("accepts scalars, empty tensors and the non-finite strings", () => {
    expect([...parseTensor({ shape: [], data: 2.5 }, "s", "f.json").data]).toEqual([2.5]);
    expect([...parseTensor({ shape: [], data: [2.5] }, "s", "f.json").data]).toEqual([2.5]);
    expect(parseTensor({ shape: [0, 3], data: [] }, "e", "f.json").data.length).toBe(0);
    expect(parseTensor({ shape: [2, 0], data: [[], []] }, "e", "f.json").data.length).toBe(0);
    const t = parseTensor({ shape: [3], data: ["NaN", "Infinity", "-Infinity"] }, "n", "f.json");
    expect(Number.isNaN(t.data[0])).toBe(true);
    expect(t.data[1]).toBe(Infinity);
    expect(t.data[2]).toBe(-Infinity);
  });

  it("reports a count mismatch naming file, tensor and shape", () => {
    const e = userError(() =>
      parseTensorFile({ "blocks.0.attn.q.W": { shape: [4, 4], data: new Array(12).fill(0) } }, "weights.json"),
    );
    expect(e.message).toBe('weights.json: tensor "blocks.0.attn.q.W": data has 12 values but shape [4, 4] needs 16');
    expect(e.file).toBe("weights.json");
  });

  const bad: [string, unknown, RegExp][] = [
    ["nested shape mismatch", { shape: [2, 3], data: [[1, 2], [3, 4]] }, /nested data has shape \[2, 2\] but "shape" is \[2, 3\]/],
    ["ragged", { shape: [2, 3], data: [[1, 2, 3], [4, 5]] }, /not rectangular: data\[1\] has 2 entries but shape \[2, 3\] needs 3/],
    ["too deep", { shape: [1, 2], data: [[1, [2]]] }, /data\[0\]\[1\] is an array/],
    ["too shallow", { shape: [2, 2], data: [[1, 2], 3] }, /data\[1\] is 3, but shape \[2, 2\] needs an array of 2/],
    ["mixed flat/nested", { shape: [3], data: [1, [2], 3] }, /data\[1\] is an array/],
    ["bad value", { shape: [2], data: [1, "x"] }, /data\[1\] is "x", expected a number/],
    ["null value", { shape: [2], data: [1, null] }, /data\[1\] is null/],
    ["nested bad value path", { shape: [2, 2], data: [[1, 2], [3, true]] }, /data\[1\]\[1\] is true/],
    ["f32 overflow", { shape: [1], data: [1e39] }, /too large for float32/],
    ["i32 fraction", { shape: [1], dtype: "i32", data: [1.5] }, /data\[0\] = 1.5 is not an integer/],
    ["i32 range", { shape: [1], dtype: "i32", data: [2147483648] }, /out of range for i32/],
    ["i32 NaN", { shape: [1], dtype: "i32", data: ["NaN"] }, /expected an integer/],
    ["bad dtype", { shape: [1], dtype: "float32", data: [1] }, /"dtype" must be "f32" or "i32", got "float32"/],
    ["missing shape", { data: [1] }, /missing "shape"/],
    ["missing data", { shape: [1] }, /missing "data"/],
    ["bad shape", { shape: [2, -1], data: [] }, /"shape"\[1\] must be a non-negative integer, got -1/],
    ["shape not array", { shape: 3, data: [1, 2, 3] }, /"shape" must be an array/],
    ["unknown field", { shape: [1], data: [1], dtpye: "i32" }, /unknown field "dtpye"/],
    ["not an object", [1, 2], /expected an object/],
    ["data not array", { shape: [2], data: 3 }, /"data" must be an array/],
    ["huge shape", { shape: [1e6, 1e6], data: [] }, /more than the limit/],
  ];
  for (const [what, json, re] of bad) {
    it(`rejects ${what} with a UserError`, () => {
      const e = userError(() => parseTensor(json, "t.w", "in.json"));
      expect(e.message).toMatch(/^in\.json: tensor "t\.w": /);
      expect(e.message).toMatch(re);
    });
  }

  it("rejects non-object files, bad metadata, invalid JSON and missing files", () => {
    expect(userError(() => parseTensorFile([1], "a.json")).message).toMatch(/a\.json: expected a JSON object/);
    expect(userError(() => parseTensorFile({ __metadata__: { a: 1 } }, "a.json")).message).toMatch(/"__metadata__" entry "a" must be a string/);
    const file = tmp();
    fs.writeFileSync(file, '{"x": {"shape": [1], "data": [1,]}}');
    expect(userError(() => readTensorMap(file)).message).toMatch(/invalid JSON/);
    const missing = path.join(dir, "nope.json");
    const e = userError(() => readTensorMap(missing));
    expect(e.message).toBe(`${missing}: tensor file not found`);
    expect(e.file).toBe(missing);
  });

  it("never throws anything but UserError on arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          parseTensorFile(v, "fuzz.json");
        } catch (e) {
          expect(e).toBeInstanceOf(UserError);
        }
        try {
          parseTensor(v, "x", "fuzz.json");
        } catch (e) {
          expect(e).toBeInstanceOf(UserError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("writeJson", () => {
  it("writes -0, non-finite numbers, Maps and typed arrays", () => {
    const text = stringifyJson(new Map<string, unknown>([["a", [-0, NaN, Infinity, 1.5]], ["10", new Int32Array([1, 2])], ["2", { x: null }]]));
    expect(text.indexOf('"10"')).toBeLessThan(text.indexOf('"2"')); // insertion order kept
    const back = JSON.parse(text) as Record<string, unknown>;
    expect(Object.is((back.a as number[])[0], -0)).toBe(true);
    expect(back.a).toEqual([-0, "NaN", "Infinity", 1.5]);
    expect(back["10"]).toEqual([1, 2]);
    expect(back["2"]).toEqual({ x: null });
    expect(JSON.parse(stringifyJson({ a: undefined, b: [undefined], c: "q\"\n" }))).toEqual({ b: [null], c: "q\"\n" });
  });

  it("replaces files atomically and leaves nothing behind on failure", () => {
    const sub = fs.mkdtempSync(path.join(dir, "atomic-"));
    const file = path.join(sub, "out.json");
    writeJson(file, { v: 1 });
    writeJson(file, { v: 2 });
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ v: 2 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => writeJson(file, cyclic)).toThrow();
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ v: 2 });
    expect(fs.readdirSync(sub)).toEqual(["out.json"]);
    const e = userError(() => writeJson(path.join(sub, "no-such-dir", "x.json"), {}));
    expect(e.message).toMatch(/x\.json: cannot write file: no such file or directory/);
    expect(fs.readdirSync(sub)).toEqual(["out.json"]);
  });
});
