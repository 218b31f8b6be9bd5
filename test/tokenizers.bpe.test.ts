import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UserError } from "../interpreter/io/errors.js";
import { KJV_MERGES, KJV_TRAIN, kjvMergesText } from "../models/spikelm/make-bpe.js";
import { BpeTokenizer, type Merge, mergesFileText, parseMerges, preTokenize, trainBpe } from "../models/tokenizers/bpe.js";
import { streamDecoderFor, tokenizerFromFile } from "../models/tokenizers/index.js";

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");
const bytesOf = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

/**
 * The pre-tokenizer as a regular expression over one char per byte (GPT-2's pattern on the
 * byte classes): an oracle written independently of bpe.ts's hand-written scanner.
 */
const L = "A-Za-z\\x80-\\xff";
const W = " \\t\\n\\v\\f\\r";
const PRE = new RegExp(` ?[${L}]+| ?[0-9]+| ?[^${L}0-9${W}]+|[${W}]+(?![^${W}])|[${W}]+`, "g");
const oraclePreTokens = (b: Uint8Array): string[] => latin1(b).match(PRE) ?? [];

/** Naive BPE training: recount every pair of every pre-token occurrence for each merge. */
function naiveFirstMerge(b: Uint8Array): Merge | undefined {
  const counts = new Map<string, number>();
  for (const w of oraclePreTokens(b)) for (let i = 0; i + 1 < w.length; i++) counts.set(w.slice(i, i + 2), (counts.get(w.slice(i, i + 2)) ?? 0) + 1);
  let best: string | undefined;
  for (const [p, c] of counts) {
    const bc = best === undefined ? -1 : counts.get(best)!;
    if (c > bc || (c === bc && (p.charCodeAt(0) < best!.charCodeAt(0) || (p.charCodeAt(0) === best!.charCodeAt(0) && p.charCodeAt(1) < best!.charCodeAt(1))))) best = p;
  }
  return best === undefined ? undefined : [best.charCodeAt(0), best.charCodeAt(1)];
}

/** Naive encoding: every merge in order, over each pre-token (the textbook algorithm). */
function naiveEncode(merges: readonly Merge[], b: Uint8Array): number[] {
  const out: number[] = [];
  for (const w of oraclePreTokens(b)) {
    let s = Array.from(w, (c) => c.charCodeAt(0));
    merges.forEach(([l, r], k) => {
      const t: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === l && s[i + 1] === r) {
          t.push(256 + k);
          i++;
        } else t.push(s[i]!);
      }
      s = t;
    });
    out.push(...s);
  }
  return out;
}

/** Text with words, spaces, newlines, digits, punctuation and non-ASCII bytes. */
const wordy = fc
  .array(fc.constantFrom("the", " the", " LORD", " said", "And", " unto", "\n", "  ", ",", ".", " 12", "é", " \t", "\r\n", "x", "\u00ff"), { maxLength: 60 })
  .map((parts) => new Uint8Array(Buffer.from(parts.join(""), "utf8")));
const anyBytes = fc.uint8Array({ maxLength: 200 });
const corpus = fs.readFileSync(KJV_TRAIN);
const kjv = BpeTokenizer.fromFile(KJV_MERGES);
const small = new BpeTokenizer(trainBpe(new Uint8Array(corpus.subarray(0, 20000)), 300));

describe("byte-level BPE: pre-tokens", () => {
  it("cut the bytes as GPT-2's pattern does on the byte classes (oracle: a regular expression)", () => {
    fc.assert(
      fc.property(fc.oneof(anyBytes, wordy), (b) => {
        const got: string[] = [];
        preTokenize(b, (s, e) => got.push(latin1(b.subarray(s, e))));
        expect(got).toEqual(oraclePreTokens(b));
      }),
      { numRuns: 500 },
    );
  });

  it("a leading space belongs to the word; a newline before a word stands alone", () => {
    const cuts: string[] = [];
    const b = bytesOf("And the LORD said,  unto\nMoses 12");
    preTokenize(b, (s, e) => cuts.push(latin1(b.subarray(s, e))));
    expect(cuts).toEqual(["And", " the", " LORD", " said", ",", " ", " unto", "\n", "Moses", " 12"]);
  });
});

