/** The model compiled for head-mask evaluation: embeddings, one masked graph per layer, the final classifier. */
import type { Checkpoint } from '../checkpoint/types.js';
import { compileMaskedLayer, compileShard } from '../compiler/index.js';
import { layerHeadCount } from '../compiler/pruned-emitters.js';
import { ShardSession } from '@edgerelay/device-agent';

export class MaskedModel {
  private constructor(
    readonly embeddings: ShardSession,
    readonly layers: ShardSession[],
    readonly head: ShardSession,
    /** Heads each layer has now (fewer than numHeads in an already-pruned checkpoint). */
    readonly headCounts: number[],
    readonly numLabels: number,
  ) {}

  static async create(checkpoint: Checkpoint, threads?: number): Promise<MaskedModel> {
    const L = checkpoint.config.numLayers;
    const options = { threads };
    const embeddings = await ShardSession.create(compileShard(checkpoint, { kind: 'embeddings' }), options);
    const layers: ShardSession[] = [];
    for (let l = 0; l < L; l++) layers.push(await ShardSession.create(compileMaskedLayer(checkpoint, l), options));
    const head = await ShardSession.create(compileShard(checkpoint, { kind: 'head', layer: L - 1 }), options);
    const counts = checkpoint.weights.layers.map((w) => layerHeadCount(w, checkpoint.config));
    return new MaskedModel(embeddings, layers, head, counts, checkpoint.config.numLabels);
  }

  get totalHeads(): number {
    return this.headCounts.reduce((a, b) => a + b, 0);
  }

  async release(): Promise<void> {
    await Promise.all([this.embeddings, ...this.layers, this.head].map((s) => s.release()));
  }
}
