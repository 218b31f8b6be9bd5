/**
 * Writes models/spikelm/bpe-kjv.txt, the byte-level BPE merges of `decoder-small-bpe`, learned
 * from models/data/kjv-train.txt only (the held-out kjv-valid.txt never shapes the vocabulary).
 * Reproducible byte for byte: training is deterministic (models/tokenizers/bpe.ts).
 *
 * Run: node --import tsx tools/models/scripts.ts make-bpe [--out FILE]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../../interpreter/io/files.js";
import { mergesFileText, trainBpe } from "../tokenizers/bpe.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const KJV_TRAIN = path.join(HERE, "..", "data", "kjv-train.txt");
export const KJV_MERGES = path.join(HERE, "bpe-kjv.txt");
/** 256 bytes + 1,792 merges = 2,048 tokens. */
export const KJV_MERGE_COUNT = 1792;

/** The merges file's text, from the training text. */
export function kjvMergesText(): string {
  const merges = trainBpe(new Uint8Array(fs.readFileSync(KJV_TRAIN)), KJV_MERGE_COUNT);
  return mergesFileText(merges, `byte-level BPE, ${merges.length} merges from models/data/kjv-train.txt (models/spikelm/make-bpe.ts)`);
}

export function writeKjvMerges(out: string = KJV_MERGES): string[] {
  const text = kjvMergesText();
  writeFileAtomic(out, text);
  return [`wrote ${out} (${text.split("\n").length - 2} merges)`];
}