describe("byte-level BPE: encode and decode", () => {
  it("decode(encode(bytes)) is the bytes, for arbitrary byte strings", () => {
    fc.assert(
      fc.property(fc.oneof(anyBytes, wordy), (b) => {
        for (const tok of [kjv, small]) expect(Buffer.from(tok.decodeBytes(tok.encodeBytes(b))).equals(Buffer.from(b))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("decode(encode(text)) is the text, for arbitrary unicode strings", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }), fc.string()), (s) => {
        expect(kjv.decode(kjv.encode(s))).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it("is deterministic, every id is in the vocabulary, and equals the naive merge-by-merge encoding", () => {
    fc.assert(
      fc.property(fc.oneof(anyBytes, wordy), (b) => {
        const ids = small.encodeBytes(b);
        expect(new BpeTokenizer(small.merges).encodeBytes(b)).toEqual(ids);
        expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < small.vocabSize)).toBe(true);
        expect(ids).toEqual(naiveEncode(small.merges, b));
      }),
      { numRuns: 200 },
    );
  });

  it("a token never crosses a pre-token boundary", () => {
    fc.assert(
      fc.property(wordy, (b) => {
        const bounds = new Set<number>([0]);
        preTokenize(b, (_, e) => bounds.add(e));
        let at = 0;
        for (const id of kjv.encodeBytes(b)) {
          const n = kjv.bytesOf(id).length;
          for (let i = at + 1; i < at + n; i++) expect(bounds.has(i)).toBe(false);
          at += n;
        }
      }),
    );
  });

  it("the KJV vocabulary makes frequent words single tokens", () => {
    const ids = kjv.encode("And the LORD said unto Moses,");
    expect(ids.map((id) => kjv.decode([id]))).toEqual(["And", " the", " LORD", " said", " unto", " Moses", ","]);
    expect(kjv.vocabSize).toBe(2048);
  });

  it("streams: the pushes and the flush concatenate to decode, however a character is split", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        const ids = kjv.encode(s);
        const d = streamDecoderFor(kjv);
        expect(ids.map((id) => d.push(id)).join("") + d.flush()).toBe(kjv.decode(ids));
      }),
    );
    // "é" is two bytes: alone, the first byte is held back.
    const d = kjv.streamDecoder();
    expect(d.push(0xc3)).toBe("");
    expect(d.push(0xa9)).toBe("é");
  });

  it("an id outside the vocabulary is a UserError naming it", () => {
    expect(() => kjv.decode([5, 2048])).toThrow(UserError);
    expect(() => kjv.decode([5, 2048])).toThrow(/token id 2048 \(at position 1\) is out of range 0\.\.2047/);
    expect(() => kjv.decode([-1])).toThrow(UserError);
  });
});

describe("byte-level BPE: training", () => {
  it("is deterministic and its first merge is the most frequent pair (oracle: a naive counter)", () => {
    fc.assert(
      fc.property(fc.oneof(wordy, anyBytes), fc.integer({ min: 1, max: 12 }), (b, n) => {
        const m = trainBpe(b, n);
        expect(trainBpe(b.slice(), n)).toEqual(m);
        expect(m[0]).toEqual(naiveFirstMerge(b));
      }),
      { numRuns: 200 },
    );
  });

  it("on the corpus: the first merge is the naive counter's", () => {
    const b = new Uint8Array(corpus.subarray(0, 50000));
    expect(trainBpe(b, 1)[0]).toEqual(naiveFirstMerge(b));
  });

  it("stops when no pair is left, and no two tokens have the same bytes", () => {
    expect(trainBpe(bytesOf("ab ab"), 50)).toEqual([
      [97, 98],
      [32, 256],
    ]);
    const seen = new Set<string>();
    for (let id = 0; id < kjv.vocabSize; id++) {
      const s = latin1(kjv.bytesOf(id));
      expect(seen.has(s)).toBe(false);
      seen.add(s);
    }
  });

  it("the shipped merges file is what the script writes from kjv-train.txt", () => {
    expect(fs.readFileSync(KJV_MERGES, "utf8")).toBe(kjvMergesText());
  });
});

describe("byte-level BPE: the merges file", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bpe-"));
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  it("round-trips merges through the file", () => {
    fc.assert(
      fc.property(fc.oneof(wordy, anyBytes), fc.integer({ min: 0, max: 30 }), (b, n) => {
        const m = trainBpe(b, n);
        expect(parseMerges(mergesFileText(m), "m.txt")).toEqual(m);
      }),
      { numRuns: 100 },
    );
    const f = write("ok.txt", mergesFileText(small.merges));
    const tok = tokenizerFromFile(f);
    expect(tok).toBeInstanceOf(BpeTokenizer);
    expect(tok.vocabSize).toBe(small.vocabSize);
  });

  it("names file:line:col for a malformed, unknown-token or duplicate line, and a missing header", () => {
    const cases: [string, RegExp][] = [
      ["#version: 0.2\nt h\nth e x\n", /bad\.txt:3:1: a merge is two tokens separated by one space/],
      ["#version: 0.2\nt h\nĠ the\n", /bad\.txt:3:3: unknown token "the": not a byte and not made by an earlier line/],
      ["#version: 0.2\nt h\nĠ th\nt h\n", /bad\.txt:4:1: duplicate merge: "th" is already made by line 2/],
      ["#version: 0.2\nt \u2603\n", /bad\.txt:2:3: "\u2603" is not a character of the byte alphabet/],
      ["t h\n", /bad\.txt:1:1: a merges file starts with a `#version: 0\.2` line/],
    ];
    for (const [text, re] of cases) {
      expect(() => parseMerges(text, "bad.txt")).toThrow(UserError);
      expect(() => parseMerges(text, "bad.txt")).toThrow(re);
    }
    expect(() => BpeTokenizer.fromFile(path.join(dir, "missing.txt"))).toThrow(/missing\.txt: merges file not found/);
  });
});
