/**
 * Gradient accumulation per node: a node read by several users gets the sum of their
 * gradients, added in the order the backward walk reaches them (reverse topological, so
 * fixed), each addition rounded to float32. Stored tensors are never mutated: a seed may be
 * a view of a caller's buffer.
 */
import { addGrad } from "../engine/grad/index.js";
import type { F32Tensor } from "../engine/tensor.js";

export class GradAccumulator {
  private readonly grads = new Map<number, F32Tensor>();

  add(id: number, g: F32Tensor): void {
    const prev = this.grads.get(id);
    if (prev && prev.data.length !== g.data.length) throw new Error(`internal: gradients of %${id} have different sizes (${prev.data.length} and ${g.data.length})`);
    this.grads.set(id, prev ? addGrad(prev, g) : g);
  }

  /** The node's total gradient, removed (each node is visited once). */
  take(id: number): F32Tensor | undefined {
    const g = this.grads.get(id);
    this.grads.delete(id);
    return g;
  }
}
