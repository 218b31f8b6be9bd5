/**
 * The pass pipeline: one straight list of named passes over the immutable IR. Each pass
 * returns a new graph and notes on what it changed; `optimize` keeps the graph after every
 * pass so `spikelm explain` can print it.
 */
import type { Graph } from "../ir/graph.js";
import { constantFolding } from "./constant-folding.js";
import { cse } from "./cse.js";
import { dce } from "./dce.js";
import { fuseElementwise } from "./fuse-elementwise.js";
import { shapeSpecialisation } from "./shape-specialisation.js";
import { spikeAccumulate } from "./spike-accumulate.js";

export interface PassResult {
  readonly graph: Graph;
  readonly notes: readonly string[];
}

export interface Pass {
  readonly name: string;
  readonly description: string;
  readonly run: (g: Graph) => PassResult;
}

const PIPELINE: readonly Pass[] = [
  { name: "constant-folding", description: "evaluate ops on constants; algebraic identities that are exact in float32", run: constantFolding },
  { name: "cse", description: "merge nodes that compute the same thing", run: cse },
  { name: "dce", description: "drop nodes nothing uses", run: dce },
  { name: "shape-specialisation", description: "fix every shape to numbers for buffer planning", run: shapeSpecialisation },
  { name: "spike-accumulate", description: "neurons emit int8 levels straight into spike-accumulate matmuls", run: spikeAccumulate },
  { name: "elementwise-fusion", description: "fuse chains of elementwise ops into one loop", run: fuseElementwise },
  { name: "dce", description: "drop nodes the fusions left unused", run: dce },
];

export interface OptimizeLog {
  readonly pass: string;
  readonly notes: readonly string[];
  readonly graph: Graph;
}

export function optimize(g: Graph, passes: readonly Pass[] = PIPELINE): { graph: Graph; log: OptimizeLog[] } {
  const log: OptimizeLog[] = [];
  let cur = g;
  for (const p of passes) {
    const r = p.run(cur);
    cur = r.graph;
    log.push({ pass: p.name, notes: r.notes, graph: cur });
  }
  return { graph: cur, log };
}
