import { SingleBar, Presets } from 'cli-progress';
import type { DeployProgress } from '../deploy/deployer.js';

/** The deploy progress bar on stderr: agents that have loaded their shards, and the bytes to send. */
export function deployProgressBar(): DeployProgress {
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: 'deploy [{bar}] {value}/{total} agents ready | {mb} MB of shards to send',
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  return {
    start: (totalBytes, agents) => bar.start(agents, 0, { mb: (totalBytes / 1e6).toFixed(1) }),
    agentReady: () => bar.increment(),
    stop: () => bar.stop(),
  };
}

/** A progress bar on stderr that appears with the first report: `onProgress(done, total)`, then `stop()`. */
export function examplesProgressBar(label: string): {
  onProgress: (done: number, total: number) => void;
  stop: () => void;
} {
  const bar = new SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {value}/{total} examples` },
    Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (done, total) => {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
