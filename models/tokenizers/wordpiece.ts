/**
 * BERT WordPiece tokenizer from a `vocab.txt` (one token per line, id = line number).
 *
 * Follows Hugging Face's BertTokenizer (slow, Python) step by step:
 * 1. Special tokens ([CLS] [SEP] [PAD] [MASK] [UNK], plus `neverSplit`) written literally
 *    in the input are cut out first and map straight to their ids (case-sensitive).
 * 2. BasicTokenizer on the rest: drop NUL, U+FFFD and control characters, turn
 *    whitespace into spaces, put spaces around CJK ideographs, NFC-normalise, split on
 *    whitespace; per word lowercase and strip accents (NFD, drop combining marks) when
 *    enabled; split every punctuation character (Unicode P* plus the ASCII symbol ranges
 *    33–47, 58–64, 91–96, 123–126) into its own word.
 * 3. WordPiece: greedy longest-match-first with the "##" continuation prefix; a word that
 *    cannot be covered, or is longer than 100 characters, becomes [UNK].
 */

import { platform } from "#platform";
import { UserError } from "../../interpreter/io/errors.js";
import { readFileText } from "../../interpreter/io/files.js";
import { isMergesText } from "./bpe.js";
import type { SpecialIds, Tokenizer } from "./types.js";

export interface WordPieceOptions {
  /** Lowercase the input (default true). */
  lowercase?: boolean;
  /** Strip accents (default: same as `lowercase`). */
  stripAccents?: boolean;
  /** Put spaces around CJK ideographs so each is its own word (default true). */
  tokenizeChineseChars?: boolean;
  /** Words longer than this many code points become [UNK] (default 100). */
  maxInputCharsPerWord?: number;
  /** Prefix of word-continuation pieces (default "##"). */
  continuingSubwordPrefix?: string;
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  maskToken?: string;
  /** More tokens never to split when they appear literally in the input (those in the vocab). */
  neverSplit?: readonly string[];
  /** Name used in messages (default "wordpiece(<vocab file name>)"). */
  name?: string;
}

export interface EncodeOptions {
  /** Wrap in [CLS] … [SEP] (default false). */
  addSpecial?: boolean;
}

export interface DecodeOptions {
  /** Also drop [CLS], [SEP], [MASK] (and other never-split tokens); [PAD] is always dropped. */
  skipSpecial?: boolean;
  /** Remove the space BERT tokenization leaves before . , ! ? and English contractions (default false). */
  cleanUpSpaces?: boolean;
}

const CONTROL = /\p{C}/u;
const ZS = /\p{Zs}/u;
const PUNCT = /\p{P}/u;
const MARK_NONSPACING = /\p{Mn}/gu;
const WHITESPACE_RUN = /\s+/u;

function isWhitespace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || ZS.test(ch);
}

function isControl(ch: string): boolean {
  if (ch === "\t" || ch === "\n" || ch === "\r") return false;
  return CONTROL.test(ch);
}

function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  return PUNCT.test(ch);
}

