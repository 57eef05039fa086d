import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { compileShard, IO } from '../coordinator/compiler/index.js';
import { ShardSession, int64Tensor, type HostTensor } from '../device-agent/runtime/index.js';
import { bertBaseCheckpoint } from './models.js';
import { interleaved, median } from './stats.js';

/** Monolithic graph vs the chain of per-layer shards, bert-base shape, 128 tokens, 1 and 2 threads. */
export async function benchSingle(args: { rounds: number; seqLen: number }): Promise<void> {
  const checkpoint = await loadCheckpoint(await bertBaseCheckpoint());
  const { numLayers, vocabSize } = checkpoint.config;
  const S = args.seqLen;
  const dims = [1, S];
  const ids = BigInt64Array.from({ length: S }, (_, i) =>
    BigInt(i === 0 ? 101 : i === S - 1 ? 102 : 1000 + ((i * 7919) % (vocabSize - 1000))),
  );
  const feeds: Record<string, HostTensor> = {
    [IO.inputIds]: int64Tensor(ids, dims),
    [IO.tokenTypeIds]: int64Tensor(new BigInt64Array(S), dims),
    [IO.attentionMask]: int64Tensor(new BigInt64Array(S).fill(1n), dims),
  };
  const last = numLayers - 1;
  process.stdout.write(
    `single-node: bert-base shape (${numLayers} layers, hidden ${checkpoint.config.hiddenSize}), ${S} tokens, ${args.rounds} rounds\n\n`,
  );
  process.stdout.write('threads  monolithic ms  per-layer chain ms  chain / monolithic\n');
  for (const threads of [1, 2]) {
    const monolithic = await ShardSession.create(compileShard(checkpoint, { kind: 'monolithic' }), { threads });
    const chain = [await ShardSession.create(compileShard(checkpoint, { kind: 'embeddings' }), { threads })];
    for (let l = 0; l < numLayers; l++)
      chain.push(
        await ShardSession.create(compileShard(checkpoint, { kind: 'layers', start: l, end: l + 1 }), { threads }),
      );
    const head = await ShardSession.create(compileShard(checkpoint, { kind: 'head', layer: last }), { threads });
    const runChain = async () => {
      let hidden = (await chain[0]!.run(feeds))[IO.hiddenOut]!;
      for (const s of chain.slice(1)) hidden = (await s.run({ ...feeds, [IO.hidden]: hidden }))[IO.hiddenOut]!;
      return head.run({ [IO.hidden]: hidden });
    };
    const samples = await interleaved({ monolithic: () => monolithic.run(feeds), chain: runChain }, args.rounds);
    const m = median(samples.monolithic!);
    const c = median(samples.chain!);
    process.stdout.write(
      `${String(threads).padStart(7)}  ${m.toFixed(1).padStart(13)}  ${c.toFixed(1).padStart(18)}  ${(c / m).toFixed(3).padStart(18)}\n`,
    );
    await Promise.all([monolithic, head, ...chain].map((s) => s.release()));
  }
}
