import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { Coordinator } from '../coordinator/daemon/coordinator.js';
import { makeTinyModel, type TinyModel } from './helpers/tiny-model.js';

const run = promisify(execFile);
const MB = 1024 * 1024;
/** Packages only a developer needs: none of them may reach a Pi. */
const DEV_ONLY = [
  'typescript',
  'tsx',
  'mocha',
  'eslint',
  'prettier',
  'onnx-proto',
  'node-forge',
  'cli-progress',
  'cli-table3',
];

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += dirBytes(p);
    else if (entry.isFile()) total += statSync(p).size;
  }
  return total;
}

/** Installed packages by name (scoped ones as @scope/name), with their dependencies. */
function installedPackages(nodeModules: string): Map<string, { dir: string; deps: string[] }> {
  const packages = new Map<string, { dir: string; deps: string[] }>();
  const add = (name: string, dir: string) => {
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    packages.set(name, { dir, deps: Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies }) });
  };
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(path.join(nodeModules, entry)))
        add(`${entry}/${sub}`, path.join(nodeModules, entry, sub));
    } else add(entry, path.join(nodeModules, entry));
  }
  return packages;
}

/** Bytes of what the agent needs besides onnxruntime-node: everything reachable without passing through it. */
function bytesBesidesOnnxRuntime(nodeModules: string): number {
  const packages = installedPackages(nodeModules);
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || name === 'onnxruntime-node' || !packages.has(name)) return;
    seen.add(name);
    for (const dep of packages.get(name)!.deps) visit(dep);
  };
  visit('@edgerelay/device-agent');
  return [...seen].reduce((sum, name) => sum + dirBytes(packages.get(name)!.dir), 0);
}

describe('the device agent as a Raspberry Pi installs it (npm pack, npm install --omit=dev)', function () {
  this.timeout(300_000);
  let work: string;
  let nodeModules: string;
  let model: TinyModel;

  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'edgerelay-pi-'));
    const packed = path.join(work, 'packed');
    mkdirSync(packed);
    // npm pack builds each package (prepack) and keeps only what its "files" name.
    await run('npm', ['pack', '-w', 'proto', '-w', 'device-agent', '--pack-destination', packed], {
      cwd: process.cwd(),
    });
    const tarballs = readdirSync(packed).map((f) => path.join(packed, f));
    assert.equal(tarballs.length, 2, readdirSync(packed).join(', '));
    const pi = path.join(work, 'pi');
    mkdirSync(pi);
    // As on a Pi: production dependencies only; onnxruntime-node's CPU binaries ship in its package.
    await run(
      'npm',
      [
        'install',
        '--omit=dev',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--onnxruntime-node-install=skip',
        ...tarballs,
      ],
      { cwd: pi },
    );
    nodeModules = path.join(pi, 'node_modules');
    model = await makeTinyModel({ layers: 2 });
  });

  after(() => {
    model?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('installs only what the daemon runs: no compiler, test runner, linter or coordinator-only library', () => {
    const installed = installedPackages(nodeModules);
    assert.ok(installed.has('@edgerelay/device-agent') && installed.has('@edgerelay/proto'));
    assert.ok(!installed.has('@edgerelay/coordinator') && !installed.has('@edgerelay/sim'));
    assert.deepEqual(
      DEV_ONLY.filter((name) => installed.has(name)),
      [],
    );
    // Compiled JavaScript only: no TypeScript sources of edgerelay reach the device.
    const agentFiles = readdirSync(path.join(nodeModules, '@edgerelay', 'device-agent'), {
      recursive: true,
    }) as string[];
    assert.deepEqual(
      agentFiles.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
      [],
    );
    assert.ok(existsSync(path.join(nodeModules, '@edgerelay', 'device-agent', 'assets', 'matmul.onnx')));
    assert.ok(existsSync(path.join(nodeModules, '@edgerelay', 'device-agent', 'systemd', 'edgerelay-agent.service')));
    const besides = bytesBesidesOnnxRuntime(nodeModules) / MB;
    process.stdout.write(
      `      agent install: ${(dirBytes(nodeModules) / MB).toFixed(1)} MB in all, ${besides.toFixed(1)} MB besides onnxruntime-node and what only it pulls in\n`,
    );
    assert.ok(besides < 30, `${besides.toFixed(1)} MB besides onnxruntime-node`);
  });

  it('accepts every flag the systemd unit passes, with the values of the example environment file', async () => {
    const unit = readFileSync(path.join('device-agent', 'systemd', 'edgerelay-agent.service'), 'utf8');
    const env = Object.fromEntries(
      readFileSync(path.join('device-agent', 'systemd', 'agent.env.example'), 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => l.split('=', 2) as [string, string]),
    );
    const execStart = /^ExecStart=(.*(?:\\\n.*)*)/m.exec(unit)![1]!.replace(/\\\n\s*/g, ' ');
    const args = execStart.split(/\s+/).slice(2); // drop "/usr/bin/env edgerelay-agent"
    const expanded = args.map((a) => a.replace(/\$\{(\w+)\}/g, (_, name: string) => env[name] ?? `<unset ${name}>`));
    assert.ok(!expanded.some((a) => a.startsWith('<unset')), expanded.join(' '));
    const { stdout } = await run(path.join(nodeModules, '.bin', 'edgerelay-agent'), ['--help']);
    for (const flag of expanded.filter((a) => a.startsWith('--')))
      assert.ok(stdout.includes(flag), `edgerelay-agent has no ${flag}`);
  });

  it('joins a coordinator, loads its shards and answers a request', async () => {
    const token = randomBytes(16).toString('hex');
    const tokenFile = path.join(work, 'cluster-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const coordinator = new Coordinator({
      modelDir: model.dir,
      host: '127.0.0.1',
      grpcPort: 0,
      httpPort: 0,
      minAgents: 1,
      settings: { exitThreshold: 0, wireDtype: 'float32' },
      requestTimeoutMs: 20_000,
      deployTimeoutMs: 60_000,
      clusterToken: token,
      logger: pino({ level: 'silent' }),
    });
    let agent: ChildProcess | undefined;
    try {
      await coordinator.start();
      agent = spawn(
        path.join(nodeModules, '.bin', 'edgerelay-agent'),
        [
          '--coordinator',
          `127.0.0.1:${coordinator.grpcPort}`,
          '--name',
          'pi-1',
          '--listen-host',
          '127.0.0.1',
          '--data-dir',
          path.join(work, 'agent-data'),
          '--cluster-token-file',
          tokenFile,
          '--log-level',
          'warn',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      agent.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const plan = await coordinator.waitForPlan(120_000).catch((err: Error) => {
        throw new Error(`${err.message}\nagent stderr:\n${stderr}`, { cause: err });
      });
      assert.deepEqual(
        plan.stages.map((s) => s.host),
        ['pi-1'],
      );
      const res = await fetch(`${coordinator.httpUrl}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: 'hello world', parameters: { details: true } }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { details: { agents: string[] }[] };
      assert.deepEqual(body.details[0]!.agents, ['pi-1']);
    } finally {
      agent?.kill('SIGKILL');
      await coordinator.stop();
    }
  });
});
