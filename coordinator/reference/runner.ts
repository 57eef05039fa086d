import type { Checkpoint } from '../checkpoint/types.js';
import { compileShard, IO } from '../compiler/index.js';
import type { BertTokenizer, EncodedBatch } from '../tokenizer/index.js';
import { EdgeRelayError } from '@edgerelay/proto';
import { ShardSession, int64Tensor, type HostTensor } from '@edgerelay/device-agent';
import { argmax, softmax } from './softmax.js';
import { checkScheduleFits, keepsEverything, sigmoid, type TokenPruning } from '@edgerelay/device-agent';
import { runPrunedBatch } from './pruned-batch.js';

/** What the heads produced for one batch: layer → [batch × numLabels] logits, and layer → [batch] halting logits (units only). */
export interface BatchHeads {
  logits: Map<number, Float32Array>;
  halting: Map<number, Float32Array>;
  /** With token pruning: tokens[l][b], the tokens layer l ran on for sequence b. */
  tokens?: number[][];
}

export interface ExitResult {
  /** 0-based encoder layer the head reads. */
  layer: number;
  logits: number[];
  probs: number[];
  label: string;
  /** The exit's trained DACT halting value h = sigmoid(unit logit), when the checkpoint has units. */
  halting?: number;
}

export interface ClassifyResult {
  text: string;
  label: string;
  score: number;
  /** Every classifier head, shallowest first; the last is the final classifier. */
  exits: ExitResult[];
  /** With token pruning: tokensPerLayer[l], the tokens layer l ran on (real tokens, [CLS]/[SEP] included). */
  tokensPerLayer?: number[];
}

export class NoClassifierError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_NO_CLASSIFIER';
}

export interface ReferenceRunnerOptions {
  threads?: number;
  /** Tokens per text including [CLS]/[SEP]; defaults to the model's position limit. */
  maxLength?: number;
}

/**
 * Runs the model on one machine as a chain of per-layer shards, evaluating every exit head:
 * the single-node reference the distributed runtime must agree with.
 */
export class ReferenceRunner {
  private constructor(
    private readonly checkpoint: Checkpoint,
    private readonly tokenizer: BertTokenizer,
    private readonly embeddings: ShardSession,
    private readonly layers: ShardSession[],
    private readonly heads: Map<number, ShardSession>,
    readonly maxLength: number,
    private readonly threads?: number,
  ) {}

  /** Layer shards that also output each token's context contribution, loaded on the first pruned run. */
  private scoringLayers?: Promise<ShardSession[]>;

  static async create(
    checkpoint: Checkpoint,
    tokenizer: BertTokenizer,
    options: ReferenceRunnerOptions = {},
  ): Promise<ReferenceRunner> {
    if (checkpoint.exitLayers.length === 0) {
      throw new NoClassifierError(
        `${checkpoint.dir} has no classifier head (a bare BertModel); classification needs a BertForSequenceClassification checkpoint.`,
      );
    }
    const threads = options.threads;
    const load = (spec: Parameters<typeof compileShard>[1]) =>
      ShardSession.create(compileShard(checkpoint, spec), { threads });
    const embeddings = await load({ kind: 'embeddings' });
    const layers: ShardSession[] = [];
    for (let l = 0; l < checkpoint.config.numLayers; l++)
      layers.push(await load({ kind: 'layers', start: l, end: l + 1 }));
    const heads = new Map<number, ShardSession>();
    for (const l of checkpoint.exitLayers) heads.set(l, await load({ kind: 'head', layer: l }));
    const maxLength = options.maxLength ?? checkpoint.config.maxPositions;
    return new ReferenceRunner(checkpoint, tokenizer, embeddings, layers, heads, maxLength, threads);
  }

  /**
   * Logits (and halting logits, where the checkpoint has units) of every head for one padded batch;
   * with a token-pruning schedule that drops anything, between layers each sequence keeps its top-k tokens.
   */
  async runBatch(batch: EncodedBatch, pruning?: TokenPruning): Promise<BatchHeads> {
    if (!keepsEverything(pruning)) {
      checkScheduleFits(pruning!, this.checkpoint.config.numLayers);
      this.scoringLayers ??= Promise.all(
        this.layers.map((_, l) =>
          ShardSession.create(
            compileShard(this.checkpoint, { kind: 'layers', start: l, end: l + 1, attentionReceived: true }),
            {
              threads: this.threads,
            },
          ),
        ),
      );
      return runPrunedBatch(batch, pruning!, this.embeddings, await this.scoringLayers, this.heads);
    }
    const dims = [batch.batchSize, batch.seqLen];
    const feeds: Record<string, HostTensor> = {
      [IO.inputIds]: int64Tensor(batch.inputIds, dims),
      [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, dims),
      [IO.attentionMask]: int64Tensor(batch.attentionMask, dims),
    };
    let hidden = (await this.embeddings.run(feeds))[IO.hiddenOut]!;
    const logits = new Map<number, Float32Array>();
    const halting = new Map<number, Float32Array>();
    for (let l = 0; l < this.layers.length; l++) {
      hidden = (await this.layers[l]!.run({ ...feeds, [IO.hidden]: hidden }))[IO.hiddenOut]!;
      const head = this.heads.get(l);
      if (!head) continue;
      const out = await head.run({ [IO.hidden]: hidden });
      logits.set(l, out[IO.logits]!.data as Float32Array);
      const unit = out[IO.haltingLogit];
      if (unit) halting.set(l, unit.data as Float32Array);
    }
    return { logits, halting };
  }

  async classify(texts: string[], batchSize = 16, pruning?: TokenPruning): Promise<ClassifyResult[]> {
    const results: ClassifyResult[] = [];
    for (let start = 0; start < texts.length; start += batchSize) {
      const chunk = texts.slice(start, start + batchSize);
      const batch = this.tokenizer.encodeBatch(chunk, this.maxLength);
      const heads = await this.runBatch(batch, pruning);
      // Under a schedule that keeps everything, every layer ran on the whole of each text.
      if (pruning && !heads.tokens) heads.tokens = this.layers.map(() => [...batch.lengths]);
      chunk.forEach((text, b) => results.push(this.describe(text, heads, b)));
    }
    return results;
  }

  private describe(text: string, heads: BatchHeads, b: number): ClassifyResult {
    const { numLabels, labels } = this.checkpoint.config;
    const exits = [...heads.logits.entries()].map(([layer, all]): ExitResult => {
      const row = Array.from(all.subarray(b * numLabels, (b + 1) * numLabels));
      const probs = softmax(row);
      const unit = heads.halting.get(layer);
      return { layer, logits: row, probs, label: labels[argmax(probs)]!, ...(unit && { halting: sigmoid(unit[b]!) }) };
    });
    const final = exits[exits.length - 1]!;
    const tokens = heads.tokens && { tokensPerLayer: heads.tokens.map((perSeq) => perSeq[b]!) };
    return { text, label: final.label, score: Math.max(...final.probs), exits, ...tokens };
  }

  async release(): Promise<void> {
    const scoring = this.scoringLayers ? await this.scoringLayers : [];
    await Promise.all([this.embeddings, ...this.layers, ...scoring, ...this.heads.values()].map((s) => s.release()));
  }
}
