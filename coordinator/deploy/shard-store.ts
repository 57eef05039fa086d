import { createHash } from 'node:crypto';
import { compileShard, type CompilableModel, type ShardSpec } from '../compiler/index.js';
import { shardKey } from '@edgerelay/device-agent';

export interface CompiledShard {
  spec: ShardSpec;
  sha256: string;
  bytes: Uint8Array;
}

/** Compiled shards by spec and by hash: each spec is compiled once, however many plans use it. */
export class ShardStore {
  private readonly byKey = new Map<string, CompiledShard>();
  private readonly byHash = new Map<string, CompiledShard>();

  constructor(private readonly model: CompilableModel) {}

  get(spec: ShardSpec): CompiledShard {
    const key = shardKey(spec);
    let shard = this.byKey.get(key);
    if (!shard) {
      const bytes = compileShard(this.model, spec);
      shard = { spec, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
      this.byKey.set(key, shard);
      this.byHash.set(shard.sha256, shard);
    }
    return shard;
  }

  bytes(sha256: string): Uint8Array | undefined {
    return this.byHash.get(sha256)?.bytes;
  }
}
