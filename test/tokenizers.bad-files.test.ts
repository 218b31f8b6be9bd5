/**
 * Bad tokenizer files through `--vocab` (models/tokenizers): every damaged or mismatched
 * merges / vocab file is a clear error naming the file (and line:col where there is one),
 * exit 1, nothing on stdout; never a stack trace or a misleading WordPiece message for a
 * BPE file. Random mutations of a merges file either load (and then encode and decode any
 * text back to itself) or are a UserError `FILE:LINE:COL: ...` on the line the mutation hit.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { isUserError } from "../interpreter/io/errors.js";
import { BpeTokenizer, mergesFileText, printable, trainBpe } from "../models/tokenizers/bpe.js";
import { ByteTokenizer, tokenizerFingerprint, tokenizerFromFile } from "../models/tokenizers/index.js";
import { MAX_WORDPIECE_TOKENS } from "../models/tokenizers/wordpiece.js";
import { encodeCommand } from "../tools/cli/commands/encode.js";
import { evalCommand } from "../tools/cli/commands/eval.js";
import { fillMaskCommand } from "../tools/cli/commands/fill-mask.js";
import { inProcess } from "./cli-in-process.js";
import { REPO } from "./helpers.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-bad-tok-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const KJV = path.join(REPO, "models/spikelm/bpe-kjv.txt");
const VOCAB = path.join(REPO, "models/spikelm/vocab-small.txt");
const write = (name: string, data: string | Uint8Array) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, data);
  return f;
};
const DATA = write("data.txt", "In the beginning God created the heaven and the earth.\n".repeat(4));

/** `eval` of the BPE model with `--vocab file`, in this process. */
const evalWith = (vocab: string) => inProcess(() => evalCommand(undefined, { model: "decoder-small-bpe", task: "lm", data: DATA, vocab, seq: "16", batch: "1", maxBatches: "1" }));

