/**
 * The frozen backbone's [CLS] hidden state after every layer (the input of an exit head's pooler),
 * for distilling exit heads: the encoder runs once per text, as a chain of per-layer shards.
 */
import type { Checkpoint } from '../checkpoint/types.js';
import { maxSequenceLength } from '../checkpoint/index.js';
import { compileShard, IO, type ShardSpec } from '../compiler/index.js';
import type { TextInput, TextTokenizer } from '../tokenizer/index.js';
import { ShardSession, int64Tensor, type HostTensor } from '@edgerelay/device-agent';

export interface ClsFeatures {
  count: number;
  hidden: number;
  /** byLayer[l] holds [count × hidden]: token 0 of 0-based layer l's output. */
  byLayer: Float32Array[];
}

export interface FeatureOptions {
  threads?: number;
  maxLength?: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function collectClsFeatures(
  checkpoint: Checkpoint,
  tokenizer: TextTokenizer,
  texts: readonly TextInput[],
  options: FeatureOptions = {},
): Promise<ClsFeatures> {
  const { numLayers, hiddenSize: H } = checkpoint.config;
  const maxLength =
    options.maxLength ?? Math.min(maxSequenceLength(checkpoint.config), tokenizer.modelMaxLength ?? Infinity);
  const batchSize = options.batchSize ?? 32;
  const load = (spec: ShardSpec) => ShardSession.create(compileShard(checkpoint, spec), { threads: options.threads });
  const embeddings = await load({ kind: 'embeddings' });
  const layers: ShardSession[] = [];
  try {
    for (let l = 0; l < numLayers; l++) layers.push(await load({ kind: 'layers', start: l, end: l + 1 }));
    const byLayer = Array.from({ length: numLayers }, () => new Float32Array(texts.length * H));
    for (let start = 0; start < texts.length; start += batchSize) {
      const batch = tokenizer.encodeBatch(texts.slice(start, start + batchSize), maxLength);
      const dims = [batch.batchSize, batch.seqLen];
      const feeds: Record<string, HostTensor> = {
        [IO.inputIds]: int64Tensor(batch.inputIds, dims),
        [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, dims),
        [IO.attentionMask]: int64Tensor(batch.attentionMask, dims),
      };
      let hidden = (await embeddings.run(feeds))[IO.hiddenOut]!;
      for (let l = 0; l < numLayers; l++) {
        hidden = (await layers[l]!.run({ ...feeds, [IO.hidden]: hidden }))[IO.hiddenOut]!;
        const data = hidden.data as Float32Array;
        // hidden is [batch, seq, H]; the pooler reads token 0 ([CLS]) of each row.
        for (let b = 0; b < batch.batchSize; b++)
          byLayer[l]!.set(data.subarray(b * batch.seqLen * H, b * batch.seqLen * H + H), (start + b) * H);
      }
      options.onProgress?.(Math.min(start + batchSize, texts.length), texts.length);
    }
    return { count: texts.length, hidden: H, byLayer };
  } finally {
    await Promise.all([embeddings, ...layers].map((s) => s.release()));
  }
}
