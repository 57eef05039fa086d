import { IO } from '../compiler/index.js';
import type { EncodedBatch } from '../tokenizer/index.js';
import { int64Tensor, pruneBatch, realRows, tokensAt, type HostTensor } from '@edgerelay/device-agent';
import type { ShardSession, TokenPruning } from '@edgerelay/device-agent';
import type { BatchHeads } from './runner.js';

/**
 * The reference runner's pruned forward pass: after layer l each sequence keeps
 * tokensAt(keep, l + 1, its real length) tokens by the layer's context contribution; the next
 * layers, and the heads (which read token 0, [CLS], always kept), run on the kept rows only.
 */
export async function runPrunedBatch(
  batch: EncodedBatch,
  pruning: TokenPruning,
  embeddings: ShardSession,
  scoringLayers: ShardSession[],
  heads: Map<number, ShardSession>,
): Promise<BatchHeads> {
  const dims = [batch.batchSize, batch.seqLen];
  let mask: HostTensor = int64Tensor(batch.attentionMask, dims);
  const lengths = realRows(mask).map((rows) => rows.length);
  let hidden = (
    await embeddings.run({
      [IO.inputIds]: int64Tensor(batch.inputIds, dims),
      [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, dims),
    })
  )[IO.hiddenOut]!;
  const logits = new Map<number, Float32Array>();
  const halting = new Map<number, Float32Array>();
  const tokens: number[][] = [];
  for (let l = 0; l < scoringLayers.length; l++) {
    tokens.push(realRows(mask).map((rows) => rows.length));
    const out = await scoringLayers[l]!.run({ [IO.attentionMask]: mask, [IO.hidden]: hidden });
    hidden = out[IO.hiddenOut]!;
    const head = heads.get(l);
    if (head) {
      const h = await head.run({ [IO.hidden]: hidden });
      logits.set(l, h[IO.logits]!.data as Float32Array);
      const unit = h[IO.haltingLogit];
      if (unit) halting.set(l, unit.data as Float32Array);
    }
    if (l + 1 >= scoringLayers.length) continue;
    const targets = lengths.map((n) => tokensAt(pruning.keep, l + 1, n));
    const scores = out[IO.attentionReceivedAt(l)]!.data as Float32Array;
    const pruned = pruneBatch(hidden, mask, scores, targets);
    if (pruned) [hidden, mask] = [pruned.hidden, pruned.mask];
  }
  return { logits, halting, tokens };
}
