import type { FloatWireDtype } from '@edgerelay/proto';
import type { ClusterDevice } from './cluster-model.js';
import type { Link } from './devices.js';
import type { PlanModelInfo } from './plan-model.js';

/**
 * The analytic cost model: FLOPs of each part of a BERT layer for the heads and FFN columns a
 * device holds, bytes on the wire per hop, and bytes of memory per shard. Formulas: docs/planner.md.
 */

/** What the cost model needs beyond PlanModelInfo: the tensor sizes. */
export interface PlannerModel extends PlanModelInfo {
  hiddenSize: number;
  vocabSize: number;
  maxPositions: number;
  typeVocabSize?: number;
  /** Parameter-shared models: the weight group of each layer slot (slots of a group share one shard). */
  layerGroups?: number[];
  /** Parameter-shared models: ODE steps K; only K slots compute (planning/shared-layers.ts). exitLayers should be the step slots'. */
  odeSteps?: number;
  /** ALBERT: the embedding size E (embeddings are E wide, then projected to the hidden size). */
  embeddingSize?: number;
  /**
   * Heads removed per layer (original indices; config.json's pruned_heads): a pruned layer costs only its
   * remaining heads. Absent for an unpruned model. See pruned-layers.ts.
   */
  prunedHeads?: number[][];
  /** 'int8' for an int8 checkpoint: devices then run its layers at their int8 speed (int8-speed.ts). */
  weightDtype?: 'int8';
}

export interface CostParams {
  seqLen: number;
  wireDtype: FloatWireDtype;
  /** Fixed cost of one ONNX Runtime session run (input binding, thread wake-up, output allocation). */
  opOverheadMs: number;
  /**
   * The same kind of cost, in work units, so it takes longer on a slower device (MFLOP-equivalent),
   * proportional to the activations a run moves: opOverheadFlopsPerValue × seq × hidden.
   */
  opOverheadMflop: number;
  opOverheadFlopsPerValue: number;
  /** Encoder FLOPs run this much faster than the matmul benchmark the GFLOP/s figure comes from. */
  efficiency: number;
  /**
   * Matrix products on few rows run less efficiently: a run on M rows takes (1 + smallRunRows / M) times its FLOPs'
   * time (a position-parallel member's runs are on S/N rows; every other run is on all S).
   */
  smallRunRows: number;
  /**
   * The same for runs whose products put the weights on the left (feature-major layout: position-parallel shards
   * of float32 weights, coordinator/compiler/feature-major.ts), which few rows slow down far less.
   */
  featureMajorRunRows: number;
  /** Per request, outside the agents: HTTP, tokenizing, the coordinator's hops to stage 0 and back. */
  requestOverheadMs: number;
  /** msgpack + WebSocket framing of one data-plane message. */
  frameOverheadBytes: number;
  /**
   * Software time of one data-plane message besides its bytes on the wire: encoding, the socket, decoding and
   * the receiver's event loop. Group layers send many (a sequence-parallel layer 4·(N−1) per member).
   */
  messageOverheadMs: number;
  /**
   * Encoding and decoding a million values of a float16 or int8 wire (agents convert to and from float32
   * in JavaScript, on the sender and on the receiver); float32 travels as it is.
   */
  float16CodingMsPerMValue: number;
  int8CodingMsPerMValue: number;
  /** Part of a device's memory kept for the OS and the agent itself... */
  memoryReserveFraction: number;
  /** ...plus this much (Node.js + ONNX Runtime baseline). */
  memoryReserveBytes: number;
  /** Bookkeeping of one loaded ONNX Runtime session besides its weights. */
  sessionOverheadBytes: number;
}