describe("--vocab files a BPE model is given", () => {
  it("an empty file is named as empty, not as a WordPiece vocabulary without [UNK]", async () => {
    for (const text of ["", "\n\n", "  \r\n"]) {
      const r = await evalWith(write("empty.txt", text));
      expect(r.code).toBe(1);
      expect(r.out).toBe("");
      expect(r.err).toMatch(/empty\.txt:1:1: the vocab file is empty: expected a byte-level BPE merges file/);
      expect(r.err).not.toMatch(/UNK|\n\s+at /);
    }
  });

  it("a merges file with a byte order mark is the same merges file", async () => {
    const text = fs.readFileSync(KJV, "utf8");
    const f = write("bom.txt", `\uFEFF${text}`);
    expect((tokenizerFromFile(f) as BpeTokenizer).merges).toEqual((tokenizerFromFile(KJV) as BpeTokenizer).merges);
    const r = await evalWith(f);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
  });

  it("invalid UTF-8 in a merges line is named as such, at its line and column", () => {
    const f = write("badutf.txt", Buffer.concat([Buffer.from("#version: 0.2\nt h\nth "), Buffer.from([0xff, 0xfe]), Buffer.from("\n")]));
    expect(() => tokenizerFromFile(f)).toThrow(/badutf\.txt:3:4: invalid UTF-8 \(read as U\+FFFD\) is not a character of the byte alphabet/);
  });

  it("a huge merges file is refused at the first line past the most merges a vocabulary holds, and a huge line at once", () => {
    // Every pair of the 256 byte characters is a distinct two-byte token: 65,536 valid merges.
    const chars = Array.from({ length: 256 }, (_, b) => printable(Uint8Array.of(b)));
    const lines = ["#version: 0.2"];
    for (const x of chars) for (const y of chars) lines.push(`${x} ${y}`);
    expect(() => tokenizerFromFile(write("huge.txt", `${lines.join("\n")}\n`))).toThrow(/huge\.txt:65282:1: too many merges \(a vocabulary holds at most 65536 tokens\)/);
    expect(() => tokenizerFromFile(write("wide.txt", `#version: 0.2\n${"a ".repeat(1 << 20)}\n`))).toThrow(/wide\.txt:2:1: a merge is two tokens separated by one space/);
  });

  it("a vocab.txt of more lines than any vocabulary is refused before its tables are built", () => {
    const f = write("huge-vocab.txt", `[PAD]\n[UNK]\n${"w\n".repeat(MAX_WORDPIECE_TOKENS)}`);
    expect(() => tokenizerFromFile(f)).toThrow(/huge-vocab\.txt: more than 1,048,576 lines; a WordPiece vocab\.txt is one token per line/);
    // the limit itself loads
    expect(tokenizerFromFile(write("big-vocab.txt", `[UNK]\n${"w\n".repeat(MAX_WORDPIECE_TOKENS - 1)}`)).vocabSize).toBe(MAX_WORDPIECE_TOKENS);
  });

  it("a merges file with more or fewer merges than the model's vocabulary is refused before any forward, naming both sizes", async () => {
    const text = fs.readFileSync(KJV, "utf8");
    const more = await evalWith(write("more.txt", `${text}Ġthe Ġthe\n`));
    expect(more).toMatchObject({ code: 1, out: "" });
    expect(more.err).toMatch(/more\.txt makes 2049 tokens \(256 bytes \+ 1793 merges\), but `decoder-small-bpe` has a vocabulary of 2048/);
    const fewer = await evalWith(write("fewer.txt", text.split("\n").slice(0, 101).join("\n")));
    expect(fewer.err).toMatch(/fewer\.txt makes 356 tokens .* a vocabulary of 2048/);
  });

  it("a spec whose embedding table is smaller than the --vocab file's tokens is refused before any forward, naming both sizes", async () => {
    const spec = path.join(REPO, "models/spikelm/spikelm_decoder.spk");
    const r = await inProcess(() => evalCommand(spec, { entry: "SpikeLMDecoder", arg: ["vocab=300", "d=16", "heads=2", "depth=1", "ffn=32", "ctx=32"], task: "lm", data: DATA, vocab: KJV, seq: "16", batch: "1" }));
    expect({ code: r.code, out: r.out }).toEqual({ code: 1, out: "" });
    expect(r.err).toMatch(/bpe-kjv\.txt makes 2048 tokens, but `SpikeLMDecoder` in spikelm_decoder\.spk embeds only 300 \(embeddings\.word\.table is \[300, 16\]\): pass -a vocab=2048/);
    const enc = await inProcess(() => encodeCommand(["the LORD said unto Moses"], { model: path.join(REPO, "models/spikelm/spikelm_encoder.spk"), entry: "SpikeLMEncoder", arg: ["vocab=300", "d=16", "heads=2", "depth=1", "ffn=32"], vocab: KJV }));
    expect({ code: enc.code, out: enc.out }).toEqual({ code: 1, out: "" });
    expect(enc.err).toMatch(/makes 2048 tokens, but `SpikeLMEncoder` in spikelm_encoder\.spk embeds only 300/);
  });

  it("a WordPiece model given a merges file says so (not `no [UNK] token`)", async () => {
    const r = await inProcess(() => fillMaskCommand(["the [MASK] sat"], { model: "mlm-small", vocab: KJV }));
    expect(r).toMatchObject({ code: 1, out: "" });
    expect(r.err).toMatch(/bpe-kjv\.txt:1:1: this is a byte-level BPE merges file .* needs a WordPiece vocab\.txt/);
    const bpeModel = await evalWith(VOCAB);
    expect(bpeModel.err).toMatch(/vocab-small\.txt is a WordPiece vocabulary, but `decoder-small-bpe` uses byte-level BPE/);
  });
});

