/**
 * Progress bars for long work, on stderr (cli-progress draws only on a terminal, so piped
 * output and tests stay clean). `progressBar(label)` returns an `onProgress(done, total)`
 * callback that starts, advances and stops one bar.
 */
import cliProgress from "cli-progress";

export function progressBar(label: string, unit = "ops"): (done: number, total: number) => void {
  let bar: cliProgress.SingleBar | undefined;
  return (done, total) => {
    if (!bar) {
      bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {duration}s`, stream: process.stderr, clearOnComplete: true, hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(total, 0);
    }
    bar.update(done);
    if (done >= total) bar.stop();
  };
}

/**
 * The training bar: step, loss, tokens/s and ETA, on stderr (terminal only). `update` is
 * called once per optimizer step; `stop` ends it.
 */
export function trainingBar(total: number, start = 0): { update(step: number, loss: number, tokensPerS: number): void; stop(): void } {
  const bar = new cliProgress.SingleBar(
    { format: "train [{bar}] step {value}/{total} | loss {loss} | {tps} tok/s | ETA {eta_formatted}", stream: process.stderr, hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, start, { loss: "-", tps: "-" });
  return {
    update: (step, loss, tps) => bar.update(step, { loss: loss.toFixed(4), tps: Math.round(tps) }),
    stop: () => bar.stop(),
  };
}
