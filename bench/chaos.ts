import path from 'node:path';
import { projectRoot } from '../sim/cli/paths.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { startSimCluster } from '../sim/index.js';
import { runChaos } from '../sim/chaos.js';
import { referenceAnswers } from './models.js';
import { writePlanFile } from './plan-files.js';

/** 3-stage pipeline on the bundled model; one agent killed (or frozen) partway through the traffic. */
export async function benchChaos(args: {
  requests: number;
  concurrency: number;
  failure: 'kill' | 'freeze';
  json?: boolean;
}): Promise<void> {
  const model = path.join(projectRoot(), 'models', 'sst2-bert-6L-256H');
  const texts = readLabelledTsv(path.join(model, 'dev.tsv'))
    .map((e) => e.sentence)
    .slice(0, 100);
  const expected = await referenceAnswers(model, texts);
  const plan = writePlanFile({
    stages: [
      { layers: [0, 2], host: 'agent-0' },
      { layers: [2, 4], host: 'agent-1' },
      { layers: [4, 6], host: 'agent-2' },
    ],
  });
  const cluster = await startSimCluster({ model, agents: 3, planFile: plan });
  try {
    const report = await runChaos(cluster, {
      texts,
      requests: args.requests,
      concurrency: args.concurrency,
      failAfter: Math.floor(args.requests / 3),
      failure: args.failure,
      victim: 'agent-1',
      expected,
    });
    const doc = {
      requests: report.requests,
      answered: report.answered,
      failedRetryable: report.failedRetryable,
      lost: report.lost,
      recoveryMs: Math.round(report.recoveryMs),
      p99Ms: Math.round(report.p99Ms),
    };
    if (args.json) {
      process.stdout.write(JSON.stringify(doc) + '\n');
      return;
    }
    process.stdout.write(
      `chaos: ${args.requests} requests at concurrency ${args.concurrency}, 3-stage pipeline, the middle agent ${args.failure === 'kill' ? 'killed (SIGKILL)' : 'frozen (SIGSTOP)'} after ${Math.floor(args.requests / 3)}\n\n`,
    );
    process.stdout.write(`answered correctly   ${doc.answered}\n`);
    process.stdout.write(`answered degraded    ${report.degraded}\n`);
    process.stdout.write(`failed (retryable)   ${doc.failedRetryable}\n`);
    process.stdout.write(`lost                 ${doc.lost}\n`);
    process.stdout.write(`recovery             ${doc.recoveryMs} ms\n`);
    process.stdout.write(`p99 latency          ${doc.p99Ms} ms\n`);
  } finally {
    await cluster.stop();
  }
}
