import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import * as ort from 'onnxruntime-node';
import type { HostTensor } from '@edgerelay/proto';
import type { ComputeThread } from './compute-thread.js';
import { shardSessionOptions } from './ort-options.js';
import { fromOrtResults, toOrtFeeds } from './ort-tensors.js';

/** Wraps every run of a session: an emulated agent stretches runs to the emulated device's speed. */
export interface RunStretch {
  /** `cpuMsOf`: the run's own CPU time where the run measured it (on the compute thread); else the process's. */
  around<T>(key: string, run: () => Promise<T>, cpuMsOf?: (result: T) => number | undefined): Promise<T>;
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
  /** Load and run the session on this thread (an agent's: compute-thread.ts) instead of the caller's. */
  thread?: ComputeThread;
}

type Outputs = Record<string, HostTensor>;

/** Where a session lives: in this thread's ONNX Runtime, or on a compute thread. */
interface SessionBackend {
  run(inputs: Record<string, HostTensor>): Promise<{ outputs: Outputs; cpuMs?: number }>;
  release(): Promise<void>;
}

/** One compiled shard loaded into ONNX Runtime, fed and read as HostTensors by name. */
export class ShardSession {
  private constructor(
    private readonly backend: SessionBackend,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    private readonly stretch: RunStretch | undefined,
    /** Shards with the same key do the same work (every layer of a model): the stretch times them as one. */
    private readonly workKey: string,
  ) {}

  static async create(model: Uint8Array, options: SessionOptions = {}): Promise<ShardSession> {
    const workKey = options.workKey ?? `session ${ShardSession.nextId++}`;
    const { thread } = options;
    if (thread) {
      const loaded = await thread.load(model, options.threads);
      const backend: SessionBackend = {
        run: (inputs) => thread.run(loaded.session, inputs),
        release: () => thread.release(loaded.session),
      };
      return new ShardSession(backend, loaded.inputNames, loaded.outputNames, options.stretch, workKey);
    }
    const session = await ort.InferenceSession.create(model, shardSessionOptions(options.threads));
    return new ShardSession(inThread(session), session.inputNames, session.outputNames, options.stretch, workKey);
  }

  private static nextId = 0;

  /** Runs the shard; `feeds` may hold more tensors than it needs, only its own inputs are passed. */
  async run(feeds: Record<string, HostTensor>): Promise<Outputs> {
    const inputs: Record<string, HostTensor> = {};
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t)
        throw new StepRefusedError(
          STEP_REFUSED_CODES.shardInputMissing,
          `shard input "${name}" was not provided (have: ${Object.keys(feeds).join(', ')})`,
        );
      inputs[name] = t;
    }
    if (!this.stretch) return (await this.backend.run(inputs)).outputs;
    const shape = this.inputNames.map((n) => inputs[n]!.dims.join('x')).join(',');
    const result = await this.stretch.around(
      `${this.workKey}:${shape}`,
      () => this.backend.run(inputs),
      (r) => r.cpuMs,
    );
    return result.outputs;
  }

  async release(): Promise<void> {
    await this.backend.release();
  }
}

function inThread(session: ort.InferenceSession): SessionBackend {
  return {
    run: async (inputs) => ({ outputs: fromOrtResults(await session.run(toOrtFeeds(inputs))) }),
    release: () => session.release(),
  };
}