describe("tokenizerFingerprint (kept in checkpoints)", () => {
  it("is the same for the same merges or vocab, and differs for other merges of the same size", () => {
    const text = fs.readFileSync(KJV, "utf8").split("\n");
    // the last two merges swapped: the same vocabulary size, other ids for some texts
    const swapped = [...text.slice(0, -3), text.at(-2)!, text.at(-3)!, ""].join("\n");
    const a = tokenizerFingerprint(tokenizerFromFile(KJV));
    expect(tokenizerFingerprint(tokenizerFromFile(write("copy.txt", fs.readFileSync(KJV))))).toBe(a);
    expect(a).toMatch(/^bpe 2048 [0-9a-f]+$/);
    expect(tokenizerFingerprint(tokenizerFromFile(write("swapped.txt", swapped)))).not.toBe(a);
    const wp = tokenizerFingerprint(tokenizerFromFile(VOCAB));
    expect(wp).toMatch(/^wordpiece 625 [0-9a-f]+$/);
    const lines = fs.readFileSync(VOCAB, "utf8").split("\n");
    [lines[5], lines[6]] = [lines[6]!, lines[5]!];
    expect(tokenizerFingerprint(tokenizerFromFile(write("vocab-swapped.txt", lines.join("\n"))))).not.toBe(wp);
    expect(tokenizerFingerprint(new ByteTokenizer())).toBe("byte");
  });
});

describe("random mutations of a merges file", () => {
  // A small merges file of the module's own making (trainBpe), so every mutation is cheap to load.
  const merges = trainBpe(new TextEncoder().encode("the theory of the other then there these those 12 123 1234 héllo héllo"), 24);
  const lines = mergesFileText(merges).split("\n");
  lines.pop();
  const SAMPLE = "the other héllo 1234 \u0000\uFFFF x";

  type Mutation = { kind: "delete" | "duplicate" | "swap" | "tab" | "insert" | "cut" | "crlf"; line: number; other: number; text: string };
  const mutation = fc.record({
    kind: fc.constantFrom<Mutation["kind"]>("delete", "duplicate", "swap", "tab", "insert", "cut", "crlf"),
    line: fc.nat({ max: lines.length - 1 }),
    other: fc.nat({ max: lines.length - 1 }),
    text: fc.string({ maxLength: 6, unit: fc.constantFrom("a", "Ġ", " ", "\t", "\r", "h", "é", "\u0000", "th", "#") }),
  });
  const apply = (ls: string[], m: Mutation): string[] => {
    const r = [...ls];
    const l = m.line;
    if (m.kind === "delete") r.splice(l, 1);
    else if (m.kind === "duplicate") r.splice(l, 0, r[l]!);
    else if (m.kind === "swap") [r[l], r[m.other]] = [r[m.other]!, r[l]!];
    else if (m.kind === "tab") r[l] = r[l]!.replace(" ", "\t");
    else if (m.kind === "insert") r[l] = r[l]!.slice(0, m.other % (r[l]!.length + 1)) + m.text + r[l]!.slice(m.other % (r[l]!.length + 1));
    else if (m.kind === "cut") r[l] = r[l]!.slice(0, m.other % (r[l]!.length + 1));
    else r[l] = `${r[l]}\r`;
    return r;
  };

  it("load (and then round-trip any text) or are a UserError naming FILE:LINE:COL", () => {
    let refused = 0;
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
        const text = `${ms.reduce(apply, lines).join("\n")}\n`;
        const f = write("mutated.txt", text);
        let tok;
        try {
          tok = tokenizerFromFile(f);
        } catch (e) {
          refused++;
          expect(isUserError(e), String((e as Error).stack)).toBe(true);
          // The header line gone: the file is then read as a WordPiece vocabulary, which needs [UNK].
          expect((e as Error).message).toMatch(/^.*mutated\.txt(:\d+:\d+: |: the vocabulary has no "\[UNK\]")/);
          return;
        }
        if (tok instanceof BpeTokenizer) expect(tok.decode(tok.encode(SAMPLE))).toBe(SAMPLE);
      }),
      { numRuns: 300, seed: 5 },
    );
    // The property must have seen both outcomes to mean anything.
    expect(refused).toBeGreaterThan(30);
    expect(refused).toBeLessThan(300);
  });
});
