/**
 * Byte-level tokenizer: text ↔ UTF-8 bytes, each byte one id (0..255). Needs no files.
 *
 * Decoding never throws on bad byte sequences: invalid or truncated UTF-8 becomes
 * U+FFFD (WHATWG "maximal subpart" replacement, as TextDecoder does). Encoding a string
 * with lone surrogates encodes them as U+FFFD.
 */

import { UserError } from "../../interpreter/io/errors.js";
import type { Tokenizer } from "./types.js";

function toBytes(ids: readonly number[], name: string): Uint8Array {
  const bytes = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id > 255) {
      throw new UserError(`${name} tokenizer: token id ${id} (at position ${i}) is out of range 0..255`);
    }
    bytes[i] = id;
  }
  return bytes;
}

export class ByteTokenizer implements Tokenizer {
  readonly name = "byte";
  readonly vocabSize = 256;
  private readonly encoder = new TextEncoder();

  encode(text: string): number[] {
    return Array.from(this.encoder.encode(text));
  }

  decode(ids: readonly number[]): string {
    return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(toBytes(ids, this.name));
  }

  /** A decoder for streaming generation (see ByteStreamDecoder). */
  streamDecoder(): ByteStreamDecoder {
    return new ByteStreamDecoder();
  }
}

/**
 * Incremental byte-id → text decoding for streaming generation: `push` returns the text
 * of every UTF-8 sequence completed so far and holds back an incomplete tail; `flush`
 * ends the stream (a dangling partial sequence becomes U+FFFD). The concatenation of
 * all pushes and the flush equals ByteTokenizer.decode of all ids, however they were split.
 */
export class ByteStreamDecoder {
  private decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  push(ids: number | readonly number[]): string {
    const arr = typeof ids === "number" ? [ids] : ids;
    return this.decoder.decode(toBytes(arr, "byte"), { stream: true });
  }

  flush(): string {
    const rest = this.decoder.decode();
    this.decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
    return rest;
  }
}
