/**
 * Tensor storage for code that runs the same computation again and again (a training step):
 * inside `withArena(arena, fn)`, the kernels' fresh buffers (`allocF32`, `allocF64`,
 * `allocI32`, `f32From`, ...) come from the arena instead of `new`; `arena.reset()` hands
 * them all back, and the next run gets the same buffers again (per size, in request order),
 * zeroed as fresh ones would be. After the first run, a run that asks for the same sizes
 * creates nothing: `created` counts the buffers the arena ever made (what the
 * no-allocation test checks).
 *
 * Outside an arena (the default) every helper is plain `new`. Nothing made inside an arena
 * may outlive the next `reset()`: the code that opens one copies its results out.
 */

type Typed = Float32Array | Float64Array | Int32Array;

class SizePool<T extends Typed> {
  private readonly bySize = new Map<number, { list: T[]; next: number }>();
  constructor(private readonly make: (n: number) => T, private readonly onCreate: () => void) {}

  take(n: number): T {
    let e = this.bySize.get(n);
    if (!e) this.bySize.set(n, (e = { list: [], next: 0 }));
    if (e.next < e.list.length) {
      const b = e.list[e.next++]!;
      b.fill(0);
      return b;
    }
    const b = this.make(n);
    this.onCreate();
    e.list.push(b);
    e.next++;
    return b;
  }

  reset(): void {
    for (const e of this.bySize.values()) e.next = 0;
  }
}

export class BufferArena {
  /** Buffers this arena has created (each is reused by later runs). */
  created = 0;
  private readonly count = () => void this.created++;
  readonly f32 = new SizePool((n) => new Float32Array(n), this.count);
  readonly f64 = new SizePool((n) => new Float64Array(n), this.count);
  readonly i32 = new SizePool((n) => new Int32Array(n), this.count);

  /** Every buffer handed out so far is free again. */
  reset(): void {
    this.f32.reset();
    this.f64.reset();
    this.i32.reset();
  }
}

let active: BufferArena | undefined;

/** Runs fn with the kernels' storage taken from `arena` (undefined: plain allocation). */
export function withArena<T>(arena: BufferArena | undefined, fn: () => T): T {
  const prev = active;
  active = arena;
  try {
    return fn();
  } finally {
    active = prev;
  }
}

/** Zeroed float32 storage of n elements. */
export function allocF32(n: number): Float32Array {
  return active ? active.f32.take(n) : new Float32Array(n);
}

/** Zeroed float64 storage (kernels' double accumulators). */
export function allocF64(n: number): Float64Array {
  return active ? active.f64.take(n) : new Float64Array(n);
}

/** Zeroed int32 storage. */
export function allocI32(n: number): Int32Array {
  return active ? active.i32.take(n) : new Int32Array(n);
}

/** A float32 copy of `src` (each value rounded to float32, as Float32Array.from does). */
export function f32From(src: ArrayLike<number>): Float32Array {
  const out = allocF32(src.length);
  if (ArrayBuffer.isView(src)) out.set(src as Float32Array | Float64Array | Int32Array);
  else for (let i = 0; i < src.length; i++) out[i] = src[i]!;
  return out;
}

/** An int32 copy of `src` (as Int32Array.from does). */
export function i32From(src: ArrayLike<number>): Int32Array {
  const out = allocI32(src.length);
  if (ArrayBuffer.isView(src)) out.set(src as Int32Array);
  else for (let i = 0; i < src.length; i++) out[i] = src[i]!;
  return out;
}