export const DEFAULT_COST_PARAMS: Omit<CostParams, 'seqLen' | 'wireDtype'> = {
  // Re-fitted 2026-12-02 (06:36 UTC) against 58 measured plans of every form at 64 and 192 tokens on two emulated
  // clusters, after agents moved their shards to a compute thread (npm run bench -- cost-fit; docs/benchmarks.md,
  // "Fourth fit"). A run's overhead is mostly in the activations it binds (468 FLOP per value) plus 0.2 ms; products
  // on M rows take (1 + 21/M) times their FLOPs' time, a position-parallel member's feature-major runs (1 + 15/M),
  // that term also absorbing the member's exchange waits; a data-plane message about 2.8 ms besides its bytes. RMS
  // error over the 49 points not flagged: 6.2% with the third fit's figures, 3.8% with these.
  opOverheadMs: 0.214,
  opOverheadMflop: 0,
  opOverheadFlopsPerValue: 468,
  efficiency: 1.12,
  smallRunRows: 21.1,
  featureMajorRunRows: 15.4,
  requestOverheadMs: 2.5,
  frameOverheadBytes: 256,
  messageOverheadMs: 2.76,
  // Fitted by the same command; in one process alone the coding measured 17.1 and 18.3 ms per million values.
  float16CodingMsPerMValue: 15.2,
  int8CodingMsPerMValue: 9.57,
  memoryReserveFraction: 0.2,
  memoryReserveBytes: 256 * 1024 * 1024,
  sessionOverheadBytes: 1024 * 1024,
};

const F32 = 4;
const MASK_BYTES_PER_TOKEN = 8; // the attention mask travels as int64
/** Elementwise FLOPs per value: LayerNorm (mean, variance, normalise, scale, shift), softmax, GELU (erf form). */
const LAYERNORM_FLOPS = 8;
const SOFTMAX_FLOPS = 5;
const GELU_FLOPS = 8;

export interface Dims {
  S: number;
  H: number;
  A: number;
  d: number;
  F: number;
}

export function dims(model: PlannerModel, seqLen: number): Dims {
  return {
    S: seqLen,
    H: model.hiddenSize,
    A: model.numHeads,
    d: model.hiddenSize / model.numHeads,
    F: model.intermediateSize,
  };
}

/** FLOPs of one layer's parts for a device holding `heads` heads and `columns` FFN columns. */
export function layerPartFlops({ S, H, d }: Dims, heads: number, columns: number) {
  const hd = heads * d;
  return {
    qkv: 2 * S * H * (3 * hd) + 3 * S * hd,
    attention: 2 * 2 * S * S * hd + SOFTMAX_FLOPS * heads * S * S,
    outProjection: 2 * S * hd * H,
    ffn: 2 * S * H * columns * 2 + S * columns + GELU_FLOPS * S * columns,
  };
}

export function attentionPartialFlops(dm: Dims, heads: number): number {
  const p = layerPartFlops(dm, heads, 0);
  return p.qkv + p.attention + p.outProjection;
}

export function ffnPartialFlops(dm: Dims, columns: number): number {
  return layerPartFlops(dm, 0, columns).ffn;
}

/** Host side of a split layer part: sum `partials` partial results, add bias and residual, LayerNorm. */
export function combineFlops({ S, H }: Dims, partials: number): number {
  return S * H * (partials + 2 + LAYERNORM_FLOPS);
}

/** A whole layer with `heads` heads (fewer than A once heads are pruned). */
export function wholeLayerFlops(dm: Dims, heads = dm.A): number {
  return attentionPartialFlops(dm, heads) + ffnPartialFlops(dm, dm.F) + 2 * combineFlops(dm, 1);
}

export function embeddingsFlops({ S, H }: Dims): number {
  return S * H * (2 + LAYERNORM_FLOPS); // word + position + type, then LayerNorm; the lookups move memory only
}

/** Pooler (token 0 only) and classifier. */
export function exitHeadFlops({ H }: Dims, numLabels: number): number {
  return 2 * H * H + 4 * H + 2 * H * numLabels;
}

// ---- bytes on the wire ----

export function wireBytesPerValue(dtype: FloatWireDtype): number {
  return dtype === 'int8' ? 1 : dtype === 'float16' ? 2 : 4;
}

/** A hidden state or partial sum [S, H] as it travels: int8 adds one float32 scale per token (row). */
export function hiddenWireBytes(dm: Dims, dtype: FloatWireDtype): number {
  return dm.S * dm.H * wireBytesPerValue(dtype) + (dtype === 'int8' ? dm.S * F32 : 0);
}

/** Hidden state [S, H] plus the attention mask, forwarded from one stage host to the next. */
export function stageInputBytes(dm: Dims, p: CostParams): number {
  return hiddenWireBytes(dm, p.wireDtype) + dm.S * MASK_BYTES_PER_TOKEN + p.frameOverheadBytes;
}

/** A scatter carries the same payload as a stage input. */
export const scatterBytes = stageInputBytes;

/** A member's partial sum [S, H] back to the host. */
export function partialBytes(dm: Dims, p: CostParams): number {
  return hiddenWireBytes(dm, p.wireDtype) + p.frameOverheadBytes;
}

