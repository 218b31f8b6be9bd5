/**
 * Symbolic dimensions: a dimension is a polynomial with rational coefficients over named
 * symbols, with integer (possibly negative) exponents. That is just enough algebra for
 * shapes such as `d / heads` (split_heads) and `heads * (d / heads) = d` (merge_heads)
 * to be checked without knowing `d`.
 *
 * Symbols are rigid (a constructor parameter or a shape name bound by a forward signature
 * while checking a declaration) or unification variables (a callee's shape names, fresh per
 * call site). A concrete dimension is a constant polynomial.
 */

export interface DimSymbol {
  readonly id: number;
  readonly name: string;
  readonly flexible: boolean;
}

let nextSymbolId = 1;
export function freshSymbol(name: string, flexible: boolean): DimSymbol {
  return { id: nextSymbolId++, name, flexible };
}

/** A monomial: coefficient num/den times a product of symbol powers. */
interface Term {
  readonly num: number;
  readonly den: number;
  /** Sorted by symbol id; exponents are non-zero. */
  readonly factors: readonly (readonly [DimSymbol, number])[];
}

export interface Dim {
  readonly terms: readonly Term[];
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a || 1;
}

function makeTerm(num: number, den: number, factors: readonly (readonly [DimSymbol, number])[]): Term {
  if (den < 0) {
    num = -num;
    den = -den;
  }
  const g = gcd(num, den);
  return { num: num / g, den: den / g, factors };
}

function factorKey(factors: Term["factors"]): string {
  return factors.map(([s, e]) => `${s.id}^${e}`).join("*");
}

function normalize(terms: readonly Term[]): Dim {
  const byKey = new Map<string, Term>();
  for (const t of terms) {
    const k = factorKey(t.factors);
    const prev = byKey.get(k);
    if (!prev) byKey.set(k, t);
    else byKey.set(k, makeTerm(prev.num * t.den + t.num * prev.den, prev.den * t.den, t.factors));
  }
  const out = [...byKey.values()].filter((t) => t.num !== 0);
  out.sort((a, b) => (factorKey(a.factors) < factorKey(b.factors) ? -1 : 1));
  return { terms: out };
}

export function constDim(n: number): Dim {
  if (!Number.isFinite(n)) throw new RangeError(`dimension must be finite, got ${n}`);
  // Dimensions are integers in practice; rationals arise only transiently (d / heads).
  if (Number.isInteger(n)) return normalize([makeTerm(n, 1, [])]);
  const den = 1 << 20;
  return normalize([makeTerm(Math.round(n * den), den, [])]);
}

export function symDim(s: DimSymbol): Dim {
  return { terms: [makeTerm(1, 1, [[s, 1]])] };
}

function mulFactors(a: Term["factors"], b: Term["factors"], sign: 1 | -1): Term["factors"] {
  const m = new Map<number, [DimSymbol, number]>();
  for (const [s, e] of a) m.set(s.id, [s, e]);
  for (const [s, e] of b) {
    const prev = m.get(s.id);
    m.set(s.id, [s, (prev ? prev[1] : 0) + sign * e]);
  }
  return [...m.values()].filter(([, e]) => e !== 0).sort((x, y) => x[0].id - y[0].id);
}

export function addDim(a: Dim, b: Dim): Dim {
  return normalize([...a.terms, ...b.terms]);
}

export function negDim(a: Dim): Dim {
  return { terms: a.terms.map((t) => makeTerm(-t.num, t.den, t.factors)) };
}

export function subDim(a: Dim, b: Dim): Dim {
  return addDim(a, negDim(b));
}

export function mulDim(a: Dim, b: Dim): Dim {
  const out: Term[] = [];
  for (const x of a.terms)
    for (const y of b.terms) out.push(makeTerm(x.num * y.num, x.den * y.den, mulFactors(x.factors, y.factors, 1)));
  return normalize(out);
}

/** Division is exact only by a monomial; anything else gives undefined (the caller reports it). */
export function divDim(a: Dim, b: Dim): Dim | undefined {
  if (b.terms.length !== 1) return undefined;
  const d = b.terms[0]!;
  if (d.num === 0) return undefined;
  return normalize(a.terms.map((t) => makeTerm(t.num * d.den, t.den * d.num, mulFactors(t.factors, d.factors, -1))));
}

/** The number this dimension equals, if it has no symbols. */
export function dimValue(a: Dim): number | undefined {
  if (a.terms.length === 0) return 0;
  if (a.terms.length === 1 && a.terms[0]!.factors.length === 0) return a.terms[0]!.num / a.terms[0]!.den;
  return undefined;
}

export function dimEquals(a: Dim, b: Dim): boolean {
  return subDim(a, b).terms.length === 0;
}

export function symbolsOf(a: Dim): DimSymbol[] {
  const m = new Map<number, DimSymbol>();
  for (const t of a.terms) for (const [s] of t.factors) m.set(s.id, s);
  return [...m.values()];
}

/** Replaces symbols by dimensions (substitution is applied once, not to a fixpoint). */
export function substDim(a: Dim, lookup: (s: DimSymbol) => Dim | undefined): Dim {
  let acc: Dim = { terms: [] };
  for (const t of a.terms) {
    let term: Dim = { terms: [makeTerm(t.num, t.den, [])] };
    for (const [s, e] of t.factors) {
      const v = lookup(s) ?? symDim(s);
      for (let i = 0; i < Math.abs(e); i++) {
        const next = e > 0 ? mulDim(term, v) : divDim(term, v);
        term = next ?? mulDim(term, { terms: [makeTerm(1, 1, [[s, e > 0 ? 1 : -1]])] });
      }
    }
    acc = addDim(acc, term);
  }
  return acc;
}

function termToString(t: Term, first: boolean): string {
  const neg = t.num < 0;
  const absNum = Math.abs(t.num);
  const num = t.factors.filter(([, e]) => e > 0);
  const den = t.factors.filter(([, e]) => e < 0);
  const pow = (s: DimSymbol, e: number) => (Math.abs(e) === 1 ? s.name : `${s.name}^${Math.abs(e)}`);
  const numParts = num.map(([s, e]) => pow(s, e));
  if (absNum !== 1 || numParts.length === 0) numParts.unshift(String(absNum));
  const denParts = den.map(([s, e]) => pow(s, e));
  if (t.den !== 1) denParts.unshift(String(t.den));
  let s = numParts.join("*");
  if (denParts.length === 1) s += `/${denParts[0]}`;
  else if (denParts.length > 1) s += `/(${denParts.join("*")})`;
  if (first) return neg ? `-${s}` : s;
  return neg ? ` - ${s}` : ` + ${s}`;
}

export function dimToString(a: Dim): string {
  if (a.terms.length === 0) return "0";
  return a.terms.map((t, i) => termToString(t, i === 0)).join("");
}
