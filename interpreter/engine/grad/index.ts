/**
 * Backward kernels (vector-Jacobian products) of the engine's ops, re-exported in one place.
 * Like the forward ops they take tensors and numbers, never IR: the op table
 * (interpreter/ir/ops.ts) attaches them to ops as gradient rules.
 */
export { addGrad, binaryGrad, clampGrad, scaleGrad, unaryGrad, unbroadcast } from "./elementwise.js";
export { gatherGrad, indexGrad, layernormGrad, reduceGrad, softmaxGrad, transposeGrad } from "./nn.js";
export { matmulGrad } from "./matmul.js";
