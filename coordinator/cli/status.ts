/** `edgerelay status`: ask a running coordinator for its cluster view (GET /v1/cluster) and print it. */
import type { Command } from 'commander';
import { EdgeRelayError } from '@edgerelay/proto';
import { CLUSTER_PATH } from '../api/index.js';
import type { ClusterView } from '../daemon/cluster-view.js';
import { textTable } from './table.js';

export class StatusError extends EdgeRelayError {
  constructor(
    override readonly code: 'EDGERELAY_STATUS_UNREACHABLE' | 'EDGERELAY_STATUS_REFUSED',
    message: string,
  ) {
    super(message);
  }
}

/** host:port, or a full http(s) URL, to the coordinator's base URL. */
export function coordinatorUrl(value: string): string {
  const base = /^https?:\/\//.test(value) ? value : `http://${value}`;
  try {
    return new URL(base).origin;
  } catch {
    throw new Error(`expected HOST:PORT or a URL, got "${value}"`);
  }
}

export async function fetchClusterView(base: string, apiKey?: string, timeoutMs = 10_000): Promise<ClusterView> {
  let res: Response;
  try {
    res = await fetch(`${base}${CLUSTER_PATH}`, {
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new StatusError(
      'EDGERELAY_STATUS_UNREACHABLE',
      `no coordinator answered at ${base} (${(err as Error).message}); check --coordinator (the HTTP port, not the gRPC one)`,
    );
  }
  if (res.status === 401)
    throw new StatusError('EDGERELAY_STATUS_REFUSED', `${base} needs the cluster's API key: pass --api-key`);
  if (!res.ok)
    throw new StatusError(
      'EDGERELAY_STATUS_REFUSED',
      `${base}${CLUSTER_PATH} answered ${res.status}: is this an edgerelay coordinator (0.1 or later)?`,
    );
  return (await res.json()) as ClusterView;
}

const ms = (v: number | null) => (v === null ? '-' : `${v.toFixed(1)} ms`);
const pct = (v: number) => `${(v * 100).toFixed(0)}%`;

export function formatClusterView(v: ClusterView): string {
  const lines = [
    `plan ${v.planVersion ?? 'none'} · exit policy ${v.exitPolicy} · wire ${v.wireDtype} · ${v.model.id} (${v.model.numLayers} layers, ${v.model.numHeads} heads)`,
    '',
    textTable(
      [
        ['agent', 'state', 'device', 'load', 'free memory', 'last heartbeat', 'holds'],
        ...v.agents.map((a) => [
          a.id,
          a.state,
          a.device.cores ? `${a.device.cores} cores, ${a.device.gflops.toFixed(1)} GFLOP/s` : '-',
          a.loadAverage.toFixed(2),
          `${a.memoryFreeMB} MB`,
          a.lastSeenMsAgo === null ? 'gone' : `${a.lastSeenMsAgo} ms ago`,
          a.roles.join('; ') || '-',
        ]),
      ],
      ['left', 'left', 'left', 'right', 'right', 'right', 'left'],
    ),
    '',
    textTable(
      [
        ['stage', 'layers', 'host', 'group shares', 'median compute'],
        ...v.stages.map((s) => [
          String(s.index),
          `${s.layers[0]}-${s.layers[1] - 1}`,
          s.host,
          s.members.map((m) => `${m.agent} ${m.heads.length}h/${m.ffnColumns}c`).join(', ') || 'whole layers',
          ms(v.recent.stageMedianMs[s.index] ?? null),
        ]),
      ],
      ['right', 'left', 'left', 'left', 'right'],
    ),
    '',
    `recent ${v.recent.requests} requests: p50 ${ms(v.recent.p50Ms)}, p95 ${ms(v.recent.p95Ms)}, early exits ${
      v.recent.earlyExitShare === null ? '-' : pct(v.recent.earlyExitShare)
    }${
      Object.keys(v.recent.exitLayers).length
        ? ` · answered at layer ${Object.entries(v.recent.exitLayers)
            .map(([layer, share]) => `${layer}: ${pct(share)}`)
            .join(', ')}`
        : ''
    }`,
  ];
  if (v.links.length) {
    lines.push(
      '',
      textTable(
        [
          ['link', 'bandwidth', 'latency'],
          ...v.links.map((l) => [`${l.from} → ${l.to}`, `${l.bandwidthMbps.toFixed(0)} Mbit/s`, ms(l.latencyMs)]),
        ],
        ['left', 'right', 'right'],
      ),
    );
  }
  return lines.join('\n');
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("a running cluster's agents, stages, health, recent latency and exit rates")
    .requiredOption('--coordinator <host:port>', "the coordinator's HTTP address (or URL)", coordinatorUrl)
    .option('--api-key <key>', 'the API key, when the coordinator was started with one')
    .option('--json', 'print the cluster view as one JSON document')
    .action(async (opts: { coordinator: string; apiKey?: string; json?: boolean }) => {
      const view = await fetchClusterView(opts.coordinator, opts.apiKey ?? process.env.EDGERELAY_API_KEY);
      process.stdout.write(opts.json ? `${JSON.stringify(view, null, 2)}\n` : `${formatClusterView(view)}\n`);
    });
}
