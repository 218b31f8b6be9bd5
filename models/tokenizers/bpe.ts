/**
 * Byte-level BPE (GPT-2's scheme, lossless and cased): ids 0..255 are the bytes, id 256+k is
 * the k-th merge. Text is first cut into pre-tokens, merges never cross a pre-token boundary,
 * and a single space in front of a word belongs to the word (" LORD", " unto").
 *
 * Pre-tokens are cut on bytes, so any byte string (valid UTF-8 or not) encodes and decodes back
 * to itself. Byte classes: letters (A-Z, a-z, and every byte >= 0x80, so a UTF-8 letter stays in
 * its word), digits, whitespace (space, \t, \n, \v, \f, \r) and other. The cut is GPT-2's
 * ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` on these classes (without its
 * contractions): a run of one class, optionally led by one space (0x20); a whitespace run is a
 * pre-token of its own, except that before a non-space its last byte is cut off (a space then
 * leads the next pre-token; another whitespace byte stands alone).
 *
 * Training (`trainBpe`): repeatedly merge the most frequent adjacent pair, counted over the
 * distinct pre-tokens weighted by how often each occurs; ties go to the pair with the smaller
 * (left id, right id). A pair whose bytes some token already has (reached by other merges) is
 * skipped, so every token's bytes are unique and the merges file names tokens unambiguously. Encoding applies the merges in rank order (lowest rank first), which
 * gives training's own segmentation of every pre-token.
 *
 * The merges file (`writeMergesFile` / `parseMerges`) is Hugging Face's `merges.txt` layout:
 * a first line `#version: ...`, then one merge per line, `LEFT RIGHT` separated by one space,
 * each side a token written in GPT-2's printable byte alphabet (`Ġ` is a space, `Ċ` a newline).
 * Line k after the header makes token 255 + k. Each side must be a byte or a token made by an
 * earlier line.
 */

import { platform } from "#platform";
import { UserError } from "../../interpreter/io/errors.js";
import { readFileText } from "../../interpreter/io/files.js";
import { ByteStreamDecoder } from "./byte-level.js";
import type { Tokenizer } from "./types.js";

/** The header line every merges file starts with. */
export const MERGES_HEADER = "#version: 0.2";
/** Largest vocabulary (keys of pairs are left * MAX_VOCAB + right). */
export const MAX_VOCAB = 1 << 16;

const enum Cls {
  Letter,
  Digit,
  Space,
  Other,
}

const CLASS = new Uint8Array(256).map((_, b) => {
  if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b >= 0x80) return Cls.Letter;
  if (b >= 0x30 && b <= 0x39) return Cls.Digit;
  if (b === 0x20 || (b >= 0x09 && b <= 0x0d)) return Cls.Space;
  return Cls.Other;
});

/** Calls `emit(start, end)` for each pre-token of `bytes`, in order; they tile the input. */
export function preTokenize(bytes: Uint8Array, emit: (start: number, end: number) => void): void {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const c = CLASS[bytes[i]!]!;
    if (c === Cls.Space) {
      let j = i + 1;
      while (j < n && CLASS[bytes[j]!] === Cls.Space) j++;
      if (j === n) {
        emit(i, j);
        break;
      }
      // Before a non-space, the run's last byte is cut off: a space leads the next pre-token,
      // anything else stands alone.
      if (j - 1 > i) emit(i, j - 1);
      if (bytes[j - 1] !== 0x20) {
        emit(j - 1, j);
        i = j;
        continue;
      }
      const k = CLASS[bytes[j]!]!;
      let e = j + 1;
      while (e < n && CLASS[bytes[e]!] === k) e++;
      emit(j - 1, e);
      i = e;
      continue;
    }
    let e = i + 1;
    while (e < n && CLASS[bytes[e]!] === c) e++;
    emit(i, e);
    i = e;
  }
}

