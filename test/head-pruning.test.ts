import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  TensorShapeError,
  InvalidConfigError,
  loadCheckpoint,
  writePrunedCheckpoint,
  type HeadRef,
} from '../coordinator/checkpoint/index.js';
import type { Checkpoint } from '../coordinator/checkpoint/types.js';
import { compileShard, IO } from '../coordinator/compiler/index.js';
import { forwardFloat64 } from '../coordinator/reference/index.js';
import { ShardSession, int64Tensor } from '../device-agent/runtime/index.js';
import { makeBatch, makeTinyModel, maxAbsDiff, type TinyModel } from './helpers/tiny-model.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { startSimCluster } from '../sim/index.js';
import { writePlan } from './helpers/plans.js';
import { amplifyAttention } from './helpers/amplify.js';

const TOLERANCE = 1e-4;
// Layer 1 loses every head (attention = output bias only); layers 0 and 2 lose some.
const REMOVED: HeadRef[] = [
  [0, 1],
  [1, 0],
  [1, 1],
  [1, 2],
  [1, 3],
  [2, 0],
  [2, 3],
];

/** Hugging Face's head_mask for the unpruned model: 0 for the removed heads. */
function headMask(removed: HeadRef[], layers: number, heads: number): number[][] {
  const mask = Array.from({ length: layers }, () => new Array<number>(heads).fill(1));
  for (const [l, h] of removed) mask[l]![h] = 0;
  return mask;
}

async function monolithicLogits(checkpoint: Checkpoint, batch: ReturnType<typeof makeBatch>) {
  const session = await ShardSession.create(compileShard(checkpoint, { kind: 'monolithic', exitLogits: true }), {
    threads: 1,
  });
  try {
    const out = await session.run({
      [IO.inputIds]: int64Tensor(batch.inputIds, batch.dims),
      [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, batch.dims),
      [IO.attentionMask]: int64Tensor(batch.attentionMask, batch.dims),
    });
    const L = checkpoint.config.numLayers;
    return Array.from({ length: L }, (_, l) =>
      Array.from(out[l === L - 1 ? IO.logits : IO.exitLogits(l)]!.data as Float32Array),
    );
  } finally {
    await session.release();
  }
}

/** Hidden state after layer `last` by the chain of single-layer shards. */
async function hiddenAfter(checkpoint: Checkpoint, batch: ReturnType<typeof makeBatch>, last: number) {
  const feeds = {
    [IO.inputIds]: int64Tensor(batch.inputIds, batch.dims),
    [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, batch.dims),
    [IO.attentionMask]: int64Tensor(batch.attentionMask, batch.dims),
  };
  const specs: Parameters<typeof compileShard>[1][] = [{ kind: 'embeddings' }];
  for (let l = 0; l <= last; l++) specs.push({ kind: 'layers', start: l, end: l + 1 });
  let hidden = undefined as unknown as Awaited<ReturnType<ShardSession['run']>>[string];
  for (const spec of specs) {
    const session = await ShardSession.create(compileShard(checkpoint, spec), { threads: 1 });
    hidden = (await session.run(hidden ? { ...feeds, [IO.hidden]: hidden } : feeds))[IO.hiddenOut]!;
    await session.release();
  }
  return Array.from(hidden.data as Float32Array);
}

