import assert from 'node:assert/strict';
import path from 'node:path';
import {
  clusterFromFile,
  parseClusterFile,
  planCluster,
  planFileSchema,
  readClusterFile,
  validatePlan,
  type PlannerOptions,
} from '../coordinator/planning/index.js';
import { costContext } from '../coordinator/planning/stage-cost.js';
import { costParams } from '../coordinator/planning/planner-types.js';
import { buildCandidates } from '../coordinator/planning/candidates.js';
import { MAX_POSITION_TILES, positionRows, positionTiles, sequenceRows } from '@edgerelay/proto';
import { BERT_BASE, bertBaseStagePlan } from './helpers/planner-models.js';

function options(overrides: Partial<PlannerOptions> = {}): PlannerOptions {
  return { objective: 'latency', seqLen: 128, wireDtype: 'float32', version: 1, exitThreshold: 0.9, ...overrides };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sizes = (ranges: [number, number][]) => ranges.map(([a, b]) => b - a);

describe('position shares: slices sized to each device', () => {
  it('shares split the positions contiguously, each member within a position of its exact quota (two where the host’s minimum takes one)', () => {
    for (const shares of [
      [1, 1, 1],
      [3, 1],
      [1, 2.5, 0.4, 7],
      [67, 61],
      [0.3, 0.3, 0.4],
    ])
      for (const total of [1, 2, 5, 7, 31, 128, 509]) {
        const ranges = positionRows(total, shares);
        const sum = shares.reduce((a, b) => a + b, 0);
        assert.equal(ranges[0]![0], 0);
        ranges.forEach(([a, b], i) => {
          assert.ok(b >= a);
          if (i > 0) assert.equal(a, ranges[i - 1]![1]);
          const quota = (total * shares[i]!) / sum;
          // The host's minimum of one position may cost the largest member one more.
          const slack = ranges[0]![1] === 1 && (total * shares[0]!) / sum < 1 ? 2 : 1;
          assert.ok(Math.abs(b - a - quota) < slack, `${shares} over ${total}: ${sizes(ranges)}`);
        });
        assert.equal(ranges.at(-1)![1], total);
        assert.ok(ranges[0]![1] >= 1, 'the first member (the host) owns position 0');
      }
  });

  it('equal or missing shares give the even split every member derived before shares existed', () => {
    for (const total of [3, 10, 128, 130]) {
      assert.deepEqual(positionRows(total, [2, 2, 2, 2]), sequenceRows(total, 4));
      assert.deepEqual(positionRows(total, [undefined, undefined, undefined]), sequenceRows(total, 3));
      // One member without a share (or a non-positive one) is no sizing at all.
      assert.deepEqual(positionRows(total, [1, undefined, 3]), sequenceRows(total, 3));
      assert.deepEqual(positionRows(total, [1, 0, 3]), sequenceRows(total, 3));
    }
    assert.deepEqual(sizes(positionRows(128, [67, 61])), [67, 61]);
  });

  it('the host owns position 0 even when its share rounds to nothing', () => {
    assert.deepEqual(sizes(positionRows(5, [0.01, 1, 1])), [1, 2, 2]);
    assert.deepEqual(sizes(positionRows(1, [0.01, 5])), [1, 0]);
  });

  it('on unequal devices the planner offers speed-sized positions, the faster device taking more', () => {
    const c = clusterFromFile(
      parseClusterFile({
        devices: [
          { name: 'pi4', profile: 'pi4' },
          { name: 'pi5', profile: 'pi5' },
        ],
        links: { default: 'gigabit' },
      }),
    );
    const ctx = costContext(BERT_BASE, c, costParams(options()));
    const position = buildCandidates(ctx, [0, 1], 2, ['position-parallel']).filter((x) => x.devices.length === 2);
    assert.equal(position.length, 2, 'an even and a sized candidate');
    const sized = position.find((x) => x.shares.some((s) => s.positionShare !== undefined))!;
    const share = (device: number) => sized.shares.find((s) => s.device === device)!.positionShare!;
    assert.equal(share(0) + share(1), 128);
    assert.ok(share(1) > 2 * share(0), `pi5 ${share(1)} vs pi4 ${share(0)} positions`);
    const even = position.find((x) => x !== sized)!;
    assert.ok(sized.timing.totalMs < even.timing.totalMs, 'the slow member no longer sets every layer’s pace');
  });

  it('on devices within the model’s error of each other (a Pi 5 and an Orin Nano) only the even split is offered', () => {
    const c = clusterFromFile(
      parseClusterFile({
        devices: [
          { name: 'pi5', profile: 'pi5' },
          { name: 'orin', profile: 'orin-nano' },
        ],
        links: { default: 'gigabit' },
      }),
    );
    const ctx = costContext(BERT_BASE, c, costParams(options()));
    const position = buildCandidates(ctx, [0, 1], 2, ['position-parallel']).filter((x) => x.devices.length === 2);
    assert.equal(position.length, 1);
    assert.ok(position[0]!.shares.every((s) => s.positionShare === undefined));
  });

  it('on equal devices only the even split is offered', () => {
    const c = clusterFromFile(readClusterFile(path.resolve('sim/clusters/4x-pi4-gigabit.json')));
    const ctx = costContext(BERT_BASE, c, costParams(options()));
    const position = buildCandidates(ctx, [0, 1, 2, 3], 4, ['position-parallel']);
    assert.ok(position.length > 0);
    for (const x of position) assert.ok(x.shares.every((s) => s.positionShare === undefined));
  });

  it('a planned sized stage carries its shares into the plan, which validates, and the prediction names positions', () => {
    const c = clusterFromFile(
      parseClusterFile({
        devices: [
          { name: 'fast', gflops: 30, memoryMB: 8192 },
          { name: 'slow', gflops: 18, memoryMB: 8192 },
        ],
        links: { default: 'gigabit' },
      }),
    );
    const report = planCluster(BERT_BASE, c, options({ groupForms: ['position-parallel'] }));
    const stage = report.plan.stages.find((s) => s.form === 'position-parallel')!;
    assert.ok(stage, 'a position-parallel stage');
    assert.ok(stage.members.every((m) => (m.positionShare ?? 0) > 0));
    validatePlan(report.plan, BERT_BASE, new Set(c.devices.map((d) => d.id)));
    const predicted = report.predicted.stages.find((s) => s.form === 'position-parallel')!;
    assert.equal(
      predicted.members.reduce((t, m) => t + m.positions!, 0),
      128,
    );
    const rows = new Map(predicted.members.map((m) => [m.agent, m.positions]));
    for (const m of stage.members) assert.equal(rows.get(m.agentId), m.positionShare);
  });

  it('shares on some members only, a non-positive share, or shares outside a position-parallel stage are refused', () => {
    const agents = new Set(['a', 'b']);
    const whole = (agentId: string, positionShare?: number) => ({
      agentId,
      heads: range(12),
      ffnColumns: range(3072),
      ...(positionShare !== undefined && { positionShare }),
    });
    const plan = (form: string, members: ReturnType<typeof whole>[]) => bertBaseStagePlan('a', { form, members });
    validatePlan(plan('position-parallel', [whole('a', 2), whole('b', 1)]), BERT_BASE, agents);
    assert.throws(
      () => validatePlan(plan('position-parallel', [whole('a', 2), whole('b')]), BERT_BASE, agents),
      /member "b" has position share \(none\); give every member a positive share, or none for an even split/,
    );
    assert.throws(
      () => validatePlan(plan('position-parallel', [whole('a', 2), whole('b', -1)]), BERT_BASE, agents),
      /member "b" has position share -1/,
    );
    const halves = (agentId: string, h: number[], positionShare: number) => ({
      agentId,
      heads: h,
      ffnColumns: h.length === 6 && h[0] === 0 ? range(1536) : range(1536).map((i) => i + 1536),
      positionShare,
    });
    assert.throws(
      () =>
        validatePlan(
          plan('sequence-parallel', [
            halves('a', range(6), 1),
            halves(
              'b',
              range(6).map((i) => i + 6),
              1,
            ),
          ]),
          BERT_BASE,
          agents,
        ),
      /only a position-parallel stage splits positions/,
    );
  });

  it('a plan file takes positionShare per member and refuses one that is not a positive number', () => {
    const stage = (positionShare: unknown) => ({
      stages: [
        {
          layers: [0, 12],
          host: 'a',
          form: 'position-parallel',
          members: [{ agent: 'a', heads: range(12), ffnColumns: [[0, 3072]], positionShare }],
        },
      ],
    });
    assert.equal(planFileSchema.parse(stage(2.5)).stages[0]!.members![0]!.positionShare, 2.5);
    for (const bad of [0, -1, 'half']) assert.equal(planFileSchema.safeParse(stage(bad)).success, false, String(bad));
  });

  it('position tiles cut a member’s positions into near-equal tiles, never an empty one, at most one per position', () => {
    assert.deepEqual(positionTiles([32, 64], 2), [
      [32, 48],
      [48, 64],
    ]);
    assert.deepEqual(positionTiles([0, 10], 3), [
      [0, 4],
      [4, 7],
      [7, 10],
    ]);
    assert.deepEqual(positionTiles([5, 7], 4), [
      [5, 6],
      [6, 7],
    ]);
    assert.deepEqual(positionTiles([3, 9], undefined), [[3, 9]]);
    assert.equal(positionTiles([0, 128], 1000).length, MAX_POSITION_TILES);
  });

  it('position tiles outside a position-parallel stage are refused, and so is a plan file’s tile count that is not a whole number from 1 to 16', () => {
    const agents = new Set(['a', 'b']);
    const whole = (agentId: string) => ({ agentId, heads: range(12), ffnColumns: range(3072) });
    const members = [whole('a'), whole('b')];
    validatePlan(bertBaseStagePlan('a', { form: 'position-parallel', members, positionTiles: 3 }), BERT_BASE, agents);
    assert.throws(
      () => validatePlan(bertBaseStagePlan('a', { form: 'host-gather', members, positionTiles: 3 }), BERT_BASE, agents),
      /stage 0 has 3 position tiles, but only a position-parallel stage cuts positions into tiles/,
    );
    assert.throws(
      () =>
        validatePlan(
          bertBaseStagePlan('a', { form: 'position-parallel', members, positionTiles: 2.5 }),
          BERT_BASE,
          agents,
        ),
      /give a whole number from 1 to 16/,
    );
    const file = (positionTiles: unknown) => ({
      stages: [{ layers: [0, 12], host: 'a', form: 'position-parallel', positionTiles }],
    });
    assert.equal(planFileSchema.parse(file(4)).stages[0]!.positionTiles, 4);
    for (const bad of [0, 2.5, MAX_POSITION_TILES + 1, 'two'])
      assert.equal(planFileSchema.safeParse(file(bad)).success, false, String(bad));
  });
});
