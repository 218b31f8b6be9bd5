/**
 * The command lines of the scripts that make models/' shipped files (models/ itself never
 * talks to the terminal: each script returns what it wrote, and this prints it).
 *
 *   node --import tsx tools/models/scripts.ts make-weights [--out DIR]
 *       the seeded small-model weights (models/spikelm/make-weights.ts)
 *   node --import tsx tools/models/scripts.ts ship-trained [--decoder CK] [--mlm CK] [--classifier CK] [--dense CK] [--bpe CK] [--bpe-dense CK] [--out-dir DIR]
 *       the trained weights from `spikelm train` checkpoints (models/spikelm/ship-trained.ts)
 *   node --import tsx tools/models/scripts.ts make-bpe [--out FILE]
 *       the byte-level BPE merges of decoder-small-bpe (models/spikelm/make-bpe.ts)
 *   node --import tsx tools/models/scripts.ts make-sentiment
 *       the labeled sentiment set (models/data/make-sentiment.ts)
 */
import { writeSentimentData } from "../../models/data/make-sentiment.js";
import { writeKjvMerges } from "../../models/spikelm/make-bpe.js";
import { writeShippedWeights } from "../../models/spikelm/make-weights.js";
import { shipTrained } from "../../models/spikelm/ship-trained.js";

const SCRIPTS: Record<string, (option: (name: string) => string | undefined) => string[]> = {
  "make-weights": (option) => writeShippedWeights(option("--out")),
  "ship-trained": (option) => shipTrained({ decoder: option("--decoder"), mlm: option("--mlm"), classifier: option("--classifier"), dense: option("--dense"), bpe: option("--bpe"), bpeDense: option("--bpe-dense") }, option("--out-dir")),
  "make-bpe": (option) => writeKjvMerges(option("--out")),
  "make-sentiment": () => writeSentimentData(),
};

function main(argv: readonly string[]): number {
  const script = argv[0] === undefined ? undefined : SCRIPTS[argv[0]];
  if (!script) {
    process.stderr.write(`usage: node --import tsx tools/models/scripts.ts ${Object.keys(SCRIPTS).join("|")} [options]\n`);
    return 1;
  }
  const option = (name: string) => {
    const i = argv.indexOf(name);
    return i > 0 && argv[i + 1] ? argv[i + 1] : undefined;
  };
  for (const line of script(option)) process.stdout.write(`${line}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
