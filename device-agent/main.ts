#!/usr/bin/env node
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import pino from 'pino';
import { DeviceAgent } from './agent.js';
import { parseEmulatedLink } from './emulation.js';
import { loadAgentCredentials, loadAgentDataPlaneTls } from './security/tls-files.js';
import { CLUSTER_TOKEN, flagExposureWarning, resolveSecret } from './security/secret-options.js';

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
};

const program = new Command('edgerelay-agent')
  .description('edgerelay device agent: runs its share of the model for the coordinator')
  .requiredOption('--coordinator <host:port>', 'the coordinator control-plane (gRPC) address')
  .requiredOption('--name <name>', "this agent's unique name in the cluster")
  .option('--listen <port>', 'data-plane (WebSocket) port; 0 picks a free one', positiveInt, 0)
  .option('--listen-host <host>', 'interface for the data plane', '0.0.0.0')
  .option(
    '--advertise-host <host>',
    "address peers use to reach this agent (default: 127.0.0.1 when the coordinator is on loopback, else this host's first IPv4)",
  )
  .option('--threads <n>', 'ONNX Runtime threads per shard (0: all cores)', positiveInt, 1)
  .option('--data-dir <dir>', 'where shards are cached', path.join(os.homedir(), '.edgerelay-agent'))
  .option(
    '--cluster-token <token>',
    'shared secret of the cluster; proven by challenge-response, never sent (visible in ps: prefer --cluster-token-file or EDGERELAY_CLUSTER_TOKEN)',
  )
  .option('--cluster-token-file <file>', 'read the cluster token from this file (one trailing newline is ignored)')
  .option(
    '--tls-dir <dir>',
    'mutual TLS on the control plane and the data plane (wss) with ca.pem, NAME.pem, NAME-key.pem from `edgerelay certs`',
  )
  .option(
    '--emulate-gflops <gflops>',
    'simulation: behave like a device of this GFLOP/s (compute is stretched)',
    Number,
  )
  .option('--emulate-memory-mb <mb>', 'simulation: report this much memory', Number)
  .option(
    '--emulate-reference-gflops <gflops>',
    "simulation: this machine's GFLOP/s per CPU-second, fixed (default: tracked by the agent)",
    Number,
  )
  .option(
    '--emulate-calibration-dir <dir>',
    'simulation: a folder the emulated agents of this machine pool their measurements of it in',
  )
  .option(
    '--emulate-reference-seed-gflops <gflops>',
    "simulation: the fastest GFLOP/s per CPU-second the launcher saw here; the agent's tracking starts there",
    Number,
  )
  .option(
    '--emulate-link <link>',
    'simulation: hold outgoing frames as this link would (gigabit, wifi, or <Mbit/s>:<latency ms>)',
  )
  .option('--log-level <level>', 'pino log level', process.env.EDGERELAY_LOG_LEVEL ?? 'info')
  .option(
    '--seq-chunk-rows <n>',
    'sequence-parallel groups: rows per transfer at most (env EDGERELAY_SEQ_CHUNK_ROWS; default 64)',
    positiveInt,
  )
  .option(
    '--seq-overlap-min-rows <n>',
    'sequence-parallel groups: compute the FFN on rows as they arrive when every member owns this many (env EDGERELAY_SEQ_OVERLAP_MIN_ROWS; default 64)',
    positiveInt,
  )
  .option(
    '--exit-on-stdin-close',
    'stop when stdin closes: a launcher (sim/) holds the other end, so the agent dies with it even after kill -9',
  )
  .action(
    async (opts: {
      coordinator: string;
      name: string;
      listen: number;
      listenHost: string;
      advertiseHost?: string;
      threads: number;
      dataDir: string;
      logLevel: string;
      clusterToken?: string;
      clusterTokenFile?: string;
      tlsDir?: string;
      emulateGflops?: number;
      emulateMemoryMb?: number;
      emulateLink?: string;
      emulateReferenceGflops?: number;
      emulateReferenceSeedGflops?: number;
      emulateCalibrationDir?: string;
      exitOnStdinClose?: boolean;
      seqChunkRows?: number;
      seqOverlapMinRows?: number;
    }) => {
      const logger = pino({ name: `agent:${opts.name}`, level: opts.logLevel }, pino.destination(2));
      const token = resolveSecret(CLUSTER_TOKEN, { flagValue: opts.clusterToken, file: opts.clusterTokenFile });
      if (token?.source === 'flag') logger.warn(flagExposureWarning(CLUSTER_TOKEN));
      const agent = new DeviceAgent({
        coordinator: opts.coordinator,
        name: opts.name,
        listenPort: opts.listen,
        listenHost: opts.listenHost,
        advertiseHost: opts.advertiseHost ?? defaultAdvertiseHost(opts.coordinator),
        threads: opts.threads,
        dataDir: path.join(opts.dataDir, opts.name),
        seqChunkRows: opts.seqChunkRows ?? envInt('EDGERELAY_SEQ_CHUNK_ROWS'),
        seqOverlapMinRows: opts.seqOverlapMinRows ?? envInt('EDGERELAY_SEQ_OVERLAP_MIN_ROWS'),
        logger,
        clusterToken: token?.value,
        grpcCredentials: opts.tlsDir ? loadAgentCredentials(opts.tlsDir, opts.name) : undefined,
        dataPlaneTls: opts.tlsDir ? loadAgentDataPlaneTls(opts.tlsDir, opts.name) : undefined,
        ...(opts.emulateGflops && {
          emulate: {
            gflops: opts.emulateGflops,
            ...(opts.emulateMemoryMb && { memoryBytes: opts.emulateMemoryMb * 1024 * 1024 }),
            ...(opts.emulateLink && { link: parseEmulatedLink(opts.emulateLink) }),
            ...(opts.emulateReferenceGflops && { referenceGflops: opts.emulateReferenceGflops }),
            ...(opts.emulateReferenceSeedGflops && { referenceSeedGflops: opts.emulateReferenceSeedGflops }),
            ...(opts.emulateCalibrationDir && { calibrationDir: opts.emulateCalibrationDir }),
          },
        }),
      });
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'draining, then stopping');
        agent.drain().finally(() => process.exit(0));
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
      if (opts.exitOnStdinClose)
        exitWhenStdinCloses(() => {
          // The launcher died (its coordinator with it, in sim/): nothing to drain towards; stop now.
          logger.warn('launcher went away (stdin closed); stopping');
          setTimeout(() => process.exit(1), 2000).unref();
          agent.stop().finally(() => process.exit(0));
        });
      await agent.start();
      // Machine-readable line for launchers (sim/) that need the data port.
      process.stdout.write(`edgerelay-agent ${opts.name} ready data-port=${agent.dataPort}\n`);
    },
  );

/**
 * The kernel closes a pipe's write end when its holder dies, however it dies, so EOF on stdin is a
 * portable "parent is gone" signal (unlike prctl). An EOF that arrives before we listen is kept by the stream.
 */
function exitWhenStdinCloses(onGone: () => void): void {
  let gone = false;
  const once = () => {
    if (gone) return;
    gone = true;
    onGone();
  };
  process.stdin.on('end', once);
  process.stdin.on('close', once);
  process.stdin.on('error', once);
  process.stdin.on('data', () => undefined); // the launcher sends nothing; reading is only for the EOF
  process.stdin.resume();
}

/** A positive integer from the environment, or undefined (unset or not one). */
function envInt(name: string): number | undefined {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function defaultAdvertiseHost(coordinator: string): string {
  const host = coordinator.replace(/:\d+$/, '');
  if (['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) return '127.0.0.1';
  for (const addrs of Object.values(os.networkInterfaces())) {
    const v4 = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  return '127.0.0.1';
}

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`edgerelay-agent: ${err.message}\n`);
  process.exit(1);
});
