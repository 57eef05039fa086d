import assert from 'node:assert/strict';
import type { Plan__Output as Plan } from '../proto/control.js';
import type { FrameOf, Hop } from '../proto/frames.js';
import { PartialWaiter } from '../device-agent/executor/partial-waiter.js';
import { StageExecutor } from '../device-agent/executor/stage-executor.js';
import { AgentStats } from '../device-agent/executor/stats.js';
import { float32Tensor, fromWire, int64Tensor, toWire } from '../device-agent/runtime/index.js';
import { FAKE_HIDDEN, fakeLoadedPlan, recordingPorts, type Sent } from './helpers/unit-fake-shards.js';

/**
 * StageExecutor with arithmetic fake shards (test/helpers/unit-fake-shards.ts) and recording ports:
 * which frames a stage sends (answer, next stage's input, interim exit, scatters), with what tensors.
 * Embeddings put each token id in every hidden unit, layer L adds L + 1, so every hidden state is
 * predictable.
 */

const TOKENS = [2, 4, 3];
const mask = () => toWire(int64Tensor(new BigInt64Array(TOKENS.length).fill(1n), [1, TOKENS.length]));
const hiddenValues = (offset: number) => TOKENS.flatMap((t) => Array<number>(FAKE_HIDDEN).fill(t + offset));

/** 4 layers, exits after layers 1 and 3: agent "a" runs layers 0-2, agent "b" layer 3. */
function pipelinePlan(wireDtype = 'float32'): Plan {
  return {
    version: 3,
    modelId: 'unit',
    stages: [
      { layerStart: 0, layerEnd: 3, host: 'a', members: [] },
      { layerStart: 3, layerEnd: 4, host: 'b', members: [] },
    ],
    endpoints: [],
    exit: null,
    numLabels: 2,
    exitLayers: [1, 3],
    wireDtype,
    numLayers: 4,
    hiddenSize: FAKE_HIDDEN,
  };
}

/** 1 layer split over a group hosted by "a": a holds head 0 and column 0, c head 1 and column 1, d column 2 only. */
function groupPlan(): Plan {
  return {
    version: 5,
    modelId: 'unit',
    stages: [
      {
        layerStart: 0,
        layerEnd: 1,
        host: 'a',
        members: [
          { agentId: 'a', heads: [0], ffnColumns: [0] },
          { agentId: 'c', heads: [1], ffnColumns: [1] },
          { agentId: 'd', heads: [], ffnColumns: [2] },
        ],
      },
    ],
    endpoints: [],
    exit: null,
    numLabels: 2,
    exitLayers: [0],
    wireDtype: 'float32',
    numLayers: 1,
    hiddenSize: FAKE_HIDDEN,
  };
}

function stage0Input(
  planVersion: number,
  exitPolicy: string,
  exitState: FrameOf<'stage-input'>['exitState'] = {},
): FrameOf<'stage-input'> {
  return {
    type: 'stage-input',
    requestId: 'req-1',
    planVersion,
    stage: 0,
    inputIds: toWire(int64Tensor(BigInt64Array.from(TOKENS, BigInt), [1, TOKENS.length])),
    attentionMask: mask(),
    exitPolicy,
    exitState,
    trace: [],
  };
}

const toCoordinator = (sent: Sent[]) => sent.filter((s) => s.to === 'coordinator').map((s) => s.frame);
const toAgents = (sent: Sent[]) => sent.filter((s) => s.to !== 'coordinator');
const valuesOf = (t: FrameOf<'stage-input'>['hidden']) => Array.from(fromWire(t!).data as Float32Array);

