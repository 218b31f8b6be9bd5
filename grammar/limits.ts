/**
 * Bounds of the grammar. The parser, the checker, the printer and the language server walk
 * expressions recursively, so nesting without bound would overflow the stack. Crossing a
 * bound is a located error (SPK005) at the place where it is crossed, never a crash.
 *
 * Hand-written specs nest brackets a handful of levels deep and chain a few dozen operators
 * at most; both bounds are far beyond that and well inside the stack.
 */

/**
 * Brackets (`(`, `[`, `{`) open at once plus prefix `-` in a row. Chevrotain's recursive
 * descent spends a few dozen stack frames per level and overflows near 250 levels.
 */
export const MAX_NESTING = 64;

/** Depth of an expression tree: `a + b + ... ` with 1,000 terms, or 1,000 chained `x[0]`. */
export const MAX_EXPRESSION_DEPTH = 1000;
