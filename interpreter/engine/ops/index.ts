/**
 * The reference engine's ops, re-exported in one place.
 *
 * Every op takes tensors (and plain numbers), never mutates its inputs and returns a tensor
 * with fresh storage. The numerics of each op are documented on the op itself.
 */

export { ShapeError, broadcastShapes, broadcastOffsets } from "./broadcast.js";
export type { BinaryOp, UnaryOp } from "./elementwise.js";
export { binary, unary, clamp, binaryScalar, unaryScalar } from "./elementwise.js";
export { matmul } from "./matmul.js";
export { sum, mean, max } from "./reduce.js";
export { softmax, layernorm, causalMask, gather, positions } from "./nn.js";
export type { IndexItem } from "./layout.js";
export { transpose, reshape, splitHeads, mergeHeads, overTime, meanTime, index, toF32, concat } from "./layout.js";
