/**
 * A JSON serializer for tensor files.
 *
 * Differs from JSON.stringify where tensors need it:
 * - `-0` is written as `-0` (JSON.stringify writes `0`, losing the sign bit);
 * - NaN and ±Infinity, which JSON cannot carry, are written as the strings
 *   "NaN", "Infinity", "-Infinity" (the convention the tensor reader accepts);
 * - arrays of scalars stay on one line, objects are indented;
 * - Maps are written as objects and typed arrays as arrays of numbers;
 * - object keys are written in insertion order even when they look like integers.
 */

function formatNumber(x: number): string {
  if (Number.isNaN(x)) return '"NaN"';
  if (x === Infinity) return '"Infinity"';
  if (x === -Infinity) return '"-Infinity"';
  if (Object.is(x, -0)) return "-0";
  return String(x);
}

function isScalar(v: unknown): boolean {
  return v === null || (typeof v !== "object" && typeof v !== "function");
}

function scalarText(v: unknown): string | undefined {
  switch (typeof v) {
    case "number":
      return formatNumber(v);
    case "bigint":
      return v.toString();
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    default:
      return v === null ? "null" : undefined;
  }
}

function entriesOf(v: object): [string, unknown][] {
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [String(k), x]);
  return Object.entries(v);
}

function write(v: unknown, indent: string, depth: number, out: string[], seen: Set<object>): boolean {
  if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function") {
    v = (v as { toJSON: () => unknown }).toJSON();
  }
  const s = scalarText(v);
  if (s !== undefined) {
    out.push(s);
    return true;
  }
  if (v === null || typeof v !== "object") return false;
  if (seen.has(v)) throw new TypeError("cannot write a cyclic structure as JSON");
  seen.add(v);
  const pad = indent.repeat(depth + 1);
  const closePad = indent.repeat(depth);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const arr = v as unknown as ArrayLike<number | bigint>;
    const parts = new Array<string>(arr.length);
    for (let i = 0; i < arr.length; i++) parts[i] = scalarText(arr[i]) ?? "null";
    out.push(`[${parts.join(", ")}]`);
  } else if (Array.isArray(v)) {
    if (v.every(isScalar)) {
      out.push(`[${v.map((x) => scalarText(x) ?? "null").join(", ")}]`);
    } else {
      out.push("[\n");
      v.forEach((x, i) => {
        out.push(pad);
        if (!write(x, indent, depth + 1, out, seen)) out.push("null");
        out.push(i + 1 < v.length ? ",\n" : "\n");
      });
      out.push(`${closePad}]`);
    }
  } else {
    const entries = entriesOf(v);
    const parts: string[] = [];
    for (const [k, x] of entries) {
      const sub: string[] = [];
      if (write(x, indent, depth + 1, sub, seen)) parts.push(`${pad}${JSON.stringify(k)}: ${sub.join("")}`);
    }
    out.push(parts.length === 0 ? "{}" : `{\n${parts.join(",\n")}\n${closePad}}`);
  }
  seen.delete(v);
  return true;
}

/** Serialises `value` as JSON text (see the module comment for how it differs from JSON.stringify). */
export function stringifyJson(value: unknown, indent = "  "): string {
  const out: string[] = [];
  if (!write(value, indent, 0, out, new Set())) return "null";
  return out.join("");
}
