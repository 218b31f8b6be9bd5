/**
 * The key/value caches of incremental decoding on the optimized executor: one per
 * `cache_concat` node (passes/incremental.ts), holding exactly what the executor's buffer for
 * that node holds: int8 spike levels when the spike-accumulate pass made the chain int8
 * (engine/levels.ts: a level per byte, NaN as NAN_LEVEL), float32 otherwise. The spike
 * kernels read the levels straight from here; nothing is expanded to float.
 *
 * Layout: the contents are one contiguous row-major tensor [...outer, L, ...inner] (L the
 * positions so far), at the front of a buffer with room for more positions. Appending moves
 * each outer block up to its new place (last block first, so nothing is overwritten before
 * it moved) and writes the new positions after it; the buffer is replaced by one twice as
 * large only when it is full, so appends cost amortised O(contents) and allocate rarely.
 */
import { numel } from "../engine/tensor.js";
import type { CacheContents } from "./spike-cache.js";

export type CacheStorage = Int8Array | Float32Array;

export class PlannedCache implements CacheContents {
  private buffer: CacheStorage;
  private dims: number[] | undefined;

  /**
   * @param int8 int8 levels (else float32)
   * @param axis the sequence axis, counted from the right (-1 = last)
   * @param reserve positions to make room for at first
   */
  constructor(
    readonly int8: boolean,
    readonly axis: number,
    private readonly reserve = 64,
  ) {
    this.buffer = int8 ? new Int8Array(0) : new Float32Array(0);
  }

  /** Appends `src` (row-major, shape `shape`) along the sequence axis; returns the contents. */
  append(src: CacheStorage, shape: readonly number[]): CacheStorage {
    if (src instanceof Int8Array !== this.int8) throw new Error(`internal: a ${this.int8 ? "int8" : "float32"} cache cannot take ${src.constructor.name}`);
    const ax = shape.length + this.axis;
    const n = shape[ax]!;
    const old = this.dims;
    if (old && (old.length !== shape.length || shape.some((d, i) => i !== ax && d !== old[i])))
      throw new Error(`internal: cache of shape [${old.join(", ")}] cannot take [${shape.join(", ")}] along axis ${this.axis}`);
    const L = old ? old[ax]! : 0;
    const outer = numel(shape.slice(0, ax));
    const inner = numel(shape.slice(ax + 1));
    const needed = outer * (L + n) * inner;
    if (needed > this.buffer.length) {
      const positions = Math.max(L + n, 2 * L, this.reserve);
      const bigger = this.int8 ? new Int8Array(outer * positions * inner) : new Float32Array(outer * positions * inner);
      bigger.set(this.buffer.subarray(0, outer * L * inner) as never);
      this.buffer = bigger;
    }
    const oldBlock = L * inner;
    const newBlock = (L + n) * inner;
    const add = n * inner;
    for (let o = outer - 1; o >= 0; o--) {
      if (o > 0 && L > 0) this.buffer.copyWithin(o * newBlock, o * oldBlock, o * oldBlock + oldBlock);
      this.buffer.set(src.subarray(o * add, (o + 1) * add) as never, o * newBlock + oldBlock);
    }
    this.dims = shape.map((d, i) => (i === ax ? L + n : d));
    return this.contents();
  }

  /** Everything so far: a view of the front of the buffer (valid until the next append). */
  contents(): CacheStorage {
    return this.buffer.subarray(0, this.dims ? numel(this.dims) : 0);
  }

  /** The contents' shape (sequence axis = positions so far). */
  get shape(): readonly number[] {
    return this.dims ?? [];
  }

  get length(): number {
    return this.dims ? this.dims[this.dims.length + this.axis]! : 0;
  }

  arrays(): readonly CacheStorage[] {
    return this.dims ? [this.contents()] : [];
  }

  /** Bytes of cached contents (the room reserved for later positions is `reservedBytes`). */
  get bytes(): number {
    return this.contents().byteLength;
  }

  /** Bytes the buffer takes, room for later positions included. */
  get reservedBytes(): number {
    return this.buffer.byteLength;
  }

  get float32Bytes(): number {
    return this.dims ? numel(this.dims) * 4 : 0;
  }

  get storage(): "int8 levels" | "float32" | "empty" {
    return !this.dims ? "empty" : this.int8 ? "int8 levels" : "float32";
  }
}

/** The caches of one sequence on the optimized executor, and how many positions they hold. */
export interface PlannedSequence {
  offset: number;
  readonly caches: Map<number, PlannedCache>;
}
