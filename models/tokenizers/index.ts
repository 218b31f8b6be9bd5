/**
 * Tokenizers: byte-level (no files) and BERT WordPiece (vocab.txt).
 */

import { UserError } from "../../interpreter/io/errors.js";
import { ByteTokenizer } from "./byte-level.js";
import type { Tokenizer } from "./types.js";
import { WordPieceTokenizer, type WordPieceOptions } from "./wordpiece.js";

export type { Tokenizer } from "./types.js";
export { ByteStreamDecoder, ByteTokenizer } from "./byte-level.js";
export { WordPieceTokenizer } from "./wordpiece.js";

export type TokenizerSpec =
  | { kind: "byte" }
  | ({ kind: "wordpiece"; vocab: string } & WordPieceOptions);

/**
 * Builds a tokenizer from a spec, or from a string: "byte", or a path to a WordPiece
 * `vocab.txt` (any path ending in .txt).
 */
export function loadTokenizer(spec: TokenizerSpec | string): Tokenizer {
  if (typeof spec === "string") {
    if (spec === "byte" || spec === "bytes") return new ByteTokenizer();
    if (spec.toLowerCase().endsWith(".txt")) return WordPieceTokenizer.fromFile(spec);
    throw new UserError(`unknown tokenizer ${JSON.stringify(spec)}: expected "byte" or a WordPiece vocab.txt path`);
  }
  if (spec.kind === "byte") return new ByteTokenizer();
  const { kind: _kind, vocab, ...options } = spec;
  return WordPieceTokenizer.fromFile(vocab, options);
}
