import { Packr } from 'msgpackr';
import { z } from 'zod';
import { EdgeRelayError } from './errors.js';

/**
 * The WebSocket data plane: every message is one msgpack-encoded frame, validated on arrival.
 * Tensors travel as raw little-endian bytes with their dtype and shape; the byte length must agree.
 */

export const WIRE_DTYPES = ['float32', 'float16', 'int8', 'int64'] as const;
export type WireDtype = (typeof WIRE_DTYPES)[number];
/** Bytes per element; int8 tensors also carry one float32 scale per row (the last dimension) in `scales`. */
export const DTYPE_BYTES: Record<WireDtype, number> = { float32: 4, float16: 2, int8: 1, int64: 8 };
/** How hidden states and partial sums may travel between agents (a plan's wireDtype). */
export const FLOAT_WIRE_DTYPES = ['float32', 'float16', 'int8'] as const;
export type FloatWireDtype = (typeof FLOAT_WIRE_DTYPES)[number];

/** A plan's wireDtype string as a float wire dtype: float32 when absent or unknown (older plans). */
export function floatWireDtype(value: string | undefined): FloatWireDtype {
  return (FLOAT_WIRE_DTYPES as readonly string[]).includes(value ?? '') ? (value as FloatWireDtype) : 'float32';
}

/** Hard ceilings that keep one bad frame from exhausting an agent's memory. */
export const FRAME_LIMITS = {
  maxFrameBytes: 64 * 1024 * 1024,
  maxRank: 4,
  maxDim: 1 << 20,
  maxIdLength: 128,
  maxTraceHops: 256,
  maxLabels: 4096,
  /**
   * Tokens (batch × sequence) one request tensor may carry: the coordinator sends at most 512
   * (its tokenizer cap). Attention costs batch × seq², so this bounds one frame's work and memory
   * to that of the longest real request.
   */
  maxTokens: 512,
  /** Width of a hidden state (768 for bert-base, 1024 for bert-large). */
  maxHidden: 8192,
  /** ODE steps a request may ask of a parameter-shared model (at most its layer count; this bounds the field). */
  maxOdeSteps: 1024,
} as const;

const id = z.string().min(1).max(FRAME_LIMITS.maxIdLength);
const count = z.number().int().nonnegative();
const ms = z.number().finite().nonnegative();

export const wireTensorSchema = z
  .object({
    dtype: z.enum(WIRE_DTYPES),
    shape: z.array(z.number().int().nonnegative().max(FRAME_LIMITS.maxDim)).min(1).max(FRAME_LIMITS.maxRank),
    data: z.instanceof(Uint8Array),
    /** int8 only: one little-endian float32 scale per row (numel / last dimension rows). */
    scales: z.instanceof(Uint8Array).optional(),
  })
  .refine((t) => t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype] === t.data.byteLength, {
    message: 'tensor byte length does not equal numel × dtype size',
  })
  .refine(
    (t) =>
      (t.dtype === 'int8') === (t.scales !== undefined) && (!t.scales || t.scales.byteLength === int8Rows(t.shape) * 4),
    {
      message: 'an int8 tensor needs one float32 scale per row, and only an int8 tensor has scales',
    },
  );
export type WireTensor = z.infer<typeof wireTensorSchema>;

function int8Rows(shape: number[]): number {
  const last = shape[shape.length - 1] ?? 0;
  return last === 0 ? 0 : shape.reduce((a, b) => a * b, 1) / last;
}

/** One stage's visit in a request's journey: where it ran and how long it took. */
export const hopSchema = z.object({
  agent: id,
  stage: count,
  layersRun: count,
  computeMs: ms,
  /** time spent waiting on group members' partial sums (included in computeMs) */
  groupWaitMs: ms,
  members: z.array(id).max(64),
});
export type Hop = z.infer<typeof hopSchema>;

const requestFields = { requestId: id, planVersion: count };

/** What a sequence-parallel seq-rows frame carries (see the frame). */
export const SEQ_PHASES = ['attention', 'attended', 'ffn', 'out', 'keys-values'] as const;
export type SeqPhase = (typeof SEQ_PHASES)[number];

/** keep[l]: share of the real tokens layer l runs on; length: real tokens before pruning. */
const tokenPruningSchema = z.object({
  keep: z.array(z.number().finite().gt(0).lte(1)).min(1).max(64),
  length: z.number().int().min(1).max(FRAME_LIMITS.maxTokens),
});

