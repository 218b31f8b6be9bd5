/**
 * Softmax cross-entropy over the last axis of logits [N, V] with integer targets (-1:
 * ignored, as PyTorch's ignore_index). Computed in doubles; the gradient of the *mean* loss
 * over the counted rows is written into a caller-owned buffer (no allocation).
 */
export interface CrossEntropy {
  /** Sum over counted rows of -log p(target), in nats. */
  readonly sum: number;
  /** Rows with a target. */
  readonly count: number;
  /** Rows whose argmax is the target. */
  readonly correct: number;
}

export function crossEntropy(logits: ArrayLike<number>, targets: ArrayLike<number>, V: number, grad?: Float32Array): CrossEntropy {
  const N = targets.length;
  let count = 0;
  for (let r = 0; r < N; r++) if (targets[r]! >= 0) count++;
  let sum = 0;
  let correct = 0;
  const scale = count > 0 ? 1 / count : 0;
  for (let r = 0; r < N; r++) {
    const o = r * V;
    const y = targets[r]!;
    if (y < 0) {
      if (grad) grad.fill(0, o, o + V);
      continue;
    }
    let max = -Infinity;
    let arg = 0;
    for (let j = 0; j < V; j++) {
      const x = logits[o + j]!;
      if (x > max) {
        max = x;
        arg = j;
      }
    }
    let z = 0;
    for (let j = 0; j < V; j++) z += Math.exp(logits[o + j]! - max);
    const logZ = Math.log(z) + max;
    sum += logZ - logits[o + y]!;
    if (arg === y) correct++;
    if (grad) {
      for (let j = 0; j < V; j++) grad[o + j] = Math.exp(logits[o + j]! - logZ) * scale;
      grad[o + y] = grad[o + y]! - scale;
    }
  }
  return { sum, count, correct };
}
