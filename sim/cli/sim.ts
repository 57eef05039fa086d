import type { Command } from 'commander';
import type { FloatWireDtype } from '@edgerelay/proto';
import { deployProgressBar, parsePositiveInt, parseProbability, parseWireDtype } from '@edgerelay/coordinator';
import { startSimCluster } from '../index.js';

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('start a coordinator and N agent processes on loopback, and keep serving until Ctrl-C')
    .requiredOption('--model <dir>', 'Hugging Face model directory')
    .option('--agents <n>', 'agent processes to start', parsePositiveInt, 3)
    .option('--plan <file>', 'plan file (agents are named agent-0, agent-1, ...)')
    .option('--threads <n>', 'ONNX Runtime threads per agent', parsePositiveInt, 1)
    .option('--exit-threshold <p>', 'early-exit threshold (0: never exit early)', parseProbability, 0)
    .option('--wire-dtype <dtype>', 'float32, float16 or int8 hidden states between agents', parseWireDtype, 'float32')
    .option('--exit-policy <spec>', 'exit policy (max-prob=P, entropy=T, patience=N, dact[=S], none, calibrated)')
    .option(
      '--tls-dir <dir>',
      'mutual TLS on the control plane and the data plane (wss) with certificates from `edgerelay certs` (agents named agent-0, ...)',
    )
    .option(
      '--ode-steps <k>',
      'parameter-shared (ALBERT) models: apply the shared layer K times per request',
      parsePositiveInt,
    )
    .option('--log-level <level>', 'log level of the coordinator and agents', 'warn')
    .action(
      async (opts: {
        model: string;
        agents: number;
        plan?: string;
        threads: number;
        exitThreshold: number;
        exitPolicy?: string;
        tlsDir?: string;
        wireDtype: FloatWireDtype;
        logLevel: string;
        odeSteps?: number;
      }) => {
        const cluster = await startSimCluster({
          ...opts,
          planFile: opts.plan,
          progress: process.stderr.isTTY ? deployProgressBar() : undefined,
        });
        process.stdout.write(`simulated cluster of ${opts.agents} agents serving ${opts.model}\n`);
        for (const [i, s] of cluster.plan.stages.entries()) {
          const group = s.members.length ? ` with ${s.members.map((m) => m.agentId).join(', ')}` : '';
          process.stdout.write(`  stage ${i}: layers ${s.layerStart + 1}-${s.layerEnd} on ${s.host}${group}\n`);
        }
        process.stdout.write(`POST ${cluster.url}/v1/classify  {"inputs": "text"}\n`);
        const stop = () => void cluster.stop().finally(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      },
    );
}
