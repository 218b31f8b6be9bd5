/**
 * The python3 that has torch (Debian's python3-torch installs it for /usr/bin/python3, which
 * may not be the python3 first on PATH), or undefined. SPIKELM_PYTHON, when set, is the only
 * candidate (SPIKELM_PYTHON=none shows what a machine without torch reports).
 */
import { spawnSync } from "node:child_process";

let cached: string | null | undefined;

export function findTorchPython(): string | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const candidates = process.env.SPIKELM_PYTHON !== undefined ? [process.env.SPIKELM_PYTHON] : ["/usr/bin/python3", "python3"];
  cached = null;
  for (const c of candidates) {
    const r = spawnSync(c, ["-c", "import torch"], { encoding: "utf8", timeout: 60_000 });
    if (r.status === 0) {
      cached = c;
      break;
    }
  }
  return cached ?? undefined;
}