// ---- memory (weights are float32 once compiled) ----

export function embeddingsWeightBytes(model: PlannerModel): number {
  const H = model.hiddenSize;
  const E = model.embeddingSize ?? H;
  const projection = model.embeddingSize ? E * H + H : 0; // ALBERT's embedding_hidden_mapping_in
  return ((model.vocabSize + model.maxPositions + (model.typeVocabSize ?? 2)) * E + 2 * E + projection) * F32;
}

export function wholeLayerWeightBytes({ H, F, A, d }: Dims, heads = A): number {
  const hd = heads * d;
  // Q, K, V and output projections with their biases, FFN, two LayerNorms; hd = H when no head is pruned.
  return (4 * H * hd + 3 * hd + H + 2 * H * F + F + H + 4 * H) * F32;
}

export function attentionPartialWeightBytes({ H, d }: Dims, heads: number): number {
  const hd = heads * d;
  return (3 * H * hd + 3 * hd + hd * H) * F32;
}

export function ffnPartialWeightBytes({ H }: Dims, columns: number): number {
  return (2 * H * columns + columns) * F32;
}

/** Both combine shards of a layer: output biases and LayerNorm parameters. */
export function combineWeightBytes({ H }: Dims): number {
  return 2 * 3 * H * F32;
}

export function exitHeadWeightBytes({ H }: Dims, numLabels: number): number {
  return (H * H + H + H * numLabels + numLabels) * F32;
}

/** Peak intermediate tensors of one session run (sessions run one at a time, without an arena). */
export function activationBytes({ S, H, d }: Dims, heads: number, columns: number): number {
  const attention = S * 3 * heads * d + 2 * heads * S * S + S * heads * d;
  const ffn = 2 * S * columns;
  return (Math.max(attention, ffn) + 2 * S * H) * F32;
}

export function usableMemoryBytes(device: ClusterDevice, p: CostParams): number {
  return Math.max(0, Math.floor(device.memoryBytes * (1 - p.memoryReserveFraction) - p.memoryReserveBytes));
}

// ---- time ----

export function computeMs(flops: number, gflops: number, runs: number, p: CostParams, rows = p.seqLen): number {
  return flopsMs(flops, gflops, p, rows) + runs * (p.opOverheadMs + p.opOverheadMflop / gflops);
}

/** The time of `flops` on a device of `gflops` in a run on `rows` rows, without the run's overhead. */
export function flopsMs(
  flops: number,
  gflops: number,
  p: CostParams,
  rows: number,
  smallRunRows = p.smallRunRows,
): number {
  return (flops / (gflops * 1e6 * p.efficiency)) * (1 + smallRunRows / Math.max(1, rows));
}

/**
 * One session run of a group member: its matrix products work on `rows` rows and it binds `boundRows` rows of
 * activations. `p.opOverheadMflop` holds the per-value part of the run overhead for all S rows (costContext); a run
 * pays `boundRows / S` of it. `smallRunRows`: the run's few-row term (featureMajorRunRows for feature-major shards).
 */
export function rowsRunMs(
  flops: number,
  gflops: number,
  p: CostParams,
  dm: Dims,
  rows: number,
  boundRows = rows,
  smallRunRows = p.smallRunRows,
) {
  const perValue = (p.opOverheadFlopsPerValue * dm.S * dm.H) / 1e6;
  const base = p.opOverheadMflop - perValue;
  return (
    flopsMs(flops, gflops, p, rows, smallRunRows) + p.opOverheadMs + (base + (perValue * boundRows) / dm.S) / gflops
  );
}

/** Serialisation of `bytes` on a link, without its latency. */
export function wireMs(bytes: number, link: Link): number {
  return Number.isFinite(link.bandwidthBytesPerSec) ? (bytes / link.bandwidthBytesPerSec) * 1000 : 0;
}

/** The software time of one data-plane message of `values` hidden-state values: its fixed cost and the coding of its dtype. */
export function messageMs(values: number, p: CostParams): number {
  const coding =
    p.wireDtype === 'int8' ? p.int8CodingMsPerMValue : p.wireDtype === 'float16' ? p.float16CodingMsPerMValue : 0;
  return p.messageOverheadMs + (values / 1e6) * coding;
}

export function transferMs(bytes: number, link: Link): number {
  return link.latencyMs + wireMs(bytes, link);
}