/** A byte string as a Map key (one char per byte). */
function keyOf(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** One merge: the ids of its left and right tokens. */
export type Merge = readonly [left: number, right: number];

/**
 * Learns `merges` merges from `bytes` (fewer if no pair is left to merge). Deterministic:
 * the most frequent pair wins, ties to the smaller (left, right).
 */
export function trainBpe(bytes: Uint8Array, merges: number): Merge[] {
  if (!Number.isSafeInteger(merges) || merges < 0 || merges > MAX_VOCAB - 256) throw new UserError(`the number of merges must be a whole number from 0 to ${MAX_VOCAB - 256}, found ${merges}`);
  const counts = new Map<string, number>();
  preTokenize(bytes, (s, e) => {
    const k = keyOf(bytes, s, e);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  });
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [k, c] of counts) {
    words.push(Array.from(k, (ch) => ch.charCodeAt(0)));
    freq.push(c);
  }
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const add = (w: number, sign: number) => {
    const s = words[w]!;
    const f = freq[w]! * sign;
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i]! * MAX_VOCAB + s[i + 1]!;
      const c = (pairCount.get(key) ?? 0) + f;
      if (c === 0) pairCount.delete(key);
      else pairCount.set(key, c);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) add(w, 1);

  const out: Merge[] = [];
  // Every token's bytes (one char per byte): a pair that would make bytes some token already has is never merged.
  const tokens: string[] = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b));
  const known = new Set(tokens);
  const blocked = new Set<number>();
  while (out.length < merges) {
    let best = -1;
    let bestCount = 0;
    for (const [key, c] of pairCount) if ((c > bestCount || (c === bestCount && key < best)) && !blocked.has(key)) [best, bestCount] = [key, c];
    if (best < 0) break;
    const left = Math.floor(best / MAX_VOCAB);
    const right = best % MAX_VOCAB;
    const joined = tokens[left]! + tokens[right]!;
    if (known.has(joined)) {
      blocked.add(best);
      continue;
    }
    const id = 256 + out.length;
    out.push([left, right]);
    tokens.push(joined);
    known.add(joined);
    // Stale members (words that no longer hold the pair) merge nothing: subtract and add cancel.
    for (const w of pairWords.get(best)!) {
      add(w, -1);
      words[w] = mergeAll(words[w]!, left, right, id);
      add(w, 1);
    }
    pairWords.delete(best);
  }
  return out;
}

/** `s` with every non-overlapping (left, right), left to right, replaced by `id`. */
function mergeAll(s: number[], left: number, right: number, id: number): number[] {
  const r: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (i + 1 < s.length && s[i] === left && s[i + 1] === right) {
      r.push(id);
      i++;
    } else r.push(s[i]!);
  }
  return r;
}

/** Pre-tokens cached by the encoder before the cache is cleared (bounds memory on huge inputs). */
const CACHE_LIMIT = 1 << 17;

export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly name: string;
  /** Rank of each merge by pair key. */
  private readonly rank = new Map<number, number>();
  /** The bytes of every token. */
  private readonly tokenBytes: Uint8Array[];
  private readonly cache = new Map<string, readonly number[]>();
  private readonly encoder = new TextEncoder();

  constructor(readonly merges: readonly Merge[], name = "bpe") {
    this.vocabSize = 256 + merges.length;
    if (this.vocabSize > MAX_VOCAB) throw new UserError(`${name}: ${merges.length} merges, more than the ${MAX_VOCAB - 256} a vocabulary of ${MAX_VOCAB} holds`);
    this.name = name;
    this.tokenBytes = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
    merges.forEach(([l, r], k) => {
      const id = 256 + k;
      if (!(l >= 0 && l < id && r >= 0 && r < id)) throw new UserError(`${name}: merge ${k + 1} (${l}, ${r}) refers to a token that does not exist yet (ids below ${id})`);
      const a = this.tokenBytes[l]!;
      const b = this.tokenBytes[r]!;
      const t = new Uint8Array(a.length + b.length);
      t.set(a);
      t.set(b, a.length);
      this.tokenBytes.push(t);
      this.rank.set(l * MAX_VOCAB + r, k);
    });
  }

  /** Loads a merges file (see the module comment); any problem is a UserError naming file:line:col. */
  static fromFile(file: string): BpeTokenizer {
    return new BpeTokenizer(parseMerges(readFileText(file, "merges file"), file), `bpe(${platform.path.basename(file)})`);
  }

  encode(text: string): number[] {
    return this.encodeBytes(this.encoder.encode(text));
  }

  encodeBytes(bytes: Uint8Array): number[] {
    const out: number[] = [];
    preTokenize(bytes, (s, e) => {
      const key = keyOf(bytes, s, e);
      let ids = this.cache.get(key);
      if (!ids) {
        ids = this.encodeWord(bytes.subarray(s, e));
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(key, ids);
      }
      for (const id of ids) out.push(id);
    });
    return out;
  }

  /** One pre-token: merge the lowest-ranked adjacent pair (every occurrence) until none is left. */
  private encodeWord(word: Uint8Array): number[] {
    let s = Array.from(word);
    for (;;) {
      let bestRank = Infinity;
      for (let i = 0; i + 1 < s.length; i++) {
        const r = this.rank.get(s[i]! * MAX_VOCAB + s[i + 1]!);
        if (r !== undefined && r < bestRank) bestRank = r;
      }
      if (bestRank === Infinity) return s;
      const [l, r] = this.merges[bestRank]!;
      s = mergeAll(s, l, r, 256 + bestRank);
    }
  }

  /** The bytes of one token (a UserError for an id outside the vocabulary). */
  bytesOf(id: number, at = 0): Uint8Array {
    const t = Number.isInteger(id) ? this.tokenBytes[id] : undefined;
    if (!t) throw new UserError(`${this.name} tokenizer: token id ${id} (at position ${at}) is out of range 0..${this.vocabSize - 1}`);
    return t;
  }

  decodeBytes(ids: readonly number[]): Uint8Array {
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += this.bytesOf(ids[i]!, i).length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const id of ids) {
      const t = this.tokenBytes[id]!;
      out.set(t, o);
      o += t.length;
    }
    return out;
  }

  /** Token ids → text; invalid UTF-8 becomes U+FFFD, as the byte tokenizer does. */
  decode(ids: readonly number[]): string {
    return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  /** Incremental decoding for streaming generation: a token may end mid-character. */
  streamDecoder(): { push(ids: number | readonly number[]): string; flush(): string } {
    const bytes = new ByteStreamDecoder();
    return {
      push: (ids) => bytes.push(Array.from(this.decodeBytes(typeof ids === "number" ? [ids] : ids))),
      flush: () => bytes.flush(),
    };
  }
}

