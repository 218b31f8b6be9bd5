/**
 * Batched matrix multiplication, reference numerics.
 *
 * Owns: `matmul`. a is [...A, M, K], b is [...B, K, N] (rank >= 2 each); the batch dims A and
 * B broadcast NumPy-style to C and the result is [...C, M, N]. Each output element is a
 * SEQUENTIAL float32 dot product in ascending k:
 *
 *   acc = 0; for k = 0 .. K-1: acc = fround(acc + fround(a[m, k] * b[k, n]))
 *
 * (no FMA, no pairwise/blocked summation; the product of two float32 is exact in double, so
 * fround(a * b) is the IEEE float32 product). K = 0 gives +0. A sum of only -0 terms is +0
 * because acc starts at +0.
 */

import type { F32Tensor, Tensor } from "../tensor.js";
import { f32, numel, shapeString } from "../tensor.js";
import { ShapeError, broadcastOffsets, broadcastShapes } from "./broadcast.js";
import { expectF32 } from "./checks.js";
import { allocF32 } from "../arena.js";

/** a [..., M, K] @ b [..., K, N] -> [...broadcast batch, M, N]; see the module header for the rounding. */
export function matmul(a: Tensor, b: Tensor): F32Tensor {
  const x = expectF32(a, "matmul");
  const y = expectF32(b, "matmul");
  if (x.shape.length < 2 || y.shape.length < 2)
    throw new ShapeError(`matmul needs rank >= 2 operands, got ${shapeString(x.shape)} and ${shapeString(y.shape)}`);
  const M = x.shape[x.shape.length - 2]!;
  const K = x.shape[x.shape.length - 1]!;
  const K2 = y.shape[y.shape.length - 2]!;
  const N = y.shape[y.shape.length - 1]!;
  if (K !== K2)
    throw new ShapeError(`matmul: inner dimensions differ (${K} vs ${K2}) for ${shapeString(x.shape)} @ ${shapeString(y.shape)}`);
  const batchA = x.shape.slice(0, -2);
  const batchB = y.shape.slice(0, -2);
  let batch: number[];
  try {
    batch = broadcastShapes(batchA, batchB);
  } catch (e) {
    if (e instanceof ShapeError)
      throw new ShapeError(`matmul: batch dims do not broadcast for ${shapeString(x.shape)} @ ${shapeString(y.shape)}`);
    throw e;
  }
  const offA = broadcastOffsets(batchA, batch);
  const offB = broadcastOffsets(batchB, batch);
  const nb = numel(batch);
  const out = allocF32(nb * M * N);
  // i-k-j order: each output still accumulates its terms in ascending k, rounded to float32
  // at every step (the Float32Array store rounds), so the bits are the i-j-k loop's; rows of
  // b are read contiguously. +0 start: `out` is zero-filled.
  const xd = x.data;
  const yd = y.data;
  for (let bi = 0; bi < nb; bi++) {
    const baseA = offA[bi]! * M * K;
    const baseB = offB[bi]! * K * N;
    const baseO = bi * M * N;
    for (let m = 0; m < M; m++) {
      const o = baseO + m * N;
      for (let k = 0; k < K; k++) {
        const a = xd[baseA + m * K + k]!;
        const bk = baseB + k * N;
        for (let n = 0; n < N; n++) out[o + n] = out[o + n]! + Math.fround(a * yd[bk + n]!);
      }
    }
  }
  return f32([...batch, M, N], out);
}
