import type * as ort from 'onnxruntime-node';

/** How every shard session is created, on the caller's thread or the agent's compute thread alike. */
export function shardSessionOptions(threads: number | undefined): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads ?? 0,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // A chain of shards with one arena each keeps its scratch buffers apart, so every layer starts
    // with a cold cache; plain malloc hands the previous shard's freed (still cached) memory back.
    enableCpuMemArena: false,
    // Each shard has its own thread pool; spinning workers of an idle shard would steal the cores
    // the next shard in the chain needs, so idle threads sleep instead.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}
