/**
 * Reusable scratch buffers for kernels, so that repeated calls with the same (or smaller)
 * shapes do not allocate.
 *
 * A pool hands out typed arrays by *slot name*: asking for slot "lists" again returns the
 * same storage (grown geometrically when a larger size is requested). A slot's contents
 * are only valid until the next request for that slot, so a kernel must not hold a slot
 * across calls, and two live buffers in one call need two slot names.
 *
 * `stats.bytesAllocated` counts every byte of backing storage this pool has created
 * (including WebAssembly memory growth reported through `noteAllocation`), so a benchmark
 * can report "bytes allocated per call" as the delta across calls.
 */

export interface PoolStats {
  /** Total bytes of backing storage ever allocated through this pool. */
  bytesAllocated: number;
  /** Number of allocations (growths) performed. */
  allocations: number;
}

type Ctor<T> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

export class BufferPool {
  readonly stats: PoolStats = { bytesAllocated: 0, allocations: 0 };
  private readonly slots = new Map<string, ArrayBuffer>();

  private get<T>(ctor: Ctor<T>, slot: string, length: number): T {
    const bytes = length * ctor.BYTES_PER_ELEMENT;
    let buf = this.slots.get(slot);
    if (!buf || buf.byteLength < bytes) {
      // grow geometrically (x1.5) so slowly increasing sizes do not reallocate every call
      const cap = Math.max(bytes, buf ? Math.ceil((buf.byteLength * 1.5) / 8) * 8 : 0, 64);
      buf = new ArrayBuffer(cap);
      this.slots.set(slot, buf);
      this.noteAllocation(cap);
    }
    return new ctor(buf, 0, length);
  }

  f32(slot: string, length: number): Float32Array {
    return this.get(Float32Array, slot, length);
  }

  i32(slot: string, length: number): Int32Array {
    return this.get(Int32Array, slot, length);
  }

  i8(slot: string, length: number): Int8Array {
    return this.get(Int8Array, slot, length);
  }

  /** Record storage allocated on this pool's behalf outside `f32/i32/i8` (e.g. wasm memory growth). */
  noteAllocation(bytes: number): void {
    this.stats.bytesAllocated += bytes;
    this.stats.allocations += 1;
  }

  /** Bytes currently retained by the pool's slots. */
  retainedBytes(): number {
    let n = 0;
    for (const b of this.slots.values()) n += b.byteLength;
    return n;
  }

  /** Drop all slots (the storage becomes garbage). */
  clear(): void {
    this.slots.clear();
  }
}

/** The process-wide default pool used when a kernel call passes none. */
export const defaultPool = new BufferPool();
