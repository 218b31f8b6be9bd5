/**
 * Time stages of a graph: a node's stage counts the `mean_time`s on its longest path from
 * the inputs. Step-by-step execution runs stage k's static nodes, then its time loop, then
 * stage k + 1 (whose `mean_time`s were accumulated by that loop).
 */
import type { Graph } from "./graph.js";

export function timeStages(g: Graph): Map<number, number> {
  const stage = new Map<number, number>();
  for (const n of g.nodes) {
    let s = 0;
    for (const i of n.inputs) s = Math.max(s, stage.get(i)!);
    if (n.op === "mean_time") s = stage.get(n.inputs[0]!)! + 1;
    stage.set(n.id, s);
  }
  return stage;
}
