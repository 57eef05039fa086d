import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  clusterFromAgents,
  clusterFromFile,
  linkProfile,
  parseClusterFile,
  planCluster,
  readClusterFile,
  validatePlan,
  ClusterFileError,
  type PlannerOptions,
} from '../coordinator/planning/index.js';
import type { Plan__Output as Plan } from '../proto/control.js';
import { BERT_BASE, bertShape } from './helpers/planner-models.js';
import { edgerelay } from './helpers/cli.js';

const MB = 2 ** 20;

function options(overrides: Partial<PlannerOptions> = {}): PlannerOptions {
  return { objective: 'latency', seqLen: 128, wireDtype: 'float32', version: 1, exitThreshold: 0.9, ...overrides };
}

describe('cluster files', () => {
  it('takes figures from the profile unless the device states them, and a Wi-Fi device talks Wi-Fi to everyone', () => {
    const c = clusterFromFile(
      parseClusterFile({
        devices: [
          { name: 'a', profile: 'pi4' },
          { name: 'b', profile: 'pi5', gflops: 99 },
          { name: 'c', profile: 'orin-nano', link: 'wifi' },
        ],
        links: { default: 'gigabit', pairs: [{ a: 'a', b: 'b', link: { bandwidthMbps: 10, latencyMs: 7 } }] },
      }),
    );
    assert.equal(c.devices[0]!.gflops, 11.4);
    assert.equal(c.devices[1]!.gflops, 99);
    assert.equal(c.links[0]![1]!.latencyMs, 7);
    assert.equal(c.links[0]![1]!.bandwidthBytesPerSec, 10e6 / 8);
    assert.deepEqual(c.links[0]![2], linkProfile('wifi'));
    assert.deepEqual(c.links[2]![1], linkProfile('wifi'));
  });

  it('names the problem: an unknown profile, a device without figures, a pair naming a stranger', () => {
    assert.throws(
      () => parseClusterFile({ devices: [{ name: 'a', profile: 'pi3' }], links: { default: 'gigabit' } }),
      (e: Error) => e instanceof ClusterFileError && /devices\.0\.profile/.test(e.message),
    );
    assert.throws(
      () => clusterFromFile(parseClusterFile({ devices: [{ name: 'a', gflops: 3 }], links: { default: 'wifi' } })),
      /"a" needs a "profile"/,
    );
    assert.throws(
      () =>
        clusterFromFile(
          parseClusterFile({
            devices: [{ name: 'a', profile: 'pi4' }],
            links: { default: 'wifi', pairs: [{ a: 'a', b: 'z', link: 'wifi' }] },
          }),
        ),
      /names "z"/,
    );
  });

  it('builds the same kind of cluster from live agents, asking each ordered pair for its link', () => {
    const asked: string[] = [];
    const c = clusterFromAgents(
      [
        { id: 'x', gflops: 10, memoryBytes: 4096 * MB, dataAddress: 'h:1' },
        { id: 'y', gflops: 20, memoryBytes: 4096 * MB, dataAddress: 'h:2' },
      ],
      (a, b) => (asked.push(`${a}>${b}`), linkProfile('gigabit')),
    );
    assert.deepEqual(asked.sort(), ['x>y', 'y>x']);
    const { plan } = planCluster(bertShape(4, 64, 4), c, options({ seqLen: 16 }));
    for (const e of plan.endpoints) assert.equal(e.dataAddress, e.agentId === 'x' ? 'h:1' : 'h:2');
  });
});

describe('edgerelay plan', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-plan-'));
    writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        model_type: 'bert',
        architectures: ['BertForSequenceClassification'],
        hidden_size: 768,
        num_hidden_layers: 12,
        num_attention_heads: 12,
        intermediate_size: 3072,
        early_exit_layers: [0, 1, 2],
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const plan = (args: string[]) => edgerelay(['plan', ...args]);

  it('--json prints a runnable plan, its prediction and the explanation from a config.json-only model', async () => {
    const { stdout, stderr, code } = await plan([
      '--model',
      dir,
      '--cluster',
      'sim/clusters/pi4-pi5-orin-gigabit.json',
      '--exit-rates',
      '0.6,0.2,0.1',
      '--json',
    ]);
    assert.equal(code, 0, stderr);
    const doc = JSON.parse(stdout) as {
      plan: Plan;
      predicted: { latencyMs: number; fullPathMs: number; stages: unknown[] };
      explanation: string[];
    };
    const c = clusterFromFile(readClusterFile(path.resolve('sim/clusters/pi4-pi5-orin-gigabit.json')));
    const model = { ...BERT_BASE, modelId: doc.plan.modelId, exitLayers: [0, 1, 2, 11] };
    validatePlan(doc.plan, model, new Set(c.devices.map((d) => d.id)));
    assert.deepEqual(doc.plan.exitLayers, [0, 1, 2, 11]);
    assert.ok(doc.predicted.latencyMs < doc.predicted.fullPathMs);
    assert.equal(doc.predicted.stages.length, doc.plan.stages.length);
    assert.ok(doc.explanation.some((l) => /exit rates/.test(l)));
  });

  it('prints the table with layers counted from 1 and refuses exit rates the model cannot have', async () => {
    const table = await plan([
      '--model',
      dir,
      '--cluster',
      'sim/clusters/pi4-pi5-orin-wifi.json',
      '--objective',
      'throughput',
    ]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /stage\s+layers\s+devices/);
    assert.match(table.stdout, /1–\d+/);
    assert.match(table.stdout, /predicted latency [\d.]+ ms expected/);
    const bad = await plan([
      '--model',
      dir,
      '--cluster',
      'sim/clusters/pi4-pi5-orin-wifi.json',
      '--exit-rates',
      Array(13).fill('0.05').join(','),
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /13 exit rates were given, but the model has 4 exit layer/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  });
});
