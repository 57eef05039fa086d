/**
 * Evaluates the model on a fixed set of rows under a head mask, cheaply: a head in layer l changes nothing
 * below l, so the hidden states entering each layer are cached under the mask of the layers beneath it,
 * and a candidate that differs from an evaluated one only from layer l on starts at layer l.
 */
import { IO } from '@edgerelay/proto';
import { float32Tensor, int64Tensor, type HostTensor } from '@edgerelay/proto';
import type { EncodedBatch } from '../tokenizer/index.js';
import { HEAD_MASK_INPUT } from '../compiler/index.js';
import type { MaskedModel } from './masked-model.js';

export interface EvaluatorOptions {
  /** Bytes of cached hidden states kept (least recently used dropped first). Default 256 MiB. */
  cacheBytes?: number;
}

interface CacheEntry {
  states: HostTensor[];
  bytes: number;
}

/** Rows in batches of similar length (little padding), and where each batch row came from. */
export interface RowBatches {
  batches: EncodedBatch[];
  /** rowOf[b][i]: the input row index of row i of batch b. */
  rowOf: number[][];
  rows: number;
}

export class HeadMaskEvaluator {
  /** Forward evaluations run (memo hits excluded). */
  evaluations = 0;
  /** Layer runs, summed over evaluations (what the cache saves shows here). */
  layerRuns = 0;
  private readonly cache = new Map<string, CacheEntry>();
  private cachedBytes = 0;
  private readonly memo = new Map<string, Float32Array>();
  private readonly offsets: number[];
  private readonly cacheLimit: number;

  constructor(
    private readonly model: MaskedModel,
    private readonly data: RowBatches,
    options: EvaluatorOptions = {},
  ) {
    this.cacheLimit = options.cacheBytes ?? 256 * 1024 * 1024;
    this.offsets = [];
    let o = 0;
    for (const c of model.headCounts) {
      this.offsets.push(o);
      o += c;
    }
  }

  get rows(): number {
    return this.data.rows;
  }

  /** Final-classifier logits [rows × numLabels] in input row order, with the heads scaled by `mask` (flat, layer by layer). */
  async logits(mask: Float32Array): Promise<Float32Array> {
    const L = this.model.layers.length;
    const fullKey = this.prefixKey(mask, L);
    const memo = this.memo.get(fullKey);
    if (memo) return memo;
    this.evaluations++;
    // Deepest layer whose input is cached for this mask's lower layers.
    let start = L - 1;
    while (start > 0 && !this.cache.has(this.prefixKey(mask, start))) start--;
    let states = start === 0 ? await this.embeddings() : this.touch(this.prefixKey(mask, start))!.states;
    for (let l = start; l < L; l++) {
      states = await this.runLayer(l, states, mask);
      this.layerRuns++;
      if (l + 1 < L) this.store(this.prefixKey(mask, l + 1), states);
    }
    const C = this.model.numLabels;
    const out = new Float32Array(this.data.rows * C);
    for (let b = 0; b < states.length; b++) {
      const logits = (await this.model.head.run({ [IO.hidden]: states[b]! }))[IO.logits]!.data as Float32Array;
      this.data.rowOf[b]!.forEach((row, i) => out.set(logits.subarray(i * C, (i + 1) * C), row * C));
    }
    this.memo.set(fullKey, out);
    return out;
  }

  private async runLayer(layer: number, states: HostTensor[], mask: Float32Array): Promise<HostTensor[]> {
    const heads = this.model.headCounts[layer]!;
    const headMask = mask.slice(this.offsets[layer]!, this.offsets[layer]! + heads);
    const next: HostTensor[] = [];
    for (let b = 0; b < states.length; b++) {
      const batch = this.data.batches[b]!;
      const feeds: Record<string, HostTensor> = {
        [IO.hidden]: states[b]!,
        [IO.attentionMask]: int64Tensor(batch.attentionMask, [batch.batchSize, batch.seqLen]),
      };
      if (heads > 0) feeds[HEAD_MASK_INPUT] = float32Tensor(headMask, [heads]);
      next.push((await this.model.layers[layer]!.run(feeds))[IO.hiddenOut]!);
    }
    return next;
  }

  private async embeddings(): Promise<HostTensor[]> {
    const key = 'embeddings';
    const hit = this.cache.get(key);
    if (hit) return hit.states;
    const states: HostTensor[] = [];
    for (const batch of this.data.batches) {
      const dims = [batch.batchSize, batch.seqLen];
      const out = await this.model.embeddings.run({
        [IO.inputIds]: int64Tensor(batch.inputIds, dims),
        [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, dims),
      });
      states.push(out[IO.hiddenOut]!);
    }
    // Pinned: outside the byte budget, never evicted.
    this.cache.set(key, { states, bytes: 0 });
    return states;
  }

  /** The mask of layers 0..layer-1 as a key (the input of `layer` depends on nothing else). */
  private prefixKey(mask: Float32Array, layer: number): string {
    return `${layer}|${Array.from(mask.subarray(0, this.offsets[layer] ?? mask.length)).join(',')}`;
  }

  private touch(key: string): CacheEntry | undefined {
    const entry = this.cache.get(key);
    if (!entry) return undefined;
    this.cache.delete(key);
    this.cache.set(key, entry);
    return entry;
  }

  private store(key: string, states: HostTensor[]): void {
    if (this.cache.has(key)) return;
    const bytes = states.reduce((s, t) => s + (t.data as Float32Array).byteLength, 0);
    if (bytes > this.cacheLimit) return;
    this.cache.set(key, { states, bytes });
    this.cachedBytes += bytes;
    for (const [k, e] of this.cache) {
      if (this.cachedBytes <= this.cacheLimit) break;
      if (e.bytes === 0) continue;
      this.cache.delete(k);
      this.cachedBytes -= e.bytes;
    }
  }
}
