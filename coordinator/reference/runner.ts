import type { Checkpoint } from '../checkpoint/types.js';
import { maxSequenceLength } from '../checkpoint/families.js';
import { compileShard, IO } from '../compiler/index.js';
import { isTextPair, type EncodedBatch, type TextInput, type TextTokenizer } from '../tokenizer/index.js';
import { EdgeRelayError, OdeStepsError, odeSchedule } from '@edgerelay/proto';
import { createHash } from 'node:crypto';
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
  /** The second text of a sentence pair. */
  textPair?: string;
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
  /** Tokens per text, special tokens included; defaults to the model's position limit (or the tokenizer's, if lower). */
  maxLength?: number;
  /** ODE steps K of a parameter-shared (ALBERT) model; default: numLayers (the ordinary model). */
  odeSteps?: number;
}

/**
 * Runs the model on one machine as a chain of per-layer shards, evaluating every exit head:
 * the single-node reference the distributed runtime must agree with.
 */
export class ReferenceRunner {
  private constructor(
    private readonly checkpoint: Checkpoint,
    private readonly tokenizer: TextTokenizer,
    private readonly embeddings: ShardSession,
    private readonly layers: ShardSession[],
    private readonly heads: Map<number, ShardSession>,
    readonly maxLength: number,
    readonly odeSteps: number,
    private readonly threads?: number,
  ) {}

  /** Layer shards that also output each token's context contribution, loaded on the first pruned run. */
  private scoringLayers?: Promise<ShardSession[]>;

  static async create(
    checkpoint: Checkpoint,
    tokenizer: TextTokenizer,
    options: ReferenceRunnerOptions = {},
  ): Promise<ReferenceRunner> {
    if (checkpoint.exitLayers.length === 0) {
      throw new NoClassifierError(
        `${checkpoint.dir} has no classifier head (a bare BertModel); classification needs a BertForSequenceClassification checkpoint.`,
      );
    }
    const threads = options.threads;
    // One session per distinct shard: the slots of a shared ALBERT layer group compile to the same bytes.
    const byHash = new Map<string, ShardSession>();
    const load = async (spec: Parameters<typeof compileShard>[1]) => {
      const bytes = compileShard(checkpoint, spec);
      const hash = createHash('sha256').update(bytes).digest('hex');
      let session = byHash.get(hash);
      if (!session) byHash.set(hash, (session = await ShardSession.create(bytes, { threads })));
      return session;
    };
    const odeSteps = checkOdeSteps(checkpoint, options.odeSteps);
    const embeddings = await load({ kind: 'embeddings' });
    const layers: ShardSession[] = [];
    for (let l = 0; l < checkpoint.config.numLayers; l++)
      layers.push(await load({ kind: 'layers', start: l, end: l + 1 }));
    const heads = new Map<number, ShardSession>();
    for (const l of checkpoint.exitLayers) heads.set(l, await load({ kind: 'head', layer: l }));
    // tokenizer_config.json's model_max_length can be the tighter bound.
    const maxLength =
      options.maxLength ?? Math.min(maxSequenceLength(checkpoint.config), tokenizer.modelMaxLength ?? Infinity);
    return new ReferenceRunner(checkpoint, tokenizer, embeddings, layers, heads, maxLength, odeSteps, threads);
  }

  /** Distinct ONNX sessions this runner holds (one per distinct weight set). */
  get sessionCount(): number {
    return new Set([this.embeddings, ...this.layers, ...this.heads.values()]).size;
  }

