import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UserError } from "../interpreter/io/errors.js";
import { ByteStreamDecoder, ByteTokenizer } from "../models/tokenizers/byte-level.js";
import { loadTokenizer } from "../models/tokenizers/index.js";

const tok = new ByteTokenizer();
/** Strings of arbitrary UTF-16 code units, including lone surrogates. */
const utf16String = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
const toWellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();

/** Splits `arr` at the given cut points. */
function chunk<T>(arr: readonly T[], cuts: number[]): T[][] {
  const points = [...new Set(cuts.map((c) => c % (arr.length + 1)))].sort((a, b) => a - b);
  const out: T[][] = [];
  let prev = 0;
  for (const p of [...points, arr.length]) {
    out.push(arr.slice(prev, p));
    prev = p;
  }
  return out;
}

describe("byte-level tokenizer", () => {
  it("has 256 ids and a name", () => {
    expect(tok.vocabSize).toBe(256);
    expect(tok.name).toBe("byte");
    expect(loadTokenizer("byte")).toBeInstanceOf(ByteTokenizer);
  });

  it("encodes UTF-8 bytes", () => {
    expect(tok.encode("Aé€😀")).toEqual([0x41, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]);
    expect(tok.encode("")).toEqual([]);
    expect(tok.encode("\uFEFFx")).toEqual([0xef, 0xbb, 0xbf, 0x78]);
  });

  it("round-trips arbitrary well-formed strings (full unicode)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), fc.string()), (s) => {
        const ids = tok.encode(s);
        expect(ids.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)).toBe(true);
        expect(tok.decode(ids)).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });

  it("lone surrogates encode as U+FFFD", () => {
    fc.assert(
      fc.property(utf16String, (s) => {
        expect(tok.decode(tok.encode(s))).toBe(toWellFormed(s));
      }),
      { numRuns: 500 },
    );
  });

  it("decodes invalid and partial UTF-8 to replacement characters", () => {
    expect(tok.decode([0xff])).toBe("\uFFFD");
    expect(tok.decode([0x61, 0xe2, 0x82])).toBe("a\uFFFD");
    expect(tok.decode([0xe2, 0x82, 0x61])).toBe("\uFFFDa");
    expect(tok.decode([0xc0, 0x80])).toBe("\uFFFD\uFFFD"); // overlong
    expect(tok.decode([0xed, 0xa0, 0x80])).toBe("\uFFFD\uFFFD\uFFFD"); // encoded surrogate
    expect(tok.decode([0xef, 0xbb, 0xbf])).toBe("\uFEFF"); // a BOM is kept
  });

  it("never throws on arbitrary byte ids", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 })), (ids) => {
        const s = tok.decode(ids);
        expect(typeof s).toBe("string");
      }),
    );
  });

  it("out-of-range ids are a UserError", () => {
    expect(() => tok.decode([65, 256])).toThrow(UserError);
    expect(() => tok.decode([65, 256])).toThrow("byte tokenizer: token id 256 (at position 1) is out of range 0..255");
    expect(() => tok.decode([-1])).toThrow(UserError);
    expect(() => tok.decode([1.5])).toThrow(UserError);
  });
});

describe("byte-level streaming decoder", () => {
  it("emits text as soon as each UTF-8 sequence is complete", () => {
    const d = tok.streamDecoder();
    expect(d.push(0x41)).toBe("A");
    expect(d.push(0xe2)).toBe("");
    expect(d.push(0x82)).toBe("");
    expect(d.push(0xac)).toBe("€");
    expect(d.push([0xf0, 0x9f])).toBe("");
    expect(d.push([0x98, 0x80, 0x21])).toBe("😀!");
    expect(d.flush()).toBe("");
  });

  it("flush turns a dangling partial sequence into U+FFFD and resets", () => {
    const d = new ByteStreamDecoder();
    expect(d.push([0x61, 0xf0, 0x9f])).toBe("a");
    expect(d.flush()).toBe("\uFFFD");
    expect(d.push([0x62])).toBe("b");
  });

  it("equals one-shot decode for arbitrary bytes and arbitrary chunking", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 64 }),
          fc.string({ unit: "binary" }).map((s) => tok.encode(s)),
        ),
        fc.array(fc.nat(), { maxLength: 10 }),
        (ids, cuts) => {
          const d = new ByteStreamDecoder();
          let text = "";
          for (const part of chunk(ids, cuts)) text += d.push(part);
          text += d.flush();
          expect(text).toBe(tok.decode(ids));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("never emits U+FFFD mid-stream for valid UTF-8 fed byte by byte", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }).filter((s) => !s.includes("\uFFFD")), (s) => {
        const d = new ByteStreamDecoder();
        let text = "";
        for (const b of tok.encode(s)) {
          const piece = d.push(b);
          expect(piece).not.toContain("\uFFFD");
          text += piece;
        }
        expect(text).toBe(s); // all text out before flush
        expect(d.flush()).toBe("");
      }),
      { numRuns: 500 },
    );
  });
});
