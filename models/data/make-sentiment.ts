/**
 * Writes the small labeled sentiment set (sentiment-train.tsv, sentiment-test.tsv:
 * `text<TAB>label`, labels `negative` / `positive`), generated from templates, so it is
 * ours to license (CC0, as the rest of models/data/README.md says).
 *
 * Recipe (deterministic; re-running reproduces the files byte for byte):
 * - Sentences from the templates below over the word lists (chosen to be in the small
 *   WordPiece vocabulary, models/spikelm/vocab-small.txt):
 *     "<subject> was <adverb> <adjective>."           label of the adjective
 *     "<subject> was not <adjective>."                the opposite label
 *     "i <verb> <subject>."                           label of the verb
 *     "<subject> was <adjective 1> but <adjective 2>." label of the clause after "but"
 *     "<subject> was <adjective 1> and <adjective 2>." both of one label
 * - Every distinct sentence is enumerated, shuffled with xoshiro128** seeded "sentiment:1",
 *   and the first 2000 become the training file, the next 500 the test file (disjoint).
 *
 * Run: node --import tsx tools/models/scripts.ts make-sentiment
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { TrainRng } from "../../interpreter/train/rng.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));

const SUBJECTS = ["the film", "the movie", "this film", "this movie", "the story", "the music", "the song", "the book", "the play", "the show", "the picture", "the end", "the first part", "the ending song", "the last hour"];
const ADVERBS = ["", "very ", "so ", "really ", "quite ", "just ", "too "];
const POS = ["good", "great", "wonderful", "fine", "beautiful", "special", "clear", "warm", "strong", "true", "real", "fun"];
const NEG = ["bad", "terrible", "awful", "boring", "slow", "cold", "dark", "hard", "dry", "long", "weak", "dull"];
const VERBS_POS = ["loved", "liked", "enjoyed"];
const VERBS_NEG = ["hated", "disliked"];

type Row = [string, "negative" | "positive"];

function sentimentRows(): { train: Row[]; test: Row[] } {
  const all = new Map<string, Row[1]>();
  const add = (s: string, l: Row[1]) => all.set(s, l);
  for (const s of SUBJECTS) {
    for (const a of ADVERBS) {
      for (const p of POS) add(`${s} was ${a}${p}.`, "positive");
      for (const n of NEG) add(`${s} was ${a}${n}.`, "negative");
    }
    for (const p of POS) add(`${s} was not ${p}.`, "negative");
    for (const n of NEG) add(`${s} was not ${n}.`, "positive");
    for (const v of VERBS_POS) add(`i ${v} ${s}.`, "positive");
    for (const v of VERBS_NEG) add(`i ${v} ${s}.`, "negative");
    for (const p of POS)
      for (const n of NEG) {
        add(`${s} was ${p} but ${n}.`, "negative");
        add(`${s} was ${n} but ${p}.`, "positive");
      }
    for (let i = 0; i < POS.length; i++) {
      add(`${s} was ${POS[i]} and ${POS[(i + 5) % POS.length]}.`, "positive");
      add(`${s} was ${NEG[i]} and ${NEG[(i + 5) % NEG.length]}.`, "negative");
    }
  }
  const rows: Row[] = [...all];
  const rng = TrainRng.seeded(1, "sentiment");
  for (let i = rows.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [rows[i], rows[j]] = [rows[j]!, rows[i]!];
  }
  return { train: rows.slice(0, 2000), test: rows.slice(2000, 2500) };
}

/** Writes both files next to this module; returns what it wrote. */
export function writeSentimentData(): string[] {
  const { train, test } = sentimentRows();
  const tsv = (rows: Row[]) => `text\tlabel\n${rows.map(([t, l]) => `${t}\t${l}`).join("\n")}\n`;
  return ([["sentiment-train.tsv", train], ["sentiment-test.tsv", test]] as const).map(([name, rows]) => {
    fs.writeFileSync(path.join(HERE, name), tsv(rows));
    return `wrote ${path.join(HERE, name)} (${rows.length} rows, ${rows.filter((r) => r[1] === "positive").length} positive)`;
  });
}
