import { UserError } from "../../../interpreter/io/errors.js";
import type { ExportOptions } from "./export.js";
export function exportPytorchCommand(_file: string, _opts: ExportOptions, _out: string, _names: string): number {
  throw new UserError("PyTorch export is not implemented yet");
}
