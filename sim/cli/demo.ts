import path from 'node:path';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { generateClusterCerts, parsePositiveInt, parseProbability } from '@edgerelay/coordinator';
import { startSimCluster } from '../index.js';
import { projectRoot } from './paths.js';

const SAMPLES = [
  "it 's a charming and often affecting journey .",
  'unflinchingly bleak and desperate',
  'a gorgeous , witty , seductive movie .',
  "the acting , costumes , music , cinematography and sound are all astounding given the production 's austere locales .",
  'it is not a bad film , but it is not a good one either .',
  'a sometimes tedious film .',
  'there is a freedom to watching stunts that are this crude , this fast-paced and this insane .',
  'the story is bogus and its characters tissue-thin .',
];

interface Row {
  text: string;
  label: string;
  score: number;
  exitLayer: number;
  early: boolean;
  agents: string[];
  latencyMs: number;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a 3-agent simulated cluster on the bundled SST-2 model, classify sample sentences, shut down')
    .option('--model <dir>', 'model directory', path.join(projectRoot(), 'models', 'sst2-bert-6L-256H'))
    .option('--plan <file>', 'plan file', path.join(projectRoot(), 'sim', 'plans', 'demo-3-agents.json'))
    .option('--exit-threshold <p>', 'early-exit threshold', parseProbability, 0.9)
    .option('--threads <n>', 'ONNX Runtime threads per agent', parsePositiveInt, 1)
    .option(
      '--tls-dir <dir>',
      'mutual TLS on the control and data planes; certificates for agent-0..2 are created there when it has none',
    )
    .action(async (opts: { model: string; plan: string; exitThreshold: number; threads: number; tlsDir?: string }) => {
      const out = process.stdout;
      if (opts.tlsDir && !existsSync(path.join(opts.tlsDir, 'ca.pem'))) {
        generateClusterCerts({ outDir: opts.tlsDir, agents: ['agent-0', 'agent-1', 'agent-2'] });
        out.write(`created the demo cluster's certificates in ${opts.tlsDir}\n`);
      }
      out.write(
        `edgerelay demo: 3 agent processes on loopback serving ${path.relative(process.cwd(), opts.model) || opts.model}\n`,
      );
      const cluster = await startSimCluster({
        model: opts.model,
        agents: 3,
        planFile: opts.plan,
        exitThreshold: opts.exitThreshold,
        threads: opts.threads,
        tlsDir: opts.tlsDir,
      });
      try {
        for (const [i, s] of cluster.plan.stages.entries()) {
          const group = s.members.length
            ? `, heads and FFN columns split over ${s.members.map((m) => m.agentId).join(' + ')}`
            : '';
          out.write(`  stage ${i}: layers ${s.layerStart + 1}-${s.layerEnd} on ${s.host}${group}\n`);
        }
        if (opts.tlsDir) out.write('  control and data planes over mutual TLS (gRPC over TLS, wss)\n');
        out.write(`  early exit when an exit head is at least ${(opts.exitThreshold * 100).toFixed(0)}% sure\n\n`);
        const rows: Row[] = [];
        for (const text of SAMPLES) rows.push(await classify(cluster.url, text));
        out.write(
          `${'label'.padEnd(9)}${'score'.padStart(6)}  exit   ${'agents visited'.padEnd(32)}${'latency'.padStart(9)}  text\n`,
        );
        for (const r of rows) {
          const exit = `${r.exitLayer}${r.early ? '*' : ' '}`.padEnd(5);
          const text = r.text.length > 60 ? `${r.text.slice(0, 57)}...` : r.text;
          out.write(
            `${r.label.padEnd(9)}${r.score.toFixed(3).padStart(6)}  ${exit}  ${r.agents.join(' > ').padEnd(32)}${r.latencyMs.toFixed(1).padStart(7)}ms  ${text}\n`,
          );
        }
        const early = rows.filter((r) => r.early).length;
        out.write(`\n* answered by an early exit: ${early} of ${rows.length} requests never reached the last layers\n`);
      } finally {
        await cluster.stop();
      }
      out.write('cluster stopped\n');
    });
}

async function classify(url: string, text: string): Promise<Row> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: text, parameters: { details: true } }),
  });
  const latencyMs = performance.now() - started;
  if (!res.ok) throw new Error(`classify failed: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as {
    results: { label: string; score: number }[][];
    details: { exitLayer: number; early: boolean; agents: string[] }[];
  };
  const top = body.results[0]![0]!;
  const d = body.details[0]!;
  return {
    text,
    label: top.label,
    score: top.score,
    exitLayer: d.exitLayer,
    early: d.early,
    agents: d.agents,
    latencyMs,
  };
}
