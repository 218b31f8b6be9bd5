/**
 * Learning-rate schedules: linear warmup from 0 over `warmup` steps, then cosine or linear
 * decay to `minRatio * lr` at `steps` (or constant). Step numbers count optimizer updates
 * from 0; the rate of update `step` is `lrAt(step)`.
 */
export type ScheduleKind = "cosine" | "linear" | "constant";

export interface Schedule {
  readonly lr: number;
  readonly warmup: number;
  readonly steps: number;
  readonly kind: ScheduleKind;
  /** Final rate as a fraction of `lr` (default 0.1). */
  readonly minRatio?: number;
}

export function lrAt(s: Schedule, step: number): number {
  if (s.warmup > 0 && step < s.warmup) return (s.lr * (step + 1)) / (s.warmup + 1);
  if (s.kind === "constant") return s.lr;
  const min = s.lr * (s.minRatio ?? 0.1);
  const span = Math.max(1, s.steps - s.warmup);
  const p = Math.min(1, Math.max(0, (step - s.warmup) / span));
  const f = s.kind === "cosine" ? 0.5 * (1 + Math.cos(Math.PI * p)) : 1 - p;
  return min + (s.lr - min) * f;
}