/** CJK Unified Ideographs and extensions, as BERT defines them (not Hangul or kana). */
function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function whitespaceSplit(text: string): string[] {
  return text.split(WHITESPACE_RUN).filter((s) => s.length > 0);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The most tokens a vocab.txt may hold (the largest BERT-style vocabularies have ~250,000). */
export const MAX_WORDPIECE_TOKENS = 1 << 20;

/** Parses vocab.txt text: one token per line, id = line number (a final empty line is ignored). */
export function parseVocab(text: string): string[] {
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

export class WordPieceTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly specialIds: SpecialIds;
  readonly lowercase: boolean;
  readonly stripAccents: boolean;

  private readonly idToTok: readonly string[];
  private readonly tokToId = new Map<string, number>();
  private readonly unkId: number;
  private readonly prefix: string;
  private readonly maxChars: number;
  private readonly chinese: boolean;
  /** Never-split tokens present in the vocab, for splitting the input. */
  private readonly specialRe: RegExp | undefined;
  private readonly specialSet: ReadonlySet<string>;

  /** Loads `vocab.txt`; a missing file is a UserError naming it. */
  static fromFile(vocabPath: string, options: WordPieceOptions = {}): WordPieceTokenizer {
    const text = readFileText(vocabPath, "vocab file");
    // A merges file handed to a WordPiece model would otherwise fail as "no [UNK] token".
    if (isMergesText(text))
      throw new UserError(`${vocabPath}:1:1: this is a byte-level BPE merges file (its first line is \`#version...\`), but this model needs a WordPiece vocab.txt (one token per line)`, { file: vocabPath });
    // Counted before any table is built: a huge file must not take gigabytes to be refused.
    let lines = 0;
    for (let at = text.indexOf("\n"); at >= 0 && lines <= MAX_WORDPIECE_TOKENS; at = text.indexOf("\n", at + 1)) lines++;
    if (lines > MAX_WORDPIECE_TOKENS)
      throw new UserError(`${vocabPath}: more than ${MAX_WORDPIECE_TOKENS.toLocaleString("en")} lines; a WordPiece vocab.txt is one token per line (BERT's has 30,522)`, { file: vocabPath });
    return new WordPieceTokenizer(parseVocab(text), { name: `wordpiece(${platform.path.basename(vocabPath)})`, ...options }, vocabPath);
  }

  /**
   * @param vocab tokens, id = index
   * @param source the vocab's file name, for error messages
   */
  constructor(vocab: readonly string[], options: WordPieceOptions = {}, source = "vocab") {
    this.name = options.name ?? "wordpiece";
    this.idToTok = [...vocab];
    this.vocabSize = vocab.length;
    vocab.forEach((tok, id) => this.tokToId.set(tok, id)); // last occurrence wins, as in Hugging Face
    this.lowercase = options.lowercase ?? true;
    this.stripAccents = options.stripAccents ?? this.lowercase;
    this.chinese = options.tokenizeChineseChars ?? true;
    this.maxChars = options.maxInputCharsPerWord ?? 100;
    this.prefix = options.continuingSubwordPrefix ?? "##";

    const unkToken = options.unkToken ?? "[UNK]";
    const unk = this.tokToId.get(unkToken);
    if (unk === undefined) {
      throw new UserError(
        `${source}: the vocabulary has no ${JSON.stringify(unkToken)} token, which WordPiece needs for unknown words` +
          (vocab.length === 0 ? " (the vocabulary is empty)" : ""),
        { file: source },
      );
    }
    this.unkId = unk;
    const ids: SpecialIds = { unk };
    const specials: string[] = [unkToken];
    const add = (key: keyof SpecialIds, tok: string): void => {
      const id = this.tokToId.get(tok);
      if (id !== undefined) {
        ids[key] = id;
        specials.push(tok);
      }
    };
    add("cls", options.clsToken ?? "[CLS]");
    add("sep", options.sepToken ?? "[SEP]");
    add("pad", options.padToken ?? "[PAD]");
    add("mask", options.maskToken ?? "[MASK]");
    for (const tok of options.neverSplit ?? []) {
      if (tok.length > 0 && this.tokToId.has(tok)) specials.push(tok);
    }
    this.specialIds = ids;
    this.specialSet = new Set(specials);
    const alternatives = [...this.specialSet].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.specialRe = alternatives.length > 0 ? new RegExp(`(${alternatives.join("|")})`, "u") : undefined;
  }

  /** The token text of an id (UserError when out of range). */
  idToToken(id: number): string {
    const tok = Number.isInteger(id) ? this.idToTok[id] : undefined;
    if (tok === undefined) {
      throw new UserError(`${this.name} tokenizer: token id ${id} is out of range 0..${this.vocabSize - 1}`);
    }
    return tok;
  }

  /** The id of a token, if it is in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.tokToId.get(token);
  }

  /** BERT's BasicTokenizer on text without special tokens: cleaned, split words. */
  basicTokenize(text: string): string[] {
    let cleaned = "";
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
      if (isWhitespace(ch)) cleaned += " ";
      else if (this.chinese && isChineseChar(cp)) cleaned += ` ${ch} `;
      else cleaned += ch;
    }
    const out: string[] = [];
    for (let word of whitespaceSplit(cleaned.normalize("NFC"))) {
      if (this.lowercase) word = word.toLowerCase();
      if (this.stripAccents) word = word.normalize("NFD").replace(MARK_NONSPACING, "");
      let current = "";
      for (const ch of word) {
        if (isPunctuation(ch)) {
          if (current) out.push(current);
          out.push(ch);
          current = "";
        } else {
          current += ch;
        }
      }
      if (current) out.push(current);
    }
    // Lowercasing or accent stripping can, rarely, leave whitespace or empty words.
    return out.flatMap(whitespaceSplit);
  }

  /** Greedy longest-match-first WordPiece of one word. */
  wordPiece(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > this.maxChars) return [this.idToTok[this.unkId]!];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | undefined;
      while (start < end) {
        let sub = chars.slice(start, end).join("");
        if (start > 0) sub = this.prefix + sub;
        if (this.tokToId.has(sub)) {
          found = sub;
          break;
        }
        end--;
      }
      if (found === undefined) return [this.idToTok[this.unkId]!];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }

  /** Text → token strings (no [CLS]/[SEP]). */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    const segments = this.specialRe ? text.split(this.specialRe) : [text];
    segments.forEach((seg, i) => {
      // With a capturing group, odd indices are the special tokens themselves.
      if (i % 2 === 1) {
        tokens.push(seg);
        return;
      }
      for (const word of this.basicTokenize(seg)) tokens.push(...this.wordPiece(word));
    });
    return tokens;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids = this.tokenize(text).map((t) => this.tokToId.get(t) ?? this.unkId);
    if (!options.addSpecial) return ids;
    return [this.requireSpecial("cls", "[CLS]"), ...ids, this.requireSpecial("sep", "[SEP]")];
  }

  /** [CLS] a [SEP] b [SEP] with segment (token type) ids 0 for a's part and 1 for b's. */
  encodePair(a: string, b: string): { ids: number[]; typeIds: number[] } {
    const cls = this.requireSpecial("cls", "[CLS]");
    const sep = this.requireSpecial("sep", "[SEP]");
    const first = [cls, ...this.encode(a), sep];
    const second = [...this.encode(b), sep];
    return {
      ids: [...first, ...second],
      typeIds: [...first.map(() => 0), ...second.map(() => 1)],
    };
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const pad = this.specialIds.pad;
    let text = "";
    let first = true;
    for (const id of ids) {
      const tok = this.idToToken(id);
      if (id === pad) continue;
      if (options.skipSpecial && this.specialSet.has(tok) && id !== this.unkId) continue;
      if (tok.startsWith(this.prefix) && tok.length > this.prefix.length) {
        text += tok.slice(this.prefix.length);
      } else {
        text += first ? tok : ` ${tok}`;
      }
      first = false;
    }
    if (options.cleanUpSpaces) {
      text = text
        .replace(/ ([.?!,])/g, "$1")
        .replace(/ ' /g, "'")
        .replace(/ (n't|'m|'s|'ve|'re)\b/g, "$1");
    }
    return text;
  }

  private requireSpecial(key: "cls" | "sep", tok: string): number {
    const id = this.specialIds[key];
    if (id === undefined) {
      throw new UserError(`${this.name}: the vocabulary has no ${tok} token, needed to add special tokens`);
    }
    return id;
  }
}