describe('StageExecutor (unit, fake shards and ports)', function () {
  describe('pipeline stages', function () {
    it("forwards the hidden state to the next stage's host after an exit that did not fire, and reports it as interim", async function () {
      const plan = pipelinePlan();
      const { loaded, calls } = fakeLoadedPlan(plan, 'a', { headLogits: () => [0, 0] });
      const ports = recordingPorts();
      const stats = new AgentStats();
      const executor = new StageExecutor({ agentId: 'a', groupTimeoutMs: 1000 }, ports, stats);
      const input = stage0Input(3, 'max-prob=0.9');
      await executor.runStage(input, loaded);

      assert.deepEqual(
        calls.map((c) => c.key),
        ['embeddings', 'layers:0-1:0:1', 'layers:1-2:0:1', 'head:1', 'layers:2-3:0:1'],
      );
      assert.deepEqual(Array.from(calls[0]!.feeds.token_type_ids!.data as BigInt64Array), [0n, 0n, 0n]);
      assert.deepEqual(toCoordinator(ports.sent), [
        { type: 'interim', requestId: 'req-1', planVersion: 3, exitLayer: 1, logits: [0, 0] },
      ]);
      const forwarded = toAgents(ports.sent);
      assert.equal(forwarded.length, 1);
      assert.equal(forwarded[0]!.to, 'b');
      const next = forwarded[0]!.frame as FrameOf<'stage-input'>;
      assert.equal(next.type, 'stage-input');
      assert.equal(next.requestId, 'req-1');
      assert.equal(next.planVersion, 3);
      assert.equal(next.stage, 1);
      assert.equal(next.inputIds, undefined);
      assert.equal(next.hidden!.dtype, 'float32');
      assert.deepEqual(next.hidden!.shape, [1, TOKENS.length, FAKE_HIDDEN]);
      assert.deepEqual(valuesOf(next.hidden), hiddenValues(1 + 2 + 3)); // layers 0, 1, 2
      assert.deepEqual(next.attentionMask, input.attentionMask);
      assert.equal(next.exitPolicy, 'max-prob=0.9');
      assert.equal(next.trace.length, 1);
      assert.deepEqual({ ...next.trace[0]!, computeMs: 0 }, {
        agent: 'a',
        stage: 0,
        layersRun: 3,
        computeMs: 0,
        groupWaitMs: 0,
        members: [],
      } satisfies Hop);
      assert.deepEqual([stats.stageRuns, stats.layersRun, stats.earlyExits], [1, 3, 0]);
    });

    it("answers the coordinator at an exit that fires and runs none of the stage's later layers", async function () {
      const { loaded, calls } = fakeLoadedPlan(pipelinePlan(), 'a', { headLogits: () => [5, -5] });
      const ports = recordingPorts();
      const stats = new AgentStats();
      await new StageExecutor({ agentId: 'a', groupTimeoutMs: 1000 }, ports, stats).runStage(
        stage0Input(3, 'max-prob=0.9'),
        loaded,
      );

      assert.deepEqual(
        calls.map((c) => c.key),
        ['embeddings', 'layers:0-1:0:1', 'layers:1-2:0:1', 'head:1'],
      );
      assert.deepEqual(Array.from(calls[3]!.feeds.hidden!.data as Float32Array), hiddenValues(1 + 2));
      assert.equal(toAgents(ports.sent).length, 0);
      const [answer, ...more] = toCoordinator(ports.sent);
      assert.equal(more.length, 0);
      assert.equal(answer!.type, 'result');
      const result = answer as FrameOf<'result'>;
      assert.deepEqual([result.requestId, result.planVersion, result.exitLayer, result.early], ['req-1', 3, 1, true]);
      assert.deepEqual(result.logits, [5, -5]);
      assert.deepEqual(
        result.trace.map((h) => [h.agent, h.stage, h.layersRun]),
        [['a', 0, 2]],
      );
      assert.deepEqual([stats.layersRun, stats.earlyExits], [2, 1]);
    });

    it('answers from the final classifier on the last stage, not early, appending its hop to the trace', async function () {
      const { loaded, calls } = fakeLoadedPlan(pipelinePlan(), 'b', {
        headLogits: (layer) => (layer === 3 ? [1, 2] : [9, 9]),
      });
      const ports = recordingPorts();
      const stats = new AgentStats();
      const earlier: Hop = { agent: 'a', stage: 0, layersRun: 3, computeMs: 4, groupWaitMs: 0, members: [] };
      const input: FrameOf<'stage-input'> = {
        ...stage0Input(3, 'none'),
        stage: 1,
        inputIds: undefined,
        hidden: toWire(float32Tensor(Float32Array.from(hiddenValues(6)), [1, TOKENS.length, FAKE_HIDDEN])),
        trace: [earlier],
      };
      await new StageExecutor({ agentId: 'b', groupTimeoutMs: 1000 }, ports, stats).runStage(input, loaded);

      assert.deepEqual(
        calls.map((c) => c.key),
        ['layers:3-4:0:1', 'head:3'],
      );
      assert.deepEqual(Array.from(calls[1]!.feeds.hidden!.data as Float32Array), hiddenValues(6 + 4));
      const sent = toCoordinator(ports.sent);
      assert.equal(sent.length, 1);
      const result = sent[0] as FrameOf<'result'>;
      assert.equal(result.type, 'result');
      assert.deepEqual([result.exitLayer, result.early], [3, false]);
      assert.deepEqual(result.logits, [1, 2]);
      assert.deepEqual(result.trace[0], earlier);
      assert.deepEqual(
        result.trace.map((h) => [h.agent, h.stage, h.layersRun]),
        [
          ['a', 0, 3],
          ['b', 1, 1],
        ],
      );
      assert.equal(stats.earlyExits, 0);
    });

    it("carries the exit policy's updated state to the next stage", async function () {
      // patience: the first head's argmax (1) becomes `last`, with no agreement counted yet.
      const { loaded } = fakeLoadedPlan(pipelinePlan(), 'a', { headLogits: () => [0, 3] });
      const ports = recordingPorts();
      await new StageExecutor({ agentId: 'a', groupTimeoutMs: 1000 }, ports, new AgentStats()).runStage(
        stage0Input(3, 'patience=2', { count: 0, last: -1 }),
        loaded,
      );
      const next = toAgents(ports.sent)[0]!.frame as FrameOf<'stage-input'>;
      assert.deepEqual(next.exitState, { count: 0, last: 1 });
      assert.equal(next.exitPolicy, 'patience=2');
    });

    it("sends the hidden state as float16 when the plan's wire dtype says so", async function () {
      const { loaded } = fakeLoadedPlan(pipelinePlan('float16'), 'a', { headLogits: () => [0, 0] });
      const ports = recordingPorts();
      await new StageExecutor({ agentId: 'a', groupTimeoutMs: 1000 }, ports, new AgentStats()).runStage(
        stage0Input(3, 'none'),
        loaded,
      );
      const next = toAgents(ports.sent)[0]!.frame as FrameOf<'stage-input'>;
      assert.equal(next.hidden!.dtype, 'float16');
      assert.equal(next.hidden!.data.byteLength, TOKENS.length * FAKE_HIDDEN * 2);
      assert.deepEqual(valuesOf(next.hidden), hiddenValues(6));
    });

    it('refuses a stage this agent does not host, without running or sending anything', async function () {
      const { loaded, calls } = fakeLoadedPlan(pipelinePlan(), 'b', { headLogits: () => [0, 0] });
      const ports = recordingPorts();
      await assert.rejects(
        new StageExecutor({ agentId: 'b', groupTimeoutMs: 1000 }, ports, new AgentStats()).runStage(
          stage0Input(3, 'none'),
          loaded,
        ),
        /stage 0 of plan 3 is not hosted by b/,
      );
      assert.equal(calls.length, 0);
      assert.equal(ports.sent.length, 0);
    });

    it("gives the embeddings shard a sentence pair's token type ids from the first stage's input frame", async function () {
      const { loaded, calls } = fakeLoadedPlan(pipelinePlan(), 'a', { headLogits: () => [0, 0] });
      const input = {
        ...stage0Input(3, 'none'),
        tokenTypeIds: toWire(int64Tensor(BigInt64Array.of(0n, 1n, 1n), [1, TOKENS.length])),
      };
      await new StageExecutor({ agentId: 'a', groupTimeoutMs: 1000 }, recordingPorts(), new AgentStats()).runStage(
        input,
        loaded,
      );
      assert.equal(calls[0]!.key, 'embeddings');
      assert.deepEqual(Array.from(calls[0]!.feeds.token_type_ids!.data as BigInt64Array), [0n, 1n, 1n]);
    });

    it('refuses token type ids not shaped like the token ids, before running anything', async function () {
      const { loaded, calls } = fakeLoadedPlan(pipelinePlan(), 'a', { headLogits: () => [0, 0] });
      const input = {
        ...stage0Input(3, 'none'),
        tokenTypeIds: toWire(int64Tensor(BigInt64Array.of(0n, 1n), [1, 2])),
      };
      await assert.rejects(
        new StageExecutor({ agentId: 'a', groupTimeoutMs: 1000 }, recordingPorts(), new AgentStats()).runStage(
          input,
          loaded,
        ),
        /token type ids must be int64 shaped like the token ids \[1, 3\], got int64 \[1, 2\]/,
      );
      assert.equal(calls.length, 0);
    });

    it('refuses a first-stage input without token ids', async function () {
      const { loaded } = fakeLoadedPlan(pipelinePlan(), 'a', { headLogits: () => [0, 0] });
      const ports = recordingPorts();
      await assert.rejects(
        new StageExecutor({ agentId: 'a', groupTimeoutMs: 1000 }, ports, new AgentStats()).runStage(
          { ...stage0Input(3, 'none'), inputIds: undefined },
          loaded,
        ),
        /stage 0 needs token ids/,
      );
      assert.equal(ports.sent.length, 0);
    });
  });

  describe('group stages', function () {
    /** Member answers as the agents would: a partial of `value` per (member, part), delivered to the host's waiter. */
    const memberPartials: Record<string, Record<'attention' | 'ffn', number>> = {
      c: { attention: 2, ffn: 20 },
      d: { attention: 0, ffn: 30 },
    };

    it('scatters each part to the members that hold a share of it, and combines their partials with its own', async function () {
      const { loaded, calls } = fakeLoadedPlan(groupPlan(), 'a', { headLogits: () => [0.5, 0.25] });
      const stats = new AgentStats();
      let executor: StageExecutor;
      const ports = recordingPorts((to, frame) => {
        if (frame.type !== 'scatter') return;
        const value = memberPartials[to]![frame.part];
        const partial = float32Tensor(new Float32Array(TOKENS.length * FAKE_HIDDEN).fill(value), [
          1,
          TOKENS.length,
          FAKE_HIDDEN,
        ]);
        setImmediate(() =>
          executor.waiter.deliver(PartialWaiter.key(frame.requestId, frame.layer, frame.part), partial),
        );
      });
      executor = new StageExecutor({ agentId: 'a', groupTimeoutMs: 5000 }, ports, stats);
      await executor.runStage(stage0Input(5, 'none'), loaded);

      const scatters = toAgents(ports.sent).map((s) => ({ to: s.to, frame: s.frame as FrameOf<'scatter'> }));
      assert.deepEqual(
        scatters.map((s) => [s.to, s.frame.type, s.frame.part, s.frame.layer]),
        [
          ['c', 'scatter', 'attention', 0],
          ['c', 'scatter', 'ffn', 0],
          ['d', 'scatter', 'ffn', 0],
        ],
      );
      // Members get the part's input: the embeddings for attention, the attention output for the FFN.
      assert.deepEqual(valuesOf(scatters[0]!.frame.hidden), hiddenValues(0));
      assert.deepEqual(valuesOf(scatters[1]!.frame.hidden), hiddenValues(1 + 2));
      assert.deepEqual(scatters[0]!.frame.attentionMask, mask());

      const callOf = (key: string) => calls.find((c) => c.key === key)!;
      assert.deepEqual(
        Array.from(callOf('attention-combine:0').feeds.partial_sum!.data as Float32Array),
        Array(6).fill(1 + 2),
      );
      assert.deepEqual(
        Array.from(callOf('ffn-combine:0').feeds.partial_sum!.data as Float32Array),
        Array(6).fill(10 + 20 + 30),
      );
      assert.deepEqual(Array.from(callOf('head:0').feeds.hidden!.data as Float32Array), hiddenValues(3 + 60));

      const [result, ...more] = toCoordinator(ports.sent) as FrameOf<'result'>[];
      assert.equal(more.length, 0);
      assert.deepEqual([result!.type, result!.exitLayer, result!.early], ['result', 0, false]);
      assert.deepEqual(result!.logits, [0.5, 0.25]);
      assert.deepEqual(
        result!.trace.map((h) => [h.agent, h.layersRun, h.members]),
        [['a', 1, ['c', 'd']]],
      );
      assert.deepEqual([stats.partialRuns, stats.layersRun], [2, 1]);
    });

    it('fails the stage when a member sends no partial within the group timeout', async function () {
      const { loaded } = fakeLoadedPlan(groupPlan(), 'a', { headLogits: () => [0, 0] });
      const ports = recordingPorts();
      const started = performance.now();
      await assert.rejects(
        new StageExecutor({ agentId: 'a', groupTimeoutMs: 60 }, ports, new AgentStats()).runStage(
          stage0Input(5, 'none'),
          loaded,
        ),
        /group members did not answer req-1\/0\/attention within 60 ms/,
      );
      assert.ok(performance.now() - started >= 50);
      assert.equal(toCoordinator(ports.sent).length, 0);
    });

    it('refuses a second run of the same stage of a request at once while the first still gathers partials', async function () {
      const { loaded } = fakeLoadedPlan(groupPlan(), 'a', { headLogits: () => [0, 0] });
      const executor = new StageExecutor({ agentId: 'a', groupTimeoutMs: 5000 }, recordingPorts(), new AgentStats());
      const first = executor.runStage(stage0Input(5, 'none'), loaded);
      const started = performance.now();
      await assert.rejects(executor.runStage(stage0Input(5, 'none'), loaded), (err: Error & { code?: string }) => {
        assert.match(err.message, /already running stage 0 of req-1: duplicate request id/);
        assert.equal(err.code, 'EDGERELAY_STEP_DUPLICATE_REQUEST_ID');
        return true;
      });
      assert.ok(performance.now() - started < 1000, 'the duplicate waited instead of being refused at once');
      executor.waiter.failAll(new Error('test over'));
      await assert.rejects(first, /test over/);
      // Once the first run has ended, the same request id may run again (a retry).
      const again = executor.runStage(stage0Input(5, 'none'), loaded);
      await new Promise((r) => setTimeout(r, 50)); // until it waits for its members' partials
      executor.waiter.failAll(new Error('second test over'));
      await assert.rejects(again, /second test over/);
    });

    it('fails the stage with the send error when a scatter cannot be delivered, without waiting for the timeout', async function () {
      const { loaded } = fakeLoadedPlan(groupPlan(), 'a', { headLogits: () => [0, 0] });
      const ports = recordingPorts(() => Promise.reject(new Error('cannot dial c')));
      const started = performance.now();
      await assert.rejects(
        new StageExecutor({ agentId: 'a', groupTimeoutMs: 30_000 }, ports, new AgentStats()).runStage(
          stage0Input(5, 'none'),
          loaded,
        ),
        /cannot dial c/,
      );
      assert.ok(performance.now() - started < 5000);
    });

    it("computes a member's own share of a scattered part and answers it as a partial frame", async function () {
      const { loaded, calls } = fakeLoadedPlan(groupPlan(), 'c', {
        headLogits: () => [0, 0],
        partialValue: (part) => (part === 'ffn' ? 7 : 3),
      });
      const stats = new AgentStats();
      const executor = new StageExecutor({ agentId: 'c', groupTimeoutMs: 1000 }, recordingPorts(), stats);
      const hidden = toWire(float32Tensor(Float32Array.from(hiddenValues(0)), [1, TOKENS.length, FAKE_HIDDEN]));
      const partial = await executor.runScatter(
        { type: 'scatter', requestId: 'req-9', planVersion: 5, layer: 0, part: 'ffn', hidden, attentionMask: mask() },
        loaded,
      );
      assert.deepEqual(
        calls.map((c) => c.key),
        ['ffn-partial:0:1'],
      );
      assert.deepEqual(
        [partial.type, partial.requestId, partial.planVersion, partial.layer, partial.part],
        ['partial', 'req-9', 5, 0, 'ffn'],
      );
      assert.deepEqual(partial.partial.shape, [1, TOKENS.length, FAKE_HIDDEN]);
      assert.deepEqual(Array.from(fromWire(partial.partial).data as Float32Array), Array(6).fill(7));
      assert.equal(stats.partialRuns, 1);
    });

    it('refuses a scatter for a layer in which this agent holds no share', async function () {
      const plan = groupPlan();
      const { loaded } = fakeLoadedPlan(plan, 'b', { headLogits: () => [0, 0] });
      const executor = new StageExecutor({ agentId: 'b', groupTimeoutMs: 1000 }, recordingPorts(), new AgentStats());
      const hidden = toWire(
        float32Tensor(new Float32Array(TOKENS.length * FAKE_HIDDEN), [1, TOKENS.length, FAKE_HIDDEN]),
      );
      await assert.rejects(
        executor.runScatter(
          {
            type: 'scatter',
            requestId: 'req-9',
            planVersion: 5,
            layer: 0,
            part: 'attention',
            hidden,
            attentionMask: mask(),
          },
          loaded,
        ),
        /holds no share of layer 0 in plan 5/,
      );
    });
  });
});
