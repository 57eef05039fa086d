import type { Command } from 'commander';
import { DEFAULT_DAYS, generateClusterCerts } from '../security/certs.js';
import { parsePositiveInt } from './number-options.js';

const list = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function registerCerts(program: Command): void {
  program
    .command('certs')
    .description(
      "make the certificates for mutual TLS on the control plane: a cluster CA, the coordinator's and one per agent",
    )
    .requiredOption('--out <dir>', 'TLS directory to write (reused to add agents when it already holds a CA)')
    .option(
      '--coordinator-hosts <hosts>',
      'host names / IPs agents use to reach the coordinator, comma-separated (localhost, 127.0.0.1, ::1 are always in)',
      list,
    )
    .option('--agents <names>', 'agent names (their --name), comma-separated', list)
    .option('--days <n>', 'validity of the certificates issued now', parsePositiveInt, DEFAULT_DAYS)
    .option('--force', 'replace an existing CA (every certificate it issued stops working)')
    .action((opts: { out: string; coordinatorHosts?: string[]; agents?: string[]; days: number; force?: boolean }) => {
      const result = generateClusterCerts({
        outDir: opts.out,
        coordinatorHosts: opts.coordinatorHosts,
        agents: opts.agents,
        days: opts.days,
        force: opts.force,
      });
      const lines = [
        result.caReused ? `reused the CA in ${opts.out}` : `made a new cluster CA in ${opts.out}`,
        ...(result.coordinatorHosts ? [`coordinator certificate for ${result.coordinatorHosts.join(', ')}`] : []),
        ...(result.keptAgents.length ? [`kept the existing certificates of ${result.keptAgents.join(', ')}`] : []),
        `wrote ${result.written.join(' ')}`,
        'copy ca.pem, coordinator.pem, coordinator-key.pem to the coordinator (--tls-dir) and ca.pem, NAME.pem, NAME-key.pem to each agent (--tls-dir);',
        'ca-key.pem signs new certificates: keep it off the devices',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
