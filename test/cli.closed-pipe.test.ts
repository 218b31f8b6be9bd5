/**
 * A reader that closes the pipe early (`spikelm models | head -1`) ends the command quietly
 * with exit 0, as Unix tools do, never with an unhandled EPIPE and its stack trace. The
 * reader here exits at once, so the command's first write finds the pipe closed.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REPO } from "./helpers.js";

describe("stdout closed by the reader", () => {
  it.each([["models"], ["fmt", "stdlib/neurons.spk"]])("spikelm %s | true: exit 0, no EPIPE or stack trace", (...args) => {
    const cmd = `node --import tsx tools/cli/main.ts ${args.join(" ")} | true; echo "status=\${PIPESTATUS[0]}" >&2`;
    const r = spawnSync("bash", ["-c", cmd], { cwd: REPO, encoding: "utf8" });
    const lines = r.stderr.trim().split("\n");
    expect(lines.at(-1)).toBe("status=0");
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
  });
});
