/** Plain-text tables for the terminal: right-aligned numbers, left-aligned text. */

export function renderTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? formatCell(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  const numeric = header.map((_, i) => rows.every((r) => typeof r[i] === "number"));
  const line = (r: readonly (string | number)[]) =>
    r.map((c, i) => (numeric[i] ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

/** A number as the terminal tables print it (the playground prints rates the same way). */
export function formatCell(x: number): string {
  if (Number.isInteger(x)) return String(x);
  if (Math.abs(x) >= 1000 || (Math.abs(x) < 1e-3 && x !== 0)) return x.toExponential(3);
  return x.toFixed(4);
}
