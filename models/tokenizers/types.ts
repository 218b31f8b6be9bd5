/** The interface every tokenizer implements. */

/** Ids of special tokens, where the tokenizer has them. */
export interface SpecialIds {
  cls?: number;
  sep?: number;
  pad?: number;
  mask?: number;
  unk?: number;
  bos?: number;
  eos?: number;
}

export interface Tokenizer {
  /** Text → token ids. */
  encode(text: string): number[];
  /** Token ids → text. Ids outside 0..vocabSize-1 are a UserError. */
  decode(ids: readonly number[]): string;
  /** Number of ids: valid ids are 0..vocabSize-1. */
  readonly vocabSize: number;
  /** Short name for messages, e.g. "byte" or "wordpiece(vocab.txt)". */
  readonly name: string;
  readonly specialIds?: SpecialIds;
}
