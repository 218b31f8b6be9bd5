/**
 * Gradients derived from the IR (issue 9 part 1): one reverse-mode pass over a graph,
 * from the backward rules kept next to each op's forward in the op table
 * (`interpreter/ir/ops.ts`, the `grad` slot), through neuron step graphs and their state
 * (backpropagation through time, as the reference code's autograd does it).
 *
 * The API training calls:
 *
 * ```ts
 * const engine = new GradientEngine(graph, params, { trainAmplitudes: false, optimize: true, mode: "multi", reuseBuffers: false });
 * const r = engine.run(inputs, gradOutput);                  // dL/doutput given
 * const r = engine.run(inputs, (output) => ({ loss, gradOutput })); // or a loss callback
 * r.output;            // the forward output (a copy the caller owns)
 * r.loss;              // what the callback returned, if one was given
 * r.grads;             // Map<param path, Float32Array>: every trainable parameter
 * r.inputGrads;        // Map<input name, Float32Array>: every float input
 * // one-shot form:
 * gradients(graph, params, inputs, gradOutput | lossFn, options)
 * ```
 *
 * - `graph` is the *elaborated* graph (`compileEntry(...).graph`); with `optimize` the
 *   engine runs the pass pipeline itself and takes the forward from the optimized executor.
 * - Parameters: every `weight` gets a gradient (zeros if nothing reaches it). Amplitudes are
 *   frozen, as in the reference, unless `trainAmplitudes` (then the LSQ gradient).
 *   Amplitudes not yet calibrated are calibrated by this forward, exactly like a run.
 * - Gradients are float32, each op's backward rounded to float32 in a fixed order, so the
 *   result does not depend on `mode` or `optimize` (bit for bit).
 * - The engine is built once per graph/shape and reused every step. Parameters may be
 *   changed in place between runs (an optimizer step on the ParamStore's tensors): every run
 *   reads them anew (the optimized executor's weight-only values are recomputed).
 * - `grads` and `inputGrads` are fresh arrays the caller owns; with `reuseBuffers: true`
 *   (training) they, and `output`, are the engine's own buffers, overwritten by the next run,
 *   and the tape's and the backward's tensors come from a BufferArena (engine/arena.ts)
 *   planned by the first run: later runs create no tensor storage.
 */
export { GradientEngine, gradients } from "./engine.js";
export type { GradientOptions, GradientResult, LossFn, GradSeed } from "./engine.js";
