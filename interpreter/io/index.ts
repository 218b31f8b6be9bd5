export { UserError, isUserError, describeError } from "./errors.js";
export { readFileBytes, readFileText, writeFileAtomic } from "./files.js";
export { stringifyJson, formatNumber } from "./json-text.js";
export {
  METADATA_KEY,
  parseTensor,
  parseTensorFile,
  parseShape,
  parseMetadata,
  readJsonFile,
  readTensorJsonFile,
  readTensorMap,
  shortestFloat32,
  tensorToJson,
  tensorMapToJson,
  writeJson,
  writeTensorMap,
} from "./tensor-json.js";
export type { TensorFile, TensorJson } from "./tensor-json.js";
export {
  SAFETENSORS_DTYPE_SIZES,
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from "./safetensors.js";
export type { SafetensorsDType, SafetensorsWriteOptions } from "./safetensors.js";
export { findNonFinite, loadWeightsFile, saveWeightsFile, weightsFormatOf } from "./weights.js";
export type { NonFiniteValue, WeightsFormat } from "./weights.js";
