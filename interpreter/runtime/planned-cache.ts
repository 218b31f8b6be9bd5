/**
 * The key/value caches of incremental decoding on the optimized executor: one per
 * `cache_concat` node (passes/incremental.ts), holding exactly what the executor's buffer for
 * that node holds: int8 spike levels when the spike-accumulate pass made the chain int8
 * (engine/levels.ts: a level per byte, NaN as NAN_LEVEL), float32 otherwise.
 *
 * Layout: a tensor [...outer, L, ...inner] (L the positions so far) is kept as `outer` blocks
 * of `room` positions each ([...outer, room, ...inner], room >= L): a new position is written
 * in place after the last one of every block, so an append moves only the new positions
 * (a decoding step of decoder-base: 12 heads x 4 steps x 64 levels per cache, not the 3 MB
 * the cache holds at 1024 positions). The room grows in blocks of positions (at least doubling,
 * up to the sequence's limit: the model's context), re-laying out the contents once per growth.
 *
 * int8 levels live in the WebAssembly kernel module's memory when it is ready, where the
 * decoding attention (optimized/decode-attention.ts `rowsTimesCache`) reads them in place, with
 * `stride` elements between batch matrices; they are never copied per step. The cache also
 * knows whether it holds a NAN_LEVEL (checked on the new positions only), so the attention
 * need not search the whole cache for one. Readers that want the plain row-major tensor take
 * `contents()`, a packed copy when the blocks have room left (made on demand, once per append,
 * and dropped at the next one: a prompt's products read it, decoding steps never make it).
 */
import { NAN_LEVEL } from "../engine/levels.js";
import { numel } from "../engine/tensor.js";
import { wasmAccess, type WasmAccess } from "../engine/kernels/wasm-backend.js";
import type { CacheContents } from "./spike-cache.js";

export type CacheStorage = Int8Array | Float32Array;

export interface PlannedCacheOptions {
  /** Positions each block makes room for at first (default: the first append's, rounded up to `block`). */
  readonly reserve?: number;
  /** Positions the sequence can reach (the model's context): the room grows no further while that is enough. */
  readonly limit?: number;
  /** The room is a multiple of this many positions (default 64). */
  readonly block?: number;
  /** Where int8 levels live: "auto" (the WebAssembly module's memory when it is ready) or "js". */
  readonly memory?: "auto" | "js";
}

/** Storage in the kernel module's memory, freed when its cache is released or collected. */
interface WasmRegion {
  off: number;
  bytes: number;
}

const collected = new FinalizationRegistry<WasmRegion>((r) => {
  if (r.off >= 0) wasmAccess()?.free(r.off);
});

export class PlannedCache implements CacheContents {
  private dims: number[] | undefined;
  /** Positions each outer block has room for. */
  private room = 0;
  private outer = 1;
  private inner = 1;
  /** JS storage (float32 caches, or int8 when the WebAssembly module is not ready). */
  private buffer: CacheStorage | undefined;
  /** int8 storage in the WebAssembly module's memory. */
  private readonly wasm: WasmRegion = { off: -1, bytes: 0 };
  private nan = false;
  /** contents() packed, valid while `packedFor` is the number of positions. */
  private packed: CacheStorage | undefined;
  private packedFor = -1;
  private readonly options: PlannedCacheOptions;

  /**
   * @param int8 int8 levels (else float32)
   * @param axis the sequence axis, counted from the right (-1 = last)
   */
  constructor(
    readonly int8: boolean,
    readonly axis: number,
    options: PlannedCacheOptions = {},
  ) {
    this.options = options;
  }

  /** Appends `src` (row-major, shape `shape`) along the sequence axis. */
  append(src: CacheStorage, shape: readonly number[]): void {
    if (src instanceof Int8Array !== this.int8) throw new Error(`internal: a ${this.int8 ? "int8" : "float32"} cache cannot take ${src.constructor.name}`);
    const ax = shape.length + this.axis;
    const n = shape[ax]!;
    const old = this.dims;
    if (old && (old.length !== shape.length || shape.some((d, i) => i !== ax && d !== old[i])))
      throw new Error(`internal: cache of shape [${old.join(", ")}] cannot take [${shape.join(", ")}] along axis ${this.axis}`);
    if (!old) {
      this.outer = numel(shape.slice(0, ax));
      this.inner = numel(shape.slice(ax + 1));
    }
    const L = old ? old[ax]! : 0;
    if (L + n > this.room) this.grow(L, L + n);
    const data = this.region();
    const stride = this.room * this.inner;
    const add = n * this.inner;
    for (let o = 0; o < this.outer; o++) data.set(src.subarray(o * add, (o + 1) * add) as never, o * stride + L * this.inner);
    if (this.int8 && !this.nan) this.nan = (src as Int8Array).indexOf(NAN_LEVEL) >= 0;
    this.dims = shape.map((d, i) => (i === ax ? L + n : d));
    // A packed copy is made for the run that appended (a prompt's products); not kept beyond it.
    this.packed = undefined;
    this.packedFor = -1;
  }

