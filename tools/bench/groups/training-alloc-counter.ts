/**
 * Counts typed-array storage created while `counting` is on, by wrapping what creates it on
 * globalThis: the typed-array constructors and ArrayBuffer/SharedArrayBuffer (`new X(n)`,
 * `new X(array)`, `X.from`, `X.of`), the copying methods of every typed array (`slice`,
 * `map`, `filter`) and of ArrayBuffer (`slice`), and WebAssembly memory growth. A view on an
 * existing buffer (`new Float32Array(buffer, offset, n)`, `subarray`) creates no storage and
 * is counted apart, in `views`. Each creation records the stack line that made it, so a
 * failing test says where.
 *
 * Not seen: storage Node creates for its own APIs (Buffer pools), which a training step
 * does not call.
 */
const KINDS = ["Float32Array", "Float64Array", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array", "ArrayBuffer", "SharedArrayBuffer"] as const;

export interface AllocCounter {
  counting: boolean;
  /** Storage creations while counting, each with the caller that made it. */
  readonly made: { kind: string; where: string }[];
  /** Views on existing storage created while counting. */
  views: number;
  /** Puts every wrapped constructor and method back. */
  restore(): void;
}

/** The first few frames outside this file: who made it. */
function caller(): string {
  const lines = (new Error().stack ?? "").split("\n").slice(1);
  return lines
    .filter((l) => !l.includes("training-alloc-counter"))
    .slice(0, 4)
    .map((l) => l.trim())
    .join(" < ");
}

export function countAllocations(): AllocCounter {
  const c: AllocCounter = { counting: false, made: [], views: 0, restore: () => undefined };
  const undo: (() => void)[] = [];
  const g = globalThis as unknown as Record<string, unknown>;
  const record = (kind: string) => {
    if (c.counting) c.made.push({ kind, where: caller() });
  };
  for (const name of KINDS) {
    const orig = g[name] as (new (...a: unknown[]) => unknown) & Record<string, unknown>;
    if (typeof orig !== "function") continue;
    g[name] = new Proxy(orig, {
      construct(target, args, newTarget) {
        if (c.counting) {
          const a = args[0];
          if (a instanceof (ArrayBufferOrig as never) || (typeof SharedArrayBufferOrig === "function" && a instanceof (SharedArrayBufferOrig as never))) c.views++;
          else record(`new ${name}`);
        }
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
      get(target, key, recv) {
        const v = Reflect.get(target, key, recv);
        if ((key === "from" || key === "of") && typeof v === "function")
          return function (this: unknown, ...args: unknown[]) {
            record(`${name}.${key}`);
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        return v;
      },
    });
    undo.push(() => (g[name] = orig));
  }
  const TypedProto = Object.getPrototypeOf(Int8Array.prototype) as Record<string, unknown>;
  const wrap = (proto: Record<string, unknown>, method: string, kind: string) => {
    const orig = proto[method] as (...a: unknown[]) => unknown;
    proto[method] = function (this: unknown, ...args: unknown[]) {
      record(kind);
      return orig.apply(this, args);
    };
    undo.push(() => (proto[method] = orig));
  };
  for (const m of ["slice", "map", "filter"]) wrap(TypedProto, m, `typed array .${m}`);
  wrap(ArrayBufferOrig.prototype as unknown as Record<string, unknown>, "slice", "ArrayBuffer .slice");
  const wasm = (globalThis as unknown as { WebAssembly: { Memory: { prototype: Record<string, unknown> } } }).WebAssembly;
  wrap(wasm.Memory.prototype, "grow", "WebAssembly memory .grow");
  const subarray = TypedProto.subarray as (...a: unknown[]) => unknown;
  TypedProto.subarray = function (this: unknown, ...args: unknown[]) {
    if (c.counting) c.views++;
    return subarray.apply(this, args);
  };
  undo.push(() => (TypedProto.subarray = subarray));
  c.restore = () => {
    for (const u of undo.reverse()) u();
  };
  return c;
}

const ArrayBufferOrig = ArrayBuffer;
const SharedArrayBufferOrig = typeof SharedArrayBuffer === "function" ? SharedArrayBuffer : undefined;
