/**
 * WAT text to a WebAssembly binary, with wabt only when this exact text has not been
 * assembled before. Loading wabt (a large emscripten module) and assembling the kernels is
 * most of the kernels' start-up (measured 0.2 s import + 0.06 s init + 0.2 s assembly at
 * load ~12 on the 2-core reference machine; the binary is 11 KB), paid by every one-shot
 * command.
 *
 * The cache is one file per text in node_modules/.cache/spikelm/ of the repository (the
 * folder the CLI bundle lives in, tools/cli/bundle.mjs): the text's bytes, then the binary.
 * A cached binary is used only when the stored text equals this text byte for byte and the
 * binary matches its checksum (a truncated or damaged binary could still compile, to other
 * kernels, and would never be replaced; `.v2.watbin`, so no process of the layout without the
 * checksum reads one); where the
 * folder does not exist or cannot be written (a browser, a read-only install) nothing is
 * cached and wabt assembles every time.
 */
import { platform } from "#platform";
import { fnv1a32 } from "../random.js";

/** Little-endian u32 length of the text, the text (UTF-8), u32 FNV-1a of the binary, the binary. */
function entry(text: Uint8Array, bin: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + text.length + bin.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, text.length, true);
  out.set(text, 4);
  view.setUint32(4 + text.length, fnv1a32(bin), true);
  out.set(bin, 8 + text.length);
  return out;
}

/** The binary of `entry` when its text is `text` and the binary is intact. */
function cachedBinary(bytes: Uint8Array, text: Uint8Array): Uint8Array | undefined {
  if (bytes.length < 4) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  if (n !== text.length || bytes.length <= 8 + n) return undefined;
  for (let i = 0; i < n; i++) if (bytes[4 + i] !== text[i]) return undefined;
  const bin = bytes.slice(8 + n);
  return fnv1a32(bin) === view.getUint32(4 + n, true) ? bin : undefined;
}

async function assemble(name: string, text: string, features: { simd?: boolean; threads?: boolean }): Promise<Uint8Array> {
  const wabt = await (await import("wabt")).default();
  const parsed = wabt.parseWat(name, text, features);
  try {
    parsed.resolveNames(); // (validation happens in WebAssembly.Module; wabt's validate() ignores the features)
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}

/** The binary of the WAT `text` (`name` names it in wabt's messages and the cache). */
export async function watToBinary(name: string, text: string, features: { simd?: boolean; threads?: boolean } = {}): Promise<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const dir = platform.path.join(platform.repoRoot, "node_modules", ".cache", "spikelm");
  const file = platform.path.join(dir, `${name}-${fnv1a32(bytes).toString(16)}.v2.watbin`);
  try {
    const hit = platform.exists(file) ? cachedBinary(platform.readBytes(file), bytes) : undefined;
    if (hit) return hit;
  } catch {
    // unreadable: assemble
  }
  const bin = await assemble(name, text, features);
  try {
    if (platform.exists(dir)) platform.writeAtomic(file, entry(bytes, bin));
  } catch {
    // read-only: nothing cached
  }
  return bin;
}
