/**
 * Tokenizers: byte-level (no files), byte-level BPE (a merges file) and BERT WordPiece (vocab.txt).
 */

import { platform } from "#platform";
import { fnv1a32 } from "../../interpreter/engine/random.js";
import { UserError } from "../../interpreter/io/errors.js";
import { readFileText } from "../../interpreter/io/files.js";
import { BpeTokenizer, MERGES_HEADER, isMergesText, parseMerges } from "./bpe.js";
import { ByteStreamDecoder, ByteTokenizer } from "./byte-level.js";
import type { Tokenizer } from "./types.js";
import { WordPieceTokenizer, type WordPieceOptions } from "./wordpiece.js";

export type { Tokenizer } from "./types.js";
export { ByteStreamDecoder, ByteTokenizer } from "./byte-level.js";
export { WordPieceTokenizer } from "./wordpiece.js";
export { BpeTokenizer } from "./bpe.js";

/**
 * A `--vocab` file: a BPE merges file (its first line is `#version...`) or a WordPiece vocab.txt.
 */
export function tokenizerFromFile(file: string): BpeTokenizer | WordPieceTokenizer {
  const text = readFileText(file, "vocab file");
  if (isMergesText(text)) return new BpeTokenizer(parseMerges(text, file), `bpe(${platform.path.basename(file)})`);
  // Neither kind: an empty file would otherwise be read as a WordPiece vocabulary without [UNK].
  if (text.trim().length === 0)
    throw new UserError(`${file}:1:1: the vocab file is empty: expected a byte-level BPE merges file (first line \`${MERGES_HEADER}\`) or a WordPiece vocab.txt (one token per line)`, { file });
  return WordPieceTokenizer.fromFile(file);
}

/**
 * What a tokenizer maps text to, as a short string: its kind, vocabulary size and a hash of
 * its merges (BPE) or tokens (WordPiece). Two tokenizers with the same fingerprint give the
 * same ids; a checkpoint keeps it so a resumed run cannot continue on other ids silently.
 */
export function tokenizerFingerprint(tok: Tokenizer): string {
  if (tok instanceof ByteTokenizer) return "byte";
  if (tok instanceof BpeTokenizer) return `bpe ${tok.vocabSize} ${fnv1a32(new Uint8Array(new Uint16Array(tok.merges.flat()).buffer)).toString(16)}`;
  if (tok instanceof WordPieceTokenizer) {
    const tokens = Array.from({ length: tok.vocabSize }, (_, id) => tok.idToToken(id)).join("\n");
    return `wordpiece ${tok.vocabSize} ${fnv1a32(new TextEncoder().encode(tokens)).toString(16)}`;
  }
  return `${tok.name} ${tok.vocabSize}`;
}

/** Incremental id → text decoding for streaming generation (bytes and BPE; held back mid-character). */
export function streamDecoderFor(tok: Tokenizer): { push(ids: number | readonly number[]): string; flush(): string } {
  if (tok instanceof BpeTokenizer) return tok.streamDecoder();
  if (tok instanceof ByteTokenizer) return new ByteStreamDecoder();
  let pending: number[] = [];
  return { push: (ids) => (pending.push(...(typeof ids === "number" ? [ids] : ids)), ""), flush: () => { const t = tok.decode(pending); pending = []; return t; } };
}

export type TokenizerSpec =
  | { kind: "byte" }
  | { kind: "bpe"; merges: string }
  | ({ kind: "wordpiece"; vocab: string } & WordPieceOptions);

/**
 * Builds a tokenizer from a spec, or from a string: "byte", or a path to a WordPiece
 * `vocab.txt` (any path ending in .txt).
 */
export function loadTokenizer(spec: TokenizerSpec | string): Tokenizer {
  if (typeof spec === "string") {
    if (spec === "byte" || spec === "bytes") return new ByteTokenizer();
    if (spec.toLowerCase().endsWith(".txt")) return tokenizerFromFile(spec);
    throw new UserError(`unknown tokenizer ${JSON.stringify(spec)}: expected "byte", a BPE merges file or a WordPiece vocab.txt path`);
  }
  if (spec.kind === "byte") return new ByteTokenizer();
  if (spec.kind === "bpe") return BpeTokenizer.fromFile(spec.merges);
  const { kind: _kind, vocab, ...options } = spec;
  return WordPieceTokenizer.fromFile(vocab, options);
}