  /**
   * Logits (and halting logits, where the checkpoint has units) of every head for one padded batch.
   * With `odeSteps` K < numLayers only the K step slots run (β = L/K) and only their heads answer; with a
   * token-pruning schedule that drops anything, between layers each sequence keeps its top-k tokens.
   */
  async runBatch(batch: EncodedBatch, odeSteps = this.odeSteps, pruning?: TokenPruning): Promise<BatchHeads> {
    if (!keepsEverything(pruning)) {
      checkScheduleFits(pruning!, this.checkpoint.config.numLayers);
      if (odeSteps !== this.checkpoint.config.numLayers)
        throw new OdeStepsError('token pruning and fewer ODE steps cannot be combined yet: choose one of them');
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
    const schedule = odeSchedule(this.layers.length, checkOdeSteps(this.checkpoint, odeSteps));
    const steps = new Set(schedule.stepSlots);
    const feeds: Record<string, HostTensor> = {
      [IO.inputIds]: int64Tensor(batch.inputIds, dims),
      [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, dims),
      [IO.attentionMask]: int64Tensor(batch.attentionMask, dims),
      // Only parameter-shared layer shards read it; a session ignores feeds it has no input for.
      [IO.stepSize]: { dtype: 'float32', data: Float32Array.of(schedule.stepSize), dims: [1] },
    };
    let hidden = (await this.embeddings.run(feeds))[IO.hiddenOut]!;
    const logits = new Map<number, Float32Array>();
    const halting = new Map<number, Float32Array>();
    for (let l = 0; l < this.layers.length; l++) {
      if (!steps.has(l)) continue;
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

  async classify(
    texts: readonly TextInput[],
    batchSize = 16,
    odeSteps = this.odeSteps,
    pruning?: TokenPruning,
  ): Promise<ClassifyResult[]> {
    const results: ClassifyResult[] = [];
    for (let start = 0; start < texts.length; start += batchSize) {
      const chunk = texts.slice(start, start + batchSize);
      const batch = this.tokenizer.encodeBatch(chunk, this.maxLength);
      const heads = await this.runBatch(batch, odeSteps, pruning);
      // Under a schedule that keeps everything, every layer ran on the whole of each text.
      if (pruning && !heads.tokens) heads.tokens = this.layers.map(() => [...batch.lengths]);
      chunk.forEach((text, b) => results.push(this.describe(text, heads, b)));
    }
    return results;
  }

  private describe(input: TextInput, heads: BatchHeads, b: number): ClassifyResult {
    const { numLabels, labels } = this.checkpoint.config;
    const exits = [...heads.logits.entries()].map(([layer, all]): ExitResult => {
      const row = Array.from(all.subarray(b * numLabels, (b + 1) * numLabels));
      const probs = softmax(row);
      const unit = heads.halting.get(layer);
      return { layer, logits: row, probs, label: labels[argmax(probs)]!, ...(unit && { halting: sigmoid(unit[b]!) }) };
    });
    const final = exits[exits.length - 1]!;
    const tokens = heads.tokens && { tokensPerLayer: heads.tokens.map((perSeq) => perSeq[b]!) };
    const text = isTextPair(input) ? { text: input.text, textPair: input.textPair } : { text: input };
    return { ...text, label: final.label, score: Math.max(...final.probs), exits, ...tokens };
  }

  async release(): Promise<void> {
    const scoring = this.scoringLayers ? await this.scoringLayers : [];
    const sessions = new Set([this.embeddings, ...this.layers, ...scoring, ...this.heads.values()]);
    await Promise.all([...sessions].map((s) => s.release()));
  }
}

/** K steps of size L/K are only meaningful for a parameter-shared model: every step applies the same layer. */
function checkOdeSteps(checkpoint: Checkpoint, odeSteps: number | undefined): number {
  const { steps } = odeSchedule(checkpoint.config.numLayers, odeSteps);
  if (steps !== checkpoint.config.numLayers && !checkpoint.config.albert) {
    throw new OdeStepsError(
      `ode_steps ${steps} needs a parameter-shared (ALBERT) model; ${checkpoint.dir} is a ${checkpoint.config.modelType} ` +
        `model with ${checkpoint.config.numLayers} distinct layers. Leave ode_steps unset.`,
    );
  }
  return steps;
}