// ---------------------------------------------------------------------------- the merges file

/** GPT-2's printable alphabet: byte -> one character (printable Latin-1 as itself, the rest from U+0100 on). */
const BYTE_CHAR: readonly string[] = (() => {
  const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(keep(b) ? b : next++));
})();
const CHAR_BYTE = new Map(BYTE_CHAR.map((c, b) => [c, b]));

/** A token's bytes in the printable alphabet. */
export function printable(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += BYTE_CHAR[b];
  return s;
}

/** The merges file's text for `merges` (parseMerges reads it back). */
export function mergesFileText(merges: readonly Merge[], comment = ""): string {
  const tok = new BpeTokenizer(merges);
  const lines = [comment ? `${MERGES_HEADER} ${comment}` : MERGES_HEADER];
  for (const [l, r] of merges) lines.push(`${printable(tok.bytesOf(l))} ${printable(tok.bytesOf(r))}`);
  return `${lines.join("\n")}\n`;
}

/** A byte order mark some editors put at the start of a UTF-8 file (not part of the text). */
const BOM = "\uFEFF";

/** Whether `text` looks like a merges file (its first line is the `#version` header, after a byte order mark if any). */
export function isMergesText(text: string): boolean {
  return text.startsWith("#version") || text.startsWith(`${BOM}#version`);
}

/** A merges file's text → merges; any problem is a UserError `file:line:col: ...`. */
export function parseMerges(text: string, file: string): Merge[] {
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  if (!isMergesText(text)) throw new UserError(`${file}:1:1: a merges file starts with a \`${MERGES_HEADER}\` line, found ${JSON.stringify(body.slice(0, 40).split("\n")[0])}`, { file });
  const ids = new Map<string, number>(BYTE_CHAR.map((c, b) => [c, b]));
  const madeBy = new Map<string, number>();
  const merges: Merge[] = [];
  // Line by line without splitting the whole text: a huge file fails at its first bad line
  // (at the latest one past the most merges a vocabulary holds) without holding every line.
  let next = body.indexOf("\n") + 1;
  for (let n = 1; next > 0 && next < body.length; n++) {
    const end = body.indexOf("\n", next);
    const raw = body.slice(next, end < 0 ? body.length : end);
    next = end + 1;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const where = (col: number) => `${file}:${n + 1}:${col}`;
    const space = line.indexOf(" ");
    if (space <= 0 || space === line.length - 1 || line.indexOf(" ", space + 1) >= 0)
      throw new UserError(`${where(1)}: a merge is two tokens separated by one space, found ${JSON.stringify(line.slice(0, 60))}`, { file });
    const a = line.slice(0, space);
    const b = line.slice(space + 1);
    const side = (t: string, col: number): number => {
      for (let i = 0; i < t.length; i++)
        if (!CHAR_BYTE.has(t[i]!))
          throw new UserError(`${where(col + i)}: ${t[i] === "\uFFFD" ? "invalid UTF-8 (read as U+FFFD)" : JSON.stringify(t[i])} is not a character of the byte alphabet (GPT-2's bytes_to_unicode)`, { file });
      const id = ids.get(t);
      if (id === undefined) throw new UserError(`${where(col)}: unknown token ${JSON.stringify(t)}: not a byte and not made by an earlier line`, { file });
      return id;
    };
    const l = side(a, 1);
    const r = side(b, a.length + 2);
    const joined = a + b;
    if (ids.has(joined)) {
      const earlier = madeBy.get(joined);
      throw new UserError(`${where(1)}: duplicate merge: ${JSON.stringify(joined)} is already ${earlier !== undefined ? `made by line ${earlier}` : "a byte"}`, { file });
    }
    if (256 + merges.length >= MAX_VOCAB) throw new UserError(`${where(1)}: too many merges (a vocabulary holds at most ${MAX_VOCAB} tokens)`, { file });
    ids.set(joined, 256 + merges.length);
    madeBy.set(joined, n + 1);
    merges.push([l, r]);
  }
  return merges;
}