  /** Makes room for `needed` positions per block, keeping the first `L`. */
  private grow(L: number, needed: number): void {
    const block = Math.max(1, this.options.block ?? 64);
    const limit = this.options.limit;
    let room = Math.ceil(Math.max(needed, 2 * this.room, this.options.reserve ?? 0) / block) * block;
    if (limit !== undefined && needed <= limit) room = Math.min(room, limit);
    const size = this.outer * room * this.inner;
    const w = this.int8 && (this.options.memory ?? "auto") === "auto" ? wasmAccess() : null;
    let fresh: CacheStorage;
    let region: WasmRegion | undefined;
    if (w) {
      region = { off: w.alloc(Math.max(1, size)), bytes: size };
      fresh = new Int8Array(w.views.i8.buffer, region.off, size);
    } else fresh = this.int8 ? new Int8Array(size) : new Float32Array(size);
    // (views of the old storage taken after the allocation, which may have grown the memory)
    const before = this.dims ? this.region() : undefined;
    const oldStride = this.room * this.inner;
    if (before) for (let o = 0; o < this.outer; o++) fresh.set(before.subarray(o * oldStride, o * oldStride + L * this.inner) as never, o * room * this.inner);
    this.release();
    this.room = room;
    if (region && w) {
      this.wasm.off = region.off;
      this.wasm.bytes = region.bytes;
      collected.register(this, this.wasm, this.wasm);
    } else this.buffer = fresh;
  }

  /** The whole storage, room included ([...outer, room, ...inner]): a fresh view, valid until the next append. */
  region(): CacheStorage {
    if (this.wasm.off >= 0) return new Int8Array(wasmAccess()!.views.i8.buffer, this.wasm.off, this.wasm.bytes);
    return this.buffer ?? (this.int8 ? new Int8Array(0) : new Float32Array(0));
  }

  /** Byte offset of the storage in the WebAssembly module's memory (undefined: JS storage). */
  wasmOffset(w: WasmAccess): number | undefined {
    return this.wasm.off >= 0 && wasmAccess() === w ? this.wasm.off : undefined;
  }

  /** Elements from one outer block (batch matrix) of `region()` to the next. */
  get stride(): number {
    return this.room * this.inner;
  }

  /** Whether some cached level is NAN_LEVEL (int8 caches). */
  get hasNanLevel(): boolean {
    return this.nan;
  }

  /** Frees the storage (the cache is empty afterwards). */
  release(): void {
    if (this.wasm.off >= 0) {
      collected.unregister(this.wasm);
      wasmAccess()?.free(this.wasm.off);
      this.wasm.off = -1;
      this.wasm.bytes = 0;
    }
    this.buffer = undefined;
    this.packed = undefined;
    this.packedFor = -1;
  }

  /** Everything so far, row-major [...outer, L, ...inner]: in place when the blocks are full, else a packed copy (valid until the next append). */
  contents(): CacheStorage {
    if (!this.dims) return this.int8 ? new Int8Array(0) : new Float32Array(0);
    const L = this.length;
    const data = this.region();
    if (this.outer === 1 || L === this.room) return data.subarray(0, numel(this.dims));
    if (this.packedFor !== L) {
      const size = this.outer * L * this.inner;
      this.packed = this.int8 ? new Int8Array(size) : new Float32Array(size);
      for (let o = 0; o < this.outer; o++) this.packed.set(data.subarray(o * this.stride, o * this.stride + L * this.inner) as never, o * L * this.inner);
      this.packedFor = L;
    }
    return this.packed!.subarray(0, this.outer * L * this.inner);
  }

  /** The contents' shape (sequence axis = positions so far). */
  get shape(): readonly number[] {
    return this.dims ?? [];
  }

  get length(): number {
    return this.dims ? this.dims[this.dims.length + this.axis]! : 0;
  }

  /** The stored contents themselves: one view per outer block, of its positions so far. */
  arrays(): readonly CacheStorage[] {
    if (!this.dims) return [];
    const data = this.region();
    const used = this.length * this.inner;
    return Array.from({ length: this.outer }, (_, o) => data.subarray(o * this.stride, o * this.stride + used));
  }

  /** Bytes of cached contents (the room reserved for later positions is `reservedBytes`). */
  get bytes(): number {
    return this.dims ? numel(this.dims) * (this.int8 ? 1 : 4) : 0;
  }

  /** Bytes the storage takes, room for later positions included. */
  get reservedBytes(): number {
    return this.outer * this.room * this.inner * (this.int8 ? 1 : 4) * (this.dims ? 1 : 0);
  }

  get float32Bytes(): number {
    return this.dims ? numel(this.dims) * 4 : 0;
  }

  get storage(): "int8 levels" | "float32" | "empty" {
    return !this.dims ? "empty" : this.int8 ? "int8 levels" : "float32";
  }
}

/**
 * The caches of one sequence on the optimized executor, how many positions they hold, and
 * how far the sequence can grow (`limit`, the model's context: the caches reserve room up to
 * it in blocks of `block` positions, never more).
 */
export interface PlannedSequence {
  offset: number;
  readonly caches: Map<number, PlannedCache>;
  readonly limit?: number;
  /** Positions the caches' room grows by (PlannedCacheOptions.block). */
  readonly block?: number;
}
