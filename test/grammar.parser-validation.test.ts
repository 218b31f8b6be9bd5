import { describe, expect, it } from "vitest";
import { SpkParser } from "../grammar/parser.js";

// The parser every process builds skips chevrotain's grammar validations (start-up time);
// they run here: building the parser with them throws on any grammar definition error.
describe("the grammar", () => {
  it("passes chevrotain's grammar validations (no ambiguity, no left recursion)", () => {
    expect(() => new SpkParser({ validate: true })).not.toThrow();
  });
});
