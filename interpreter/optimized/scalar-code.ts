/**
 * JavaScript source for one elementwise op on scalars, with exactly the rounding of the
 * reference kernels (engine/ops/elementwise.ts): the double-precision scalar function, then
 * one Math.fround. Generated kernels call this so the optimized paths give the same bits.
 */
import { binaryScalar, unaryScalar, type BinaryOp, type UnaryOp } from "../engine/ops/index.js";

export interface ScalarEnv {
  /** Functions the generated code refers to by name (`U_gelu`, ...). */
  readonly functions: Map<string, (...xs: number[]) => number>;
  /** Variables known to hold a constant, for cheaper exact forms (e.g. of clamp). */
  readonly constants?: ReadonlyMap<string, number>;
}

const INLINE_BINARY: Record<string, string> = { add: "+", sub: "-", mul: "*", div: "/" };

export function scalarExpr(op: string, args: readonly string[], env: ScalarEnv): string | undefined {
  const [a, b, c] = args;
  if (op in INLINE_BINARY) return `F(${a} ${INLINE_BINARY[op]} ${b})`;
  if (op === "max" || op === "min") return `F(Math.${op}(${a}, ${b}))`;
  // where(a > b, a, b): a comparison, so NaN selects b (binaryScalar's at_least).
  if (op === "at_least") return `F(${a} > ${b} ? ${a} : ${b})`;
  if (op === "clamp") {
    const lo = env.constants?.get(b!);
    const hi = env.constants?.get(c!);
    // With non-zero constant bounds, comparisons give exactly min(max(x, lo), hi) (NaN and
    // -0 included) and are much cheaper than Math.min/Math.max.
    if (lo !== undefined && hi !== undefined && lo !== 0 && hi !== 0 && lo <= hi) return `F(${a} < ${b} ? ${b} : ${a} > ${c} ? ${c} : ${a})`;
    return `F(Math.min(Math.max(${a}, ${b}), ${c}))`;
  }
  if (op === "neg") return `F(-${a})`;
  // gradient markers are the identity forward (their first operand, already float32)
  if (op === "detach" || op === "grad_scale" || op === "surrogate") return `${a}`;
  if (op === "abs") return `F(Math.abs(${a}))`;
  const unary = ["round", "sign", "heaviside", "exp", "log", "sqrt", "tanh", "relu", "gelu", "erf"];
  if (unary.includes(op)) {
    env.functions.set(`U_${op}`, unaryScalar(op as UnaryOp));
    return `F(U_${op}(${a}))`;
  }
  if (op === "pow") {
    env.functions.set("B_pow", binaryScalar("pow" as BinaryOp));
    return `F(B_pow(${a}, ${b}))`;
  }
  return undefined;
}

/** Builds a function from generated source with the env's helper functions in scope. */
export function compile<T>(source: string, env: ScalarEnv): T {
  const names = ["F", ...env.functions.keys()];
  const values = [Math.fround, ...env.functions.values()];
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(...names, source)(...values) as T;
}

const shared = new Map<string, unknown>();
/** How many compiled sources `compileShared` keeps (a model has a few dozen distinct ones). */
export const SHARED_LIMIT = 512;
/** How many it holds now (tests). */
export const sharedCompiledCount = () => shared.size;

/**
 * `compile`, one function per (helpers, source): for generated kernels that keep no state of
 * their own (everything comes in through their arguments). Generators name values by
 * position, not node id, so the neurons of one kind get one function, which gets hot after
 * the first few instead of each one's short loops staying in the interpreter.
 */
export function compileShared<T>(source: string, env: ScalarEnv): T {
  const key = `${[...env.functions.keys()].join(",")}\n${source}`;
  let f = shared.get(key) as T | undefined;
  if (f !== undefined) {
    // Most recently used last: a long-lived process (language server, playground, training
    // many specs) keeps the newest SHARED_LIMIT sources, not every one it ever compiled.
    shared.delete(key);
  } else {
    f = compile<T>(source, env);
    if (shared.size >= SHARED_LIMIT) shared.delete(shared.keys().next().value!);
  }
  shared.set(key, f);
  return f;
}

/** A number literal that evaluates to exactly `v`. */
export function literal(v: number): string {
  if (Object.is(v, -0)) return "-0";
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  return String(v);
}

/**
 * The slot of a parameter or amplitude path in a kernel's argument list, adding it on first
 * use: both neuron compilers number the arrays they are handed this way.
 */
export function slotOf(paths: string[], path: string): number {
  const i = paths.indexOf(path);
  return i >= 0 ? i : paths.push(path) - 1;
}
