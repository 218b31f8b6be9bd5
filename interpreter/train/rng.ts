/**
 * The trainer's random numbers: xoshiro128** (the generator engine/random.ts uses for
 * initialisation) with a state that can be saved and restored, so a resumed run draws
 * exactly the numbers the uninterrupted run would have. Seeded from (seed, purpose) with
 * engine/random.ts's hashing (`streamFor`'s key scheme); `state()` / `TrainRng.restore`
 * round-trip the four 32-bit words.
 */
import { fmix32, fnv1a32 } from "../engine/random.js";

export class TrainRng {
  private constructor(private readonly s: Uint32Array) {}

  static seeded(seed: number, purpose: string): TrainRng {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    const h = fmix32(fnv1a32(new TextEncoder().encode(`${String(seed)}:${purpose}`)));
    const s = new Uint32Array(4);
    for (let k = 0; k < 4; k++) s[k] = fmix32((h + Math.imul(k + 1, 0x9e3779b9)) >>> 0);
    return new TrainRng(s);
  }

  static restore(words: readonly number[]): TrainRng {
    if (words.length !== 4 || words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) throw new RangeError("an RNG state is four unsigned 32-bit words");
    return new TrainRng(Uint32Array.from(words));
  }

  state(): number[] {
    return [...this.s];
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform double in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n) (n <= 2^32; multiply-shift, bias below 2^-32 * n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
