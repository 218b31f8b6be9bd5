/**
 * compileShared (interpreter/optimized/scalar-code.ts) keeps one function per generated
 * source, and at most SHARED_LIMIT of them, most recently used kept: a long-lived process
 * compiling many specs does not grow it without bound, and a source in use stays shared.
 */
import { describe, expect, it } from "vitest";
import { SHARED_LIMIT, compileShared, sharedCompiledCount } from "../interpreter/optimized/scalar-code.js";

const env = () => ({ functions: new Map<string, (...xs: number[]) => number>() });
const source = (i: number) => `return (x) => F(x + ${i});`;

describe("compileShared", () => {
  it("shares a source's function and stays bounded, keeping the recently used", () => {
    const hot = compileShared<(x: number) => number>(source(-1), env());
    expect(compileShared(source(-1), env())).toBe(hot);
    for (let i = 0; i < 3 * SHARED_LIMIT; i++) {
      expect(compileShared<(x: number) => number>(source(i), env())(1)).toBe(Math.fround(1 + i));
      if (i % 100 === 0) expect(compileShared(source(-1), env())).toBe(hot);
      expect(sharedCompiledCount()).toBeLessThanOrEqual(SHARED_LIMIT);
    }
    expect(sharedCompiledCount()).toBe(SHARED_LIMIT);
    // the first of the many was dropped long ago: a fresh function now
    const first = compileShared(source(0), env());
    expect(compileShared(source(0), env())).toBe(first);
  });
});
