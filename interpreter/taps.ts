/**
 * `--record PATH`: which layer outputs and neuron spikes a run records, by instance path.
 *
 * Paths are the ones parameters are named by (`embeddings`, `blocks.3.attn`, `blocks.0.up.fire`):
 * a layer's path names its output (a `repeat` stack's path, e.g. `blocks`, its last layer's
 * output); a neuron's path its spike levels. Patterns are matched segment by segment: `*`
 * matches any text inside one segment (`blocks.*` is every block, not their sub-layers), `**`
 * any number of whole segments (`blocks.**.fire`, `**`). A pattern must match something.
 */
import { closest } from "./checker/suggest.js";
import { UserError } from "./io/errors.js";
import type { GraphTap } from "./ir/graph.js";

export interface TapSelection {
  /** Layer outputs to tap, in call order. */
  readonly layers: readonly GraphTap[];
  /** Neuron paths whose spikes to record. */
  readonly neurons: ReadonlySet<string>;
}

function segmentRegex(seg: string): RegExp {
  return new RegExp(`^${seg.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
}

/** Whether a path matches a pattern (see the module comment). */
export function pathMatches(pattern: string, path: string): boolean {
  const p = pattern.split(".");
  const s = path.split(".");
  const match = (i: number, j: number): boolean => {
    if (i === p.length) return j === s.length;
    if (p[i] === "**") return match(i + 1, j) || (j < s.length && match(i, j + 1));
    return j < s.length && segmentRegex(p[i]!).test(s[j]!) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

/** The record key of a repeated call (`path#2`) without its call number. */
export const basePath = (key: string) => key.replace(/#\d+$/, "");

/**
 * The taps `patterns` select among a graph's layer outputs and neuron paths. A pattern that
 * matches nothing is a UserError naming the closest path and a few of those that exist.
 */
export function selectTaps(patterns: readonly string[], layers: readonly GraphTap[], neurons: readonly string[]): TapSelection {
  const chosen: GraphTap[] = [];
  const chosenNeurons = new Set<string>();
  for (const pattern of patterns) {
    if (pattern.trim() === "") throw new UserError("--record expects a path (e.g. `blocks.*`, `blocks.0.attn`, `embeddings`); give it without a value to record every neuron's spikes");
    let hit = false;
    for (const l of layers)
      if (pathMatches(pattern, l.path)) {
        hit = true;
        if (!chosen.includes(l)) chosen.push(l);
      }
    for (const n of neurons)
      if (pathMatches(pattern, n)) {
        hit = true;
        chosenNeurons.add(n);
      }
    if (!hit) {
      const all = [...new Set([...layers.map((l) => l.path), ...neurons])];
      const guess = closest(pattern, all);
      const some = all.filter((p) => !p.includes(".") || /^[^.]+\.[^.]+$/.test(p)).slice(0, 8);
      throw new UserError(
        `--record ${pattern}: no layer or neuron has this path${guess ? `; did you mean \`${guess}\`?` : ""} (paths include ${some.join(", ") || "none"}${all.length > some.length ? ", ..." : ""}; \`*\` matches inside one segment, \`**\` across segments)`,
      );
    }
  }
  // Keep the graph's call order whatever the order of the patterns.
  return { layers: layers.filter((l) => chosen.includes(l)), neurons: chosenNeurons };
}