describe('head pruning: pruned checkpoints', function () {
  let model: TinyModel;
  let outDir: string;
  let pruned: Checkpoint;
  const batch = makeBatch([9, 5, 7], 120);

  before(async () => {
    model = await makeTinyModel({ layers: 3, hidden: 32, heads: 4, intermediate: 64 });
    // Heads must move the logits well beyond the 1e-4 tolerance, or "equals the masked model" proves little.
    amplifyAttention(model.dir, 8);
    model.checkpoint = await loadCheckpoint(model.dir);
    outDir = mkdtempSync(path.join(tmpdir(), 'edgerelay-pruned-'));
    writePrunedCheckpoint(model.dir, outDir, REMOVED);
    pruned = await loadCheckpoint(outDir);
  });
  after(() => {
    model.cleanup();
    rmSync(outDir, { recursive: true, force: true });
  });

  it('writes pruned_heads in the Hugging Face form and reads it back per layer', () => {
    const raw = JSON.parse(readFileSync(path.join(outDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(raw.pruned_heads, { '0': [1], '1': [0, 1, 2, 3], '2': [0, 3] });
    assert.equal(raw.num_attention_heads, 4);
    assert.deepEqual(pruned.config.prunedHeads, [[1], [0, 1, 2, 3], [0, 3]]);
    assert.deepEqual(pruned.exitLayers, model.checkpoint.exitLayers);
    assert.deepEqual(
      pruned.weights.layers.map((l) => [l.query.weight.shape, l.attentionOutput.weight.shape]),
      [
        [
          [24, 32],
          [32, 24],
        ],
        [
          [0, 32],
          [32, 0],
        ],
        [
          [16, 32],
          [32, 16],
        ],
      ],
    );
    for (const f of ['vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json'])
      assert.equal(readFileSync(path.join(outDir, f), 'utf8'), readFileSync(path.join(model.dir, f), 'utf8'));
  });

  it('keeps the remaining heads’ weights exactly (query rows, output-projection columns)', () => {
    const d = 8;
    const full = model.checkpoint.weights.layers[2]!;
    const cut = pruned.weights.layers[2]!;
    // Layer 2 keeps original heads 1 and 2: rows 8..23 of query, columns 8..23 of the output projection.
    assert.deepEqual(
      Array.from(cut.query.weight.data),
      Array.from(full.query.weight.data.subarray(d * 32, 3 * d * 32)),
    );
    assert.deepEqual(Array.from(cut.value.bias.data), Array.from(full.value.bias.data.subarray(d, 3 * d)));
    for (let o = 0; o < 32; o++)
      assert.deepEqual(
        Array.from(cut.attentionOutput.weight.data.subarray(o * 16, (o + 1) * 16)),
        Array.from(full.attentionOutput.weight.data.subarray(o * 32 + d, o * 32 + 3 * d)),
      );
  });

  it('pruning a pruned checkpoint again unions pruned_heads by original index', async () => {
    const again = mkdtempSync(path.join(tmpdir(), 'edgerelay-pruned-again-'));
    try {
      writePrunedCheckpoint(outDir, again, [
        [0, 2],
        [2, 3],
      ]);
      const twice = await loadCheckpoint(again);
      assert.deepEqual(twice.config.prunedHeads, [
        [1, 2],
        [0, 1, 2, 3],
        [0, 3],
      ]);
      const once = mkdtempSync(path.join(tmpdir(), 'edgerelay-pruned-once-'));
      try {
        writePrunedCheckpoint(model.dir, once, [...REMOVED, [0, 2]]);
        const direct = await loadCheckpoint(once);
        assert.deepEqual(
          Array.from(twice.weights.layers[0]!.attentionOutput.weight.data),
          Array.from(direct.weights.layers[0]!.attentionOutput.weight.data),
        );
      } finally {
        rmSync(once, { recursive: true, force: true });
      }
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });

  it('the pruned checkpoint’s logits equal the unpruned model with those heads masked (float64 reference, 1e-4)', async () => {
    const { config, weights } = model.checkpoint;
    const masked = forwardFloat64(weights, config, {
      inputIds: batch.ids,
      attentionMask: batch.mask,
      tokenTypeIds: batch.types,
      headMask: headMask(REMOVED, config.numLayers, config.numHeads),
    });
    const unmasked = forwardFloat64(weights, config, {
      inputIds: batch.ids,
      attentionMask: batch.mask,
      tokenTypeIds: batch.types,
    });
    const actual = await monolithicLogits(pruned, batch);
    for (let l = 0; l < config.numLayers; l++) {
      const expected = masked.headLogits[l]!.flat();
      assert.ok(maxAbsDiff(actual[l]!, expected) < TOLERANCE, `exit ${l}: ${maxAbsDiff(actual[l]!, expected)}`);
    }
    // Masking must matter, or the comparison proves nothing (a random model's logits move little; its hidden states do).
    const flat = (o: typeof masked, l: number) =>
      o.layerOutputs[l]!.flatMap((rows) => rows.flatMap((r) => Array.from(r)));
    assert.ok(maxAbsDiff(flat(masked, 2), flat(unmasked, 2)) > 1e-2);
    assert.ok(maxAbsDiff(masked.headLogits[2]!.flat(), unmasked.headLogits[2]!.flat()) > 1e-2);
    // ...and the hidden state after every layer of the pruned model matches the masked reference too.
    for (let l = 0; l < config.numLayers; l++) {
      const hidden = await hiddenAfter(pruned, batch, l);
      assert.ok(maxAbsDiff(hidden, flat(masked, l)) < TOLERANCE, `layer ${l}: ${maxAbsDiff(hidden, flat(masked, l))}`);
    }
  });

  it('single-layer shards of the pruned model chain to the same logits as its monolithic graph', async () => {
    const expected = (await monolithicLogits(pruned, batch))[2]!;
    const feeds = {
      [IO.inputIds]: int64Tensor(batch.inputIds, batch.dims),
      [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, batch.dims),
      [IO.attentionMask]: int64Tensor(batch.attentionMask, batch.dims),
    };
    const sessions: ShardSession[] = [];
    const load = async (spec: Parameters<typeof compileShard>[1]) => {
      const s = await ShardSession.create(compileShard(pruned, spec), { threads: 1 });
      sessions.push(s);
      return s;
    };
    try {
      let hidden = (await (await load({ kind: 'embeddings' })).run(feeds))[IO.hiddenOut]!;
      for (let l = 0; l < 3; l++) {
        const layer = await load({ kind: 'layers', start: l, end: l + 1, attentionReceived: true });
        const out = await layer.run({ ...feeds, [IO.hidden]: hidden });
        hidden = out[IO.hiddenOut]!;
        if (l === 1) assert.ok((out[IO.attentionReceivedAt(1)]!.data as Float32Array).every((v) => v === 0));
      }
      const logits = (await (await load({ kind: 'head', layer: 2 })).run({ [IO.hidden]: hidden }))[IO.logits]!;
      assert.ok(maxAbsDiff(logits.data as Float32Array, expected) < 1e-5);
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  });

  it('a config whose pruned_heads disagrees with the tensor shapes is refused, naming the layer', async () => {
    const bad = mkdtempSync(path.join(tmpdir(), 'edgerelay-pruned-bad-'));
    try {
      writePrunedCheckpoint(model.dir, bad, REMOVED);
      const configPath = path.join(bad, 'config.json');
      const raw = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
      writeFileSync(configPath, JSON.stringify({ ...raw, pruned_heads: { '0': [1], '1': [0, 1, 2, 3], '2': [0] } }));
      await assert.rejects(loadCheckpoint(bad), (e: unknown) => {
        assert.ok(e instanceof TensorShapeError);
        assert.match(e.message, /^Layer 2: config\.json's pruned_heads removes heads \[0\] of 4, leaving 3/);
        assert.match(e.message, /i\.e\. 2 heads/);
        return true;
      });
      // The unpruned weights with a pruned_heads config: also refused, naming the first layer that disagrees.
      writeFileSync(path.join(bad, 'model.safetensors'), readFileSync(path.join(model.dir, 'model.safetensors')));
      await assert.rejects(loadCheckpoint(bad), /Layer 0: .*i\.e\. 4 heads/);
      writeFileSync(configPath, JSON.stringify({ ...raw, pruned_heads: { '5': [0] } }));
      await assert.rejects(
        loadCheckpoint(bad),
        (e: unknown) => e instanceof InvalidConfigError && /layer "5"/.test(e.message),
      );
      writeFileSync(configPath, JSON.stringify({ ...raw, pruned_heads: { '0': [4] } }));
      await assert.rejects(loadCheckpoint(bad), /head 4 in layer 0, but the heads are 0\.\.3/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it('in a HALP group (heads split by original index over three agents), the pruned model equals the masked reference', async function () {
    this.timeout(120_000);
    const plan = {
      stages: [
        {
          layers: [0, 3] as [number, number],
          host: 'agent-0',
          // Layer 1 has no head left (every member's attention share is empty there); in layer 2 agent-0's
          // head 0 is gone and agent-2's head 3 too.
          members: [
            { agent: 'agent-0', heads: [0], ffnColumns: [[0, 20]] as [number, number][] },
            { agent: 'agent-1', heads: [1, 2], ffnColumns: [[20, 40]] as [number, number][] },
            { agent: 'agent-2', heads: [3], ffnColumns: [[40, 64]] as [number, number][] },
          ],
        },
      ],
    };
    const texts = ['the movie was good', 'a bad , boring film', 'fun story and great acting !'];
    const tokenizer = loadTokenizer(outDir);
    const encoded = texts.map((t) => tokenizer.encode(t, 64).ids);
    const { config, weights } = model.checkpoint;
    const reference = forwardFloat64(weights, config, {
      inputIds: encoded,
      attentionMask: encoded.map((ids) => ids.map(() => 1)),
      headMask: headMask(REMOVED, config.numLayers, config.numHeads),
    });
    const unpruned = forwardFloat64(weights, config, {
      inputIds: encoded,
      attentionMask: encoded.map((ids) => ids.map(() => 1)),
    });
    const cluster = await startSimCluster({ model: outDir, agents: 3, planFile: writePlan(plan) });
    try {
      const res = await fetch(`${cluster.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: texts, parameters: { details: true, exit_policy: 'none' } }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { details: { exitLayer: number; logits: number[]; agents: string[] }[] };
      texts.forEach((_, i) => {
        const d = body.details[i]!;
        assert.equal(d.exitLayer, 3);
        const expected = reference.headLogits[2]![i]!;
        assert.ok(maxAbsDiff(d.logits, expected) < TOLERANCE, `text ${i}: ${maxAbsDiff(d.logits, expected)}`);
        // ...and not what the unpruned model says.
        assert.ok(maxAbsDiff(d.logits, unpruned.headLogits[2]![i]!) > 1e-2);
      });
      assert.deepEqual([...new Set(body.details.flatMap((d) => d.agents))].sort(), ['agent-0', 'agent-1', 'agent-2']);
    } finally {
      await cluster.stop();
    }
  });
});
