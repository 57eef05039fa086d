import { IO, type ShardSpec } from '../../proto/shard-spec.js';
import type { Plan__Output as Plan } from '../../proto/control.js';
import type { FrameOf } from '../../proto/frames.js';
import { LoadedPlan } from '../../device-agent/executor/loaded-plan.js';
import type { ExecutorPorts } from '../../device-agent/executor/stage-executor.js';
import { shardKey, shardsForAgent } from '../../device-agent/plan/roles.js';
import { float32Tensor, type HostTensor, type ShardSession } from '../../device-agent/runtime/index.js';

/** Width of the fake hidden states. */
export const FAKE_HIDDEN = 2;

export interface ShardCall {
  key: string;
  feeds: Record<string, HostTensor>;
}

export interface FakeShardBehaviour {
  /** Logits of the head at `layer` (float32-exact values keep comparisons exact). */
  headLogits: (layer: number) => number[];
  /** Value every element of this agent's partial sum holds (default: attention 1, ffn 10). */
  partialValue?: (part: 'attention' | 'ffn', layer: number) => number;
}

/** [batch, seq, hidden] → [batch, seq]: each row's first unit. */
const firstUnits = (t: HostTensor): HostTensor => {
  const [b = 1, s = 1, h = 1] = t.dims;
  return float32Tensor(
    Float32Array.from({ length: b * s }, (_, i) => t.data[i * h] as number),
    [b, s],
  );
};

const add = (t: HostTensor, v: number | HostTensor): HostTensor => {
  const out = new Float32Array(t.data as Float32Array);
  for (let i = 0; i < out.length; i++) out[i]! += typeof v === 'number' ? v : (v.data[i] as number);
  return float32Tensor(out, [...t.dims]);
};

/**
 * Arithmetic stand-ins for compiled shards, so a test can predict every tensor without ONNX:
 * embeddings put each token's id in every hidden unit; layer L adds L + 1; a partial sum is a
 * constant; a combine adds the partial sum to its input; a head answers the scripted logits.
 */
function fakeSession(spec: ShardSpec, behaviour: FakeShardBehaviour, calls: ShardCall[]): ShardSession {
  const key = shardKey(spec);
  const run = async (feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> => {
    calls.push({ key, feeds });
    const need = (name: string) => {
      const t = feeds[name];
      if (!t) throw new Error(`fake shard ${key}: input "${name}" was not provided`);
      return t;
    };
    switch (spec.kind) {
      case 'embeddings': {
        const ids = need(IO.inputIds);
        need(IO.tokenTypeIds);
        const data = Float32Array.from({ length: ids.data.length * FAKE_HIDDEN }, (_, i) =>
          Number(ids.data[Math.floor(i / FAKE_HIDDEN)]),
        );
        return { [IO.hiddenOut]: float32Tensor(data, [...ids.dims, FAKE_HIDDEN]) };
      }
      case 'layers': {
        need(IO.attentionMask);
        const out = add(need(IO.hidden), spec.start + 1);
        // Token pruning's score: each row's first hidden unit, so a test knows which rows are kept.
        if (!spec.attentionReceived) return { [IO.hiddenOut]: out };
        return { [IO.hiddenOut]: out, [IO.attentionReceivedAt(spec.start)]: firstUnits(out) };
      }
      case 'attention-partial':
      case 'ffn-partial': {
        need(IO.attentionMask);
        const part = spec.kind === 'attention-partial' ? 'attention' : 'ffn';
        const value = behaviour.partialValue?.(part, spec.layer) ?? (part === 'attention' ? 1 : 10);
        const hidden = need(IO.hidden);
        return { [IO.partial]: float32Tensor(new Float32Array(hidden.data.length).fill(value), [...hidden.dims]) };
      }
      case 'attention-combine':
      case 'ffn-combine':
        return { [IO.hiddenOut]: add(need(IO.hidden), need(IO.partialSum)) };
      case 'head': {
        need(IO.hidden);
        const logits = behaviour.headLogits(spec.layer);
        return { [IO.logits]: float32Tensor(Float32Array.from(logits), [1, logits.length]) };
      }
      default:
        throw new Error(`fake shard ${key} is not supported`);
    }
  };
  // ShardSession's constructor is private (it wraps an ONNX session): a structural stand-in.
  return { inputNames: [], outputNames: [], run, release: async () => undefined } as unknown as ShardSession;
}

/** The plan as `agentId` would load it: one fake session for each shard the plan gives it. */
export function fakeLoadedPlan(
  plan: Plan,
  agentId: string,
  behaviour: FakeShardBehaviour,
): { loaded: LoadedPlan; calls: ShardCall[] } {
  const calls: ShardCall[] = [];
  const sessions = new Map(
    shardsForAgent(plan, agentId).map((spec) => [shardKey(spec), fakeSession(spec, behaviour, calls)]),
  );
  return { loaded: new LoadedPlan(plan, sessions, new Uint8Array(32)), calls };
}

export type Sent =
  | { to: string; frame: FrameOf<'stage-input'> | FrameOf<'scatter'> }
  | { to: 'coordinator'; frame: FrameOf<'result'> | FrameOf<'error'> | FrameOf<'interim'> };

/** Ports that record what the executor sends; `onAgentSend` may answer or fail a send. */
export function recordingPorts(
  onAgentSend?: (agentId: string, frame: FrameOf<'stage-input'> | FrameOf<'scatter'>) => Promise<void> | void,
): ExecutorPorts & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    async sendToAgent(agentId, frame) {
      sent.push({ to: agentId, frame });
      await onAgentSend?.(agentId, frame);
    },
    sendToCoordinator(frame) {
      sent.push({ to: 'coordinator', frame });
    },
  };
}
