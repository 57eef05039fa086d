import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import * as ort from 'onnxruntime-node';
import type { HostTensor } from '@edgerelay/proto';

/** Wraps every run of a session: an emulated agent stretches runs to the emulated device's speed. */
export interface RunStretch {
  around<T>(key: string, run: () => Promise<T>): Promise<T>;
}

export interface SessionOptions {
  /** Intra-op threads; 0 lets ONNX Runtime pick (all cores). */
  threads?: number;
  /** Set by an emulated agent (device-agent/emulation.ts ComputeStretch); runs at full speed without. */
  stretch?: RunStretch;
  /**
   * Sessions with the same key do the same work (every layer of a model: shards differing only in their
   * weights): an emulated agent times them as one. Default: a key of this session's own.
   */
  workKey?: string;
}

/** One compiled shard loaded into ONNX Runtime, fed and read as HostTensors by name. */
export class ShardSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    private readonly stretch: RunStretch | undefined,
    /** Shards with the same key do the same work (every layer of a model): the stretch times them as one. */
    private readonly workKey: string,
  ) {}

  static async create(model: Uint8Array, options: SessionOptions = {}): Promise<ShardSession> {
    const session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // A chain of shards with one arena each keeps its scratch buffers apart, so every layer starts
      // with a cold cache; plain malloc hands the previous shard's freed (still cached) memory back.
      enableCpuMemArena: false,
      // Each shard has its own thread pool; spinning workers of an idle shard would steal the cores
      // the next shard in the chain needs, so idle threads sleep instead.
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    });
    const workKey = options.workKey ?? `session ${ShardSession.nextId++}`;
    return new ShardSession(session, session.inputNames, session.outputNames, options.stretch, workKey);
  }

  private static nextId = 0;

  /** Runs the shard; `feeds` may hold more tensors than it needs, only its own inputs are passed. */
  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    if (!this.stretch) return this.runNow(feeds);
    const shape = this.inputNames.map((n) => feeds[n]?.dims.join('x')).join(',');
    return this.stretch.around(`${this.workKey}:${shape}`, () => this.runNow(feeds));
  }

  private async runNow(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const inputs: Record<string, ort.Tensor> = {};
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t)
        throw new StepRefusedError(
          STEP_REFUSED_CODES.shardInputMissing,
          `shard input "${name}" was not provided (have: ${Object.keys(feeds).join(', ')})`,
        );
      inputs[name] = new ort.Tensor(t.dtype, t.data, t.dims);
    }
    const results = await this.session.run(inputs);
    const out: Record<string, HostTensor> = {};
    for (const [name, tensor] of Object.entries(results)) {
      const dims = [...tensor.dims];
      out[name] =
        tensor.type === 'int64'
          ? { dtype: 'int64', dims, data: tensor.data as BigInt64Array }
          : { dtype: 'float32', dims, data: tensor.data as Float32Array };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
