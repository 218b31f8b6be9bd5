// Loader for prettier configurations (`.prettierrc`: "plugins": ["./tools/prettier/plugin.mjs"]):
// registers tsx so the TypeScript plugin and the grammar load as they are, then re-exports it.
import { register } from "tsx/esm/api";

register();
const plugin = await import("./plugin.ts");

export const languages = plugin.languages;
export const parsers = plugin.parsers;
export const printers = plugin.printers;
export const defaultOptions = plugin.defaultOptions;
export default plugin.default;