export const frameSchema = z.discriminatedUnion('type', [
  /** Server → dialer, first frame on a connection: the nonce the dialer must prove the plan key with. */
  z.object({ type: z.literal('challenge'), nonce: z.string().min(16).max(128) }),
  /** Dialer → server: who is calling, with HMAC(plan key, nonce …) for a plan the server knows. */
  z.object({
    type: z.literal('hello'),
    role: z.enum(['coordinator', 'agent']),
    from: id,
    planVersion: count,
    proof: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  /** Input of a pipeline stage: token ids for stage 0, the hidden state after that. */
  z.object({
    type: z.literal('stage-input'),
    ...requestFields,
    stage: count,
    inputIds: wireTensorSchema.optional(),
    /** stage 0, sentence pairs: each token's segment (int64, shaped like inputIds); absent means all 0 */
    tokenTypeIds: wireTensorSchema.optional(),
    hidden: wireTensorSchema.optional(),
    attentionMask: wireTensorSchema,
    /** the request's exit policy, e.g. "max-prob=0.9", "patience=2", "dact", "none" (device-agent/exits) */
    exitPolicy: z.string().min(1).max(64),
    /** the policy's running state, carried with the hidden state so the decision spans devices */
    exitState: z
      .record(
        z.string().max(32),
        z.union([z.number().finite(), z.array(z.number().finite()).max(FRAME_LIMITS.maxLabels)]),
      )
      .refine((s) => Object.keys(s).length <= 16, { message: 'exit state has too many fields' }),
    trace: z.array(hopSchema).max(FRAME_LIMITS.maxTraceHops),
    /** parameter-shared models: apply the shared layer K times with step size L/K (absent: every layer) */
    odeSteps: z.number().int().positive().max(FRAME_LIMITS.maxOdeSteps).optional(),
    /** token pruning (device-agent/pruning): the schedule, and the text's real length before any pruning */
    tokenPruning: tokenPruningSchema.optional(),
  }),
  /** Host → group member: compute your share of `part` of `layer` on this hidden state. */
  z.object({
    type: z.literal('scatter'),
    ...requestFields,
    layer: count,
    part: z.enum(['attention', 'ffn']),
    hidden: wireTensorSchema,
    attentionMask: wireTensorSchema,
    /** attention part under token pruning: also return the share's context contribution per token */
    scores: z.boolean().optional(),
  }),
  /** Group member → host: the partial sum of its share. */
  z.object({
    type: z.literal('partial'),
    ...requestFields,
    layer: count,
    part: z.enum(['attention', 'ffn']),
    partial: wireTensorSchema,
    computeMs: ms,
    /** when the scatter asked for scores: the share's context contribution, float32 [batch, seq] */
    scores: wireTensorSchema.optional(),
  }),
  /**
   * Sequence-parallel group (docs/sequence-parallel.md), host → member: run your share of the stage's layers on
   * this hidden state, exchanging rows with the other members directly.
   */
  z.object({
    type: z.literal('seq-start'),
    ...requestFields,
    stage: count,
    hidden: wireTensorSchema,
    attentionMask: wireTensorSchema,
  }),
  /**
   * Sequence-parallel group, member → member: rows [rowStart, rowStart + n) of the flattened [batch × seq] tokens,
   * as [1, n, hidden]: partial sums for the receiver's rows (attention, ffn: reduce-scatter), or the sender's
   * combined rows (attended: the FFN input; out: the layer output) for everyone (all-gather).
   */
  z.object({
    type: z.literal('seq-rows'),
    ...requestFields,
    stage: count,
    layer: count,
    phase: z.enum(SEQ_PHASES),
    rowStart: z.number().int().nonnegative().max(FRAME_LIMITS.maxTokens),
    rows: wireTensorSchema,
  }),
  /** Sequence-parallel group, host → member: the request is over (answered early, or failed); drop its rows. */
  z.object({ type: z.literal('seq-cancel'), ...requestFields, stage: count }),
  /** Agent → coordinator: the answer, from the final classifier or an early exit. */
  z.object({
    type: z.literal('result'),
    ...requestFields,
    exitLayer: count,
    early: z.boolean(),
    logits: z.array(z.number().finite()).min(1).max(FRAME_LIMITS.maxLabels),
    trace: z.array(hopSchema).max(FRAME_LIMITS.maxTraceHops),
    /** dact policies: the halting signal the decision used (the exit's trained unit, or the entropy stand-in) */
    halting: z.enum(['trained', 'entropy']).optional(),
  }),
  /**
   * Agent → coordinator: an exit head that did not fire. Kept so that a request whose later stages
   * fail can still be answered (flagged as early) instead of lost.
   */
  z.object({
    type: z.literal('interim'),
    ...requestFields,
    exitLayer: count,
    logits: z.array(z.number().finite()).min(1).max(FRAME_LIMITS.maxLabels),
  }),
  /** Anyone → the requester: the request failed; retryable says whether trying again can help. */
  z.object({ type: z.literal('error'), ...requestFields, message: z.string().max(4096), retryable: z.boolean() }),
  z.object({ type: z.literal('stats-request'), requestId: id }),
  /** Coordinator → agent: measure your links to these peers (at join time, for the planner). */
  z.object({ type: z.literal('probe-request'), requestId: id, peers: z.array(id).max(64) }),
  /** Agent → agent: a probe of `payload` bytes; answered by a probe-echo without payload. */
  z.object({
    type: z.literal('probe'),
    requestId: id,
    seq: count,
    payload: z.instanceof(Uint8Array).refine((p) => p.byteLength <= 2 << 20, { message: 'probe payload over 2 MiB' }),
  }),
  z.object({ type: z.literal('probe-echo'), requestId: id, seq: count }),
  /** Agent → coordinator: what it measured. */
  z.object({
    type: z.literal('link-report'),
    requestId: id,
    agent: id,
    links: z.array(z.object({ peer: id, latencyMs: ms, bandwidthBytesPerSec: z.number().finite().positive() })).max(64),
    errors: z.array(z.string().max(512)).max(64),
  }),
  z.object({
    type: z.literal('stats'),
    requestId: id,
    agent: id,
    stageRuns: count,
    partialRuns: count,
    earlyExits: count,
    layersRun: count,
    /** request steps that failed on this agent (answered with an error frame) */
    failures: count.optional().default(0),
    /** cached shards found corrupt on disk and downloaded again */
    cacheCorruptions: count.optional().default(0),
    /** data-plane bytes this agent has sent since it started */
    bytesSent: count,
    /** request steps accepted and not finished now (waiting or running): the agent's queue depth */
    stepsInFlight: count.optional().default(0),
    /**
     * Emulated agents (sim/): shard runs stretched to the emulated device's speed, their summed target
     * time, and how far real run time went past it (the machine could not keep up); 0 when not emulating.
     */
    emulatedRuns: count.optional(),
    emulationTargetMs: ms.optional(),
    emulationOvershootMs: ms.optional(),
    emulationOvershotRuns: count.optional(),
    /** the machine's reference GFLOP/s per CPU-second the stretch used last (device-agent/host-speed.ts) */
    emulationReferenceGflops: z.number().finite().nonnegative().optional(),
    /** sequence-parallel stage runs this agent took part in as a member (not the host) */
    seqMemberRuns: count.optional(),
  }),
]);
export type Frame = z.infer<typeof frameSchema>;
export type FrameOf<T extends Frame['type']> = Extract<Frame, { type: T }>;

/** A data-plane frame that is too large, not msgpack, or not a valid frame. */
export class FrameError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_BAD_FRAME';
}

// Plain maps, no msgpackr records: any msgpack implementation can read these frames.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function encodeFrame(frame: Frame): Buffer {
  return packr.pack(frame);
}

