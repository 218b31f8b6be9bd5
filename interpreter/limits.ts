/**
 * The size bounds of a spec. Each exists so that no input can hang `spikelm check`, the
 * language server or `spikelm run`, or crash with an allocation error: crossing one gives a
 * located error (SPK505) naming the limit and the value. How deep brackets and expressions may
 * nest is the grammar's bound (SPK005, grammar/limits.ts).
 *
 * They are generous: a BERT-large-sized SpikeLM (24 layers, d = 1024, L = 512, T = 16,
 * batch 8) stays well inside every one of them. docs/language.md lists them.
 */

/**
 * Copies in one `repeat n { ... }` when running (BERT-large: 24). Checking does not expand a
 * repeat (one copy stands for all), so only running meets this bound.
 */
export const MAX_REPEAT = 1024;

/**
 * Layers created within layers: model → stack → block → attention → linear → neuron is 6.
 * Each level costs the elaborator stack frames, so it is bounded well inside the stack.
 */
export const MAX_INSTANCE_DEPTH = 100;

/** Time steps of a run (SpikeLM uses 1-16). */
export const MAX_TIMESTEPS = 4096;

/**
 * Elements of one tensor, time axis included: 2^30 (4 GiB as float32). BERT-large's largest
 * intermediate, the attention scores T×B×heads×L×L = 16×8×16×512×512, has 2^29.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 30;

/**
 * Expressions evaluated while elaborating one entry to run it. Running a BERT-large-sized
 * encoder (models/spikelm, depth 24, d 1024) takes 17,265. A layer that calls another twice,
 * which calls another twice, ... grows exponentially and is stopped here, in seconds,
 * instead of hanging.
 */
export const MAX_ELABORATION_STEPS = 300_000;

/**
 * The same for one `checkFiles` (`spikelm check`, each language-server check), all
 * declarations together: checking expands no repeat, so the whole SpikeLM encoder file takes
 * 1,566. Once spent, the declaration being checked gets the error and the rest are skipped,
 * so an editor never waits more than a second or two.
 */
export const MAX_CHECK_STEPS = 100_000;

/** `repeat count 5,000 exceeds the limit of 1,024 copies (MAX_REPEAT)`. */
export function limitMessage(what: string, value: number, limit: number, name: string, unit = ""): string {
  return `${what} ${value.toLocaleString("en-US")} exceeds the limit of ${limit.toLocaleString("en-US")}${unit ? ` ${unit}` : ""} (${name})`;
}
