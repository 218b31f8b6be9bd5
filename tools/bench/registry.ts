/**
 * Benchmark group registry. A group module calls `registerGroup(name, run)` at import time;
 * tools/bench/main.ts imports every module listed in its GROUP_MODULES array, then runs the
 * registered groups in registration order and merges their rows into one table / JSON file.
 *
 * Row contract (JSON): { name, shape: [M,K,N] | null, rate: number | null, vs, ratio, ...extra }
 * where ratio = baseline time / spikelm time, both measured in the same process with
 * interleaved repetitions (median of several runs). Extra numeric/string fields are allowed.
 */

export interface BenchRow {
  /** What spikelm ran, e.g. "spike-accumulate". */
  name: string;
  /** [M, K, N] for matmul-like rows, null otherwise. */
  shape: [number, number, number] | null;
  /** Spike firing rate (nonzero fraction) or null. */
  rate: number | null;
  /** Baseline name, e.g. "ort-dense". */
  vs: string;
  /** baseline time / spikelm time (> 1: spikelm faster). */
  ratio: number;
  [extra: string]: unknown;
}

export interface BenchContext {
  /** Fewer / smaller repetitions (`--quick`). */
  readonly quick: boolean;
  /** Declare how many progress steps this group will report (may be called again to add). */
  addSteps(n: number): void;
  /** Report one finished progress step. */
  step(label?: string): void;
  /** Log a line to stderr without breaking the progress bar. */
  log(msg: string): void;
}

export type BenchGroupFn = (ctx: BenchContext) => Promise<BenchRow[]>;

interface Group {
  name: string;
  run: BenchGroupFn;
}

const groups: Group[] = [];

export function registerGroup(name: string, run: BenchGroupFn): void {
  if (groups.some((g) => g.name === name)) throw new Error(`bench group "${name}" registered twice`);
  groups.push({ name, run });
}

export function registeredGroups(): readonly Group[] {
  return groups;
}