/** Decodes and validates one frame; anything malformed becomes a FrameError, never a crash. */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.byteLength > FRAME_LIMITS.maxFrameBytes) {
    throw new FrameError(`frame of ${bytes.byteLength} bytes exceeds the ${FRAME_LIMITS.maxFrameBytes}-byte limit`);
  }
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    throw new FrameError(`not a msgpack frame: ${(err as Error).message}`);
  }
  const parsed = frameSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FrameError(
      `invalid frame: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unknown'}`,
    );
  }
  const problem = requestTensorProblem(parsed.data);
  if (problem) throw new FrameError(`invalid frame: ${problem}`);
  return parsed.data;
}

function int64At(t: WireTensor, i: number): bigint {
  return new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength).getBigInt64(i * 8, true);
}

/**
 * The tensors of a request must describe one: an int64 [batch, seq] mask of 0/1 within maxTokens,
 * token ids (≥ 0) of the mask's shape, float hidden states / partial sums [batch, seq, hidden].
 * Beyond byte-length agreement, this keeps a well-formed but absurd tensor (a 16k-token hidden state,
 * a zero-sized batch) from reaching ONNX Runtime.
 */
function requestTensorProblem(frame: Frame): string | undefined {
  const isFloat = (t: WireTensor) => t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'int8';
  const tokens = (b: number, s: number) => b >= 1 && s >= 1 && b * s <= FRAME_LIMITS.maxTokens;
  const hiddenProblem = (name: string, t: WireTensor, b?: number, s?: number): string | undefined => {
    const [tb = 0, ts = 0, th = 0] = t.shape;
    if (!isFloat(t) || t.shape.length !== 3)
      return `${name} must be a float [batch, seq, hidden] tensor, got ${t.dtype} [${t.shape.join(', ')}]`;
    if (!tokens(tb, ts) || th < 1 || th > FRAME_LIMITS.maxHidden)
      return `${name} [${t.shape.join(', ')}] exceeds ${FRAME_LIMITS.maxTokens} tokens × ${FRAME_LIMITS.maxHidden} or is empty`;
    if (b !== undefined && (tb !== b || ts !== s))
      return `${name} [${t.shape.join(', ')}] does not match the attention mask [${b}, ${s}]`;
    return undefined;
  };
  if (frame.type === 'partial') {
    const [pb = 0, ps = 0] = frame.partial.shape;
    const scores = frame.scores;
    if (
      scores &&
      (scores.dtype !== 'float32' || scores.shape.length !== 2 || scores.shape[0] !== pb || scores.shape[1] !== ps)
    )
      return `scores must be float32 [${pb}, ${ps}] like the partial, got ${scores.dtype} [${scores.shape.join(', ')}]`;
    return hiddenProblem('partial', frame.partial);
  }
  if (frame.type === 'seq-rows') {
    const [rb = 0, rn = 0] = frame.rows.shape;
    if (rb !== 1 || frame.rowStart + rn > FRAME_LIMITS.maxTokens)
      return `rows [${frame.rows.shape.join(', ')}] from row ${frame.rowStart} must be [1, n, hidden] within ${FRAME_LIMITS.maxTokens} tokens`;
    return hiddenProblem('rows', frame.rows);
  }
  if (frame.type !== 'stage-input' && frame.type !== 'scatter' && frame.type !== 'seq-start') return undefined;
  const mask = frame.attentionMask;
  const [b = 0, s = 0] = mask.shape;
  if (mask.dtype !== 'int64' || mask.shape.length !== 2)
    return `attentionMask must be int64 [batch, seq], got ${mask.dtype} [${mask.shape.join(', ')}]`;
  if (!tokens(b, s)) return `attentionMask [${b}, ${s}] must hold 1 to ${FRAME_LIMITS.maxTokens} tokens`;
  for (let i = 0; i < b * s; i++) {
    const v = int64At(mask, i);
    if (v !== 0n && v !== 1n) return 'attentionMask values must be 0 or 1';
  }
  if (frame.type === 'seq-start') {
    // A position-parallel member gets only its own positions of the one sequence: [1, n ≤ seq, hidden].
    const rows = frame.hidden.shape[1] ?? 0;
    return hiddenProblem('hidden', frame.hidden, b, b === 1 && rows <= s ? rows : s);
  }
  if (frame.type === 'scatter') return hiddenProblem('hidden', frame.hidden, b, s);
  if (frame.stage > 0)
    return frame.hidden
      ? hiddenProblem('hidden', frame.hidden, b, s)
      : `stage ${frame.stage} input needs a hidden state`;
  const ids = frame.inputIds;
  if (!ids) return 'stage 0 input needs token ids';
  if (ids.dtype !== 'int64' || ids.shape.length !== 2 || ids.shape[0] !== b || ids.shape[1] !== s) {
    return `inputIds must be int64 of the attention mask's shape [${b}, ${s}], got ${ids.dtype} [${ids.shape.join(', ')}]`;
  }
  for (let i = 0; i < b * s; i++) {
    const v = int64At(ids, i);
    if (v < 0n || v > 0x7fffffffn) return `token id ${v} is out of range`;
  }
  return undefined;
}
