/** "Did you mean" suggestions: the closest candidate by edit distance, if close enough. */

/** Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent
 *  transpositions cost 1 (`fier` is one edit from `fire`); a change of case costs 1/2.
 *  Past `limit` the exact value does not matter: once two rows in a row exceed it, every
 *  later row does too, and a number above `limit` is returned at once. */
function editDistance(a: string, b: string, limit = Infinity): number {
  const n = b.length;
  let before = new Float64Array(n + 1); // row i - 2
  let prev = new Float64Array(n + 1); // row i - 1
  let cur = new Float64Array(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  let prevMin = 0;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    const x = a[i - 1]!;
    for (let j = 1; j <= n; j++) {
      const y = b[j - 1]!;
      const cost = x === y ? 0 : x.toLowerCase() === y.toLowerCase() ? 0.5 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && x === b[j - 2] && a[i - 2] === y) v = Math.min(v, before[j - 2]! + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > limit && prevMin > limit) return rowMin;
    prevMin = rowMin;
    [before, prev, cur] = [prev, cur, before];
  }
  return prev[n]!;
}

/** Longer names get no suggestion: the distance costs length², and nobody mistypes a 200-character name. */
const MAX_SUGGEST_LENGTH = 200;

export function closest(name: string, candidates: Iterable<string>): string | undefined {
  if (name.length > MAX_SUGGEST_LENGTH) return undefined;
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    // Each character of length difference costs a whole edit: too far apart without computing.
    if (Math.abs(c.length - name.length) > limit) continue;
    const d = editDistance(name, c, Math.min(bestD, limit));
    if (d < bestD || (d === bestD && best !== undefined && c < best)) {
      best = c;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= limit ? best : undefined;
}
