import * as path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UserError } from "../interpreter/io/errors.js";
import { loadTokenizer } from "../models/tokenizers/index.js";
import { WordPieceTokenizer, parseVocab } from "../models/tokenizers/wordpiece.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const VOCAB = path.join(here, "fixtures", "tokenizers", "vocab.txt");
const tok = WordPieceTokenizer.fromFile(VOCAB);
const cased = WordPieceTokenizer.fromFile(VOCAB, { lowercase: false });
const id = (t: string): number => tok.tokenToId(t)!;

describe("WordPiece: loading", () => {
  it("reads the vocab with id = line number and finds the special tokens", () => {
    expect(tok.vocabSize).toBe(46);
    expect(tok.name).toBe("wordpiece(vocab.txt)");
    expect(tok.specialIds).toEqual({ pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
    expect(tok.idToToken(5)).toBe("the");
    expect(loadTokenizer(VOCAB).encode("the cat")).toEqual([5, 6]);
    expect(loadTokenizer({ kind: "wordpiece", vocab: VOCAB, lowercase: false }).encode("The")).toEqual([1]);
  });

  it("parses vocab text: CRLF, BOM, trailing newline", () => {
    expect(parseVocab("\uFEFF[UNK]\r\na\r\n##b\n")).toEqual(["[UNK]", "a", "##b"]);
    expect(parseVocab("x\n\ny")).toEqual(["x", "", "y"]);
  });

  it("a missing vocab file is a UserError naming the path", () => {
    const missing = path.join(here, "fixtures", "tokenizers", "no-such-vocab.txt");
    expect(() => WordPieceTokenizer.fromFile(missing)).toThrow(UserError);
    expect(() => WordPieceTokenizer.fromFile(missing)).toThrow(`${missing}: vocab file not found`);
  });

  it("a vocab without [UNK] is a UserError", () => {
    expect(() => new WordPieceTokenizer(["a", "b"], {}, "v.txt")).toThrow(UserError);
    expect(() => new WordPieceTokenizer(["a", "b"], {}, "v.txt")).toThrow(/v\.txt: the vocabulary has no "\[UNK\]" token/);
    expect(() => new WordPieceTokenizer([], {}, "v.txt")).toThrow(/empty/);
  });

  it("addSpecial without [CLS]/[SEP] in the vocab is a UserError", () => {
    const t = new WordPieceTokenizer(["[UNK]", "a"]);
    expect(t.encode("a")).toEqual([1]);
    expect(() => t.encode("a", { addSpecial: true })).toThrow(UserError);
  });
});

describe("WordPiece: BasicTokenizer (Hugging Face's test cases)", () => {
  it("lowercases and splits punctuation", () => {
    expect(tok.basicTokenize(" \tHeLLo!how  \n Are yoU?  ")).toEqual(["hello", "!", "how", "are", "you", "?"]);
    expect(tok.basicTokenize("H\u00E9llo")).toEqual(["hello"]);
  });

  it("keeps case and accents when lowercase is false", () => {
    expect(cased.basicTokenize(" \tHäLLo!how  \n Are yoU?  ")).toEqual(["HäLLo", "!", "how", "Are", "yoU", "?"]);
    const keepAccentsLower = new WordPieceTokenizer(["[UNK]"], { lowercase: true, stripAccents: false });
    expect(keepAccentsLower.basicTokenize(" \tHäLLo!how  \n Are yoU?  ")).toEqual(["hällo", "!", "how", "are", "you", "?"]);
    const stripOnly = new WordPieceTokenizer(["[UNK]"], { lowercase: false, stripAccents: true });
    expect(stripOnly.basicTokenize(" \tHäLLo!how  \n Are yoU?  ")).toEqual(["HaLLo", "!", "how", "Are", "yoU", "?"]);
  });

  it("splits CJK ideographs into single characters (not kana or Hangul)", () => {
    expect(tok.basicTokenize("ah\u535A\u63A8zz")).toEqual(["ah", "\u535A", "\u63A8", "zz"]);
    expect(cased.basicTokenize("ひらがな한국어")).toEqual(["ひらがな한국어"]);
    // Like BERT, accent stripping (NFD, drop Mn) also drops the kana voicing mark and leaves Hangul as jamo.
    expect(tok.basicTokenize("ひらがな한국어")).toEqual([`ひらかな${"한국어".normalize("NFD")}`]);
    expect(tok.basicTokenize("𠀀x")).toEqual(["𠀀", "x"]); // extension B
  });

  it("splits Unicode punctuation and BERT's ASCII symbols, but not other symbols", () => {
    expect(tok.basicTokenize("«hi»—ok")).toEqual(["«", "hi", "»", "—", "ok"]);
    expect(tok.basicTokenize("a^b`c~d+e$f")).toEqual(["a", "^", "b", "`", "c", "~", "d", "+", "e", "$", "f"]);
    expect(tok.basicTokenize("5€ x²")).toEqual(["5€", "x²"]);
  });

  it("cleans control characters and normalises whitespace", () => {
    expect(tok.basicTokenize("hel\u0000lo\uFFFD wo\u200Brld\u0007")).toEqual(["hello", "world"]);
    expect(tok.basicTokenize("a\u00A0b\u3000c\u2028d\r\ne")).toEqual(["a", "b", "c", "d", "e"]);
    expect(cased.basicTokenize("cafe\u0301")).toEqual(["caf\u00E9"]); // NFC
    expect(tok.basicTokenize("")).toEqual([]);
    expect(tok.basicTokenize(" \t\n ")).toEqual([]);
  });
});

describe("WordPiece: encoding", () => {
  it("greedy longest-match-first with ## continuations", () => {
    expect(tok.tokenize("unaffable")).toEqual(["un", "##aff", "##able"]);
    expect(tok.tokenize("unwanted running")).toEqual(["un", "##want", "##ed", "runn", "##ing"]);
    expect(tok.tokenize("unwantedX running")).toEqual(["[UNK]", "runn", "##ing"]);
    expect(tok.tokenize("hello worlds")).toEqual(["hello", "world", "##s"]);
  });

  it("punctuation, numbers and accents", () => {
    expect(tok.tokenize("Hello, world!")).toEqual(["hello", ",", "world", "!"]);
    expect(tok.tokenize("$10 (cat)")).toEqual(["$", "1", "##0", "(", "cat", ")"]);
    expect(tok.tokenize("Café naïve RÉSUMÉ?")).toEqual(["cafe", "naive", "resume", "?"]);
    expect(cased.tokenize("é")).toEqual(["é"]);
    expect(cased.tokenize("Cafe")).toEqual(["[UNK]"]);
  });

  it("CJK characters", () => {
    expect(tok.tokenize("ah中国人zz")).toEqual(["ah", "中", "国", "人", "zz"]);
    expect(tok.tokenize("中文")).toEqual(["中", "[UNK]"]);
  });

  it("keeps special tokens written in the input", () => {
    expect(tok.tokenize("the [MASK] sat.")).toEqual(["the", "[MASK]", "sat", "."]);
    expect(tok.tokenize("the[MASK]sat")).toEqual(["the", "[MASK]", "sat"]);
    expect(tok.encode("[CLS] the cat [SEP] [PAD]")).toEqual([2, 5, 6, 3, 0]);
    expect(tok.tokenize("[UNK]x")).toEqual(["[UNK]", "[UNK]"]);
    expect(tok.tokenize("[mask]")).toEqual(["[UNK]", "[UNK]", "[UNK]"]); // case-sensitive, so [ mask ]
    expect(tok.tokenize("[unused0]")).toEqual(["[UNK]", "[UNK]", "[UNK]"]); // not special
    const t = WordPieceTokenizer.fromFile(VOCAB, { neverSplit: ["[unused0]"] });
    expect(t.encode("a [unused0]")).toEqual([34, 45]);
  });

  it("[UNK] for unknown words and words over 100 characters", () => {
    expect(tok.encode("the zebra")).toEqual([5, 1]);
    expect(tok.tokenize(`a${"b".repeat(99)}`)).toEqual(["a", ...new Array(99).fill("##b")]);
    expect(tok.tokenize(`a${"b".repeat(100)}`)).toEqual(["[UNK]"]);
    const short = WordPieceTokenizer.fromFile(VOCAB, { maxInputCharsPerWord: 3 });
    expect(short.tokenize("abc abcb")).toEqual(["a", "##b", "##c", "[UNK]"]);
  });

  it("addSpecial wraps in [CLS] … [SEP]; encodePair adds segment ids", () => {
    expect(tok.encode("The cat sat.", { addSpecial: true })).toEqual([2, 5, 6, 7, 25, 3]);
    expect(tok.encode("", { addSpecial: true })).toEqual([2, 3]);
    expect(tok.encodePair("the cat", "sat")).toEqual({ ids: [2, 5, 6, 3, 7, 3], typeIds: [0, 0, 0, 0, 1, 1] });
  });
});

describe("WordPiece: decoding", () => {
  it("joins pieces, removing ## and the space before it, skipping [PAD]", () => {
    expect(tok.decode(tok.encode("unaffable cat"))).toBe("unaffable cat");
    expect(tok.decode([2, 5, 4, 7, 8, 5, 9, 25, 3, 0, 0])).toBe("[CLS] the [MASK] sat on the mat . [SEP]");
    expect(tok.decode([0, 5, 0, 6])).toBe("the cat");
    expect(tok.decode([11, 12])).toBe("affable");
    expect(tok.decode([])).toBe("");
  });

  it("options: skipSpecial and cleanUpSpaces", () => {
    const ids = tok.encode("[CLS] hello, the cat's mat! [SEP]");
    expect(tok.decode(ids, { skipSpecial: true })).toBe("hello , the cat ' [UNK] mat !");
    expect(tok.decode(ids, { skipSpecial: true, cleanUpSpaces: true })).toBe("hello, the cat'[UNK] mat!");
    expect(tok.decode([5, 1], { skipSpecial: true })).toBe("the [UNK]");
  });

  it("out-of-range ids are a UserError", () => {
    expect(() => tok.decode([5, 46])).toThrow(UserError);
    expect(() => tok.decode([5, 46])).toThrow("wordpiece(vocab.txt) tokenizer: token id 46 is out of range 0..45");
    expect(() => tok.decode([-1])).toThrow(UserError);
  });
});

describe("WordPiece: properties", () => {
  const utf16String = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
  const specialsMixed = fc
    .array(fc.oneof(fc.string({ unit: "binary", maxLength: 8 }), fc.constantFrom("[MASK]", "[CLS]", "[SEP]", "[UNK]", "[PAD]", "##", "中", "un")))
    .map((parts) => parts.join(""));

  it("never throws on arbitrary strings; ids are in range; decode works on the result", () => {
    for (const t of [tok, cased]) {
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), utf16String, specialsMixed), (s) => {
          const ids = t.encode(s, { addSpecial: true });
          expect(ids.every((i) => Number.isInteger(i) && i >= 0 && i < t.vocabSize)).toBe(true);
          expect(typeof t.decode(ids)).toBe("string");
        }),
        { numRuns: 500 },
      );
    }
  });

  it("decode(encode(text)) gives back lowercase text made of vocabulary words", () => {
    const words = ["the", "cat", "unaffable", "unwanted", "running", "hello", "worlds", ".", "中", "[MASK]", "abbbc"];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words), { maxLength: 12 }), fc.array(fc.boolean(), { maxLength: 12 }), (ws, upper) => {
        const text = ws.map((w, i) => (upper[i] && !w.startsWith("[") ? w.toUpperCase() : w)).join(" ");
        expect(tok.decode(tok.encode(text))).toBe(ws.join(" "));
      }),
    );
  });
});
