/**
 * Progress bars for long work, on stderr (cli-progress draws only on a terminal, so piped
 * output and tests stay clean). `progressBar(label)` returns an `onProgress(done, total)`
 * callback that starts, advances and stops one bar.
 */
import cliProgress from "cli-progress";

export function progressBar(label: string): (done: number, total: number) => void {
  let bar: cliProgress.SingleBar | undefined;
  return (done, total) => {
    if (!bar) {
      bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total} ops | {duration}s`, stream: process.stderr, clearOnComplete: true, hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(total, 0);
    }
    bar.update(done);
    if (done >= total) bar.stop();
  };
}
