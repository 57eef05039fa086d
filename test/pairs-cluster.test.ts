import assert from 'node:assert/strict';
import { InferenceClient } from '@huggingface/inference';
import { loadCheckpoint, type Checkpoint } from '../coordinator/checkpoint/index.js';
import { forwardFloat64, ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer, type TextInput } from '../coordinator/tokenizer/index.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { amplifyAttention } from './helpers/amplify.js';
import { writePlan } from './helpers/plans.js';
import { makeTinyModel, type TinyModel } from './helpers/tiny-model.js';

/**
 * Sentence pairs end to end: a Hugging Face pair request over real HTTP to a tiny cluster (a HALP group stage, then
 * a pipeline stage) is answered as the single-node reference runner answers it, which in turn agrees with a plain
 * float64 forward pass given the pair's token types. The same tokens sent as one text (every token type 0) give
 * different logits, so the pair's segments demonstrably reach the embeddings shard.
 */

async function classify(url: string, inputs: unknown) {
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs, parameters: { details: true } }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

// Words of the tiny model's synthetic vocabulary (single letters a-p, see buildSyntheticVocab).
const PAIR = { text: 'a b c d', text_pair: 'e f g' };
// The same wordpieces as one text: "[SEP]" typed in a text stays the separator token, so only the token types differ.
const SAME_TOKENS_ONE_TEXT = 'a b c d [SEP] e f g';

describe('sentence pairs on a cluster (real agent processes on loopback, tiny model)', function () {
  this.timeout(180_000);
  let model: TinyModel;
  let cluster: SimCluster;
  let runner: ReferenceRunner;
  let checkpoint: Checkpoint;

  before(async function () {
    model = await makeTinyModel({ layers: 3, hidden: 32, heads: 4, intermediate: 64, seed: 11 });
    // Random weights barely move the logits; scaled up, a change of token types shows far above float error.
    amplifyAttention(model.dir, 8);
    checkpoint = await loadCheckpoint(model.dir);
    runner = await ReferenceRunner.create(checkpoint, loadTokenizer(model.dir), { threads: 1 });
    // Stage 0 (which runs the embeddings) is a HALP group over both agents; stage 1 a plain pipeline stage.
    const plan = writePlan({
      stages: [
        {
          layers: [0, 2],
          host: 'agent-0',
          members: [
            { agent: 'agent-0', heads: [0, 1], ffnColumns: [[0, 32]] },
            { agent: 'agent-1', heads: [2, 3], ffnColumns: [[32, 64]] },
          ],
        },
        { layers: [2, 3], host: 'agent-1' },
      ],
    });
    cluster = await startSimCluster({ model: model.dir, agents: 2, planFile: plan });
  });

  after(async function () {
    await cluster?.stop();
    await runner?.release();
    model?.cleanup();
  });

  it('answers a {"text", "text_pair"} request as the reference runner answers the pair, and differently from one text', async function () {
    const [pairRef, oneTextRef] = await runner.classify([
      { text: PAIR.text, textPair: PAIR.text_pair },
      SAME_TOKENS_ONE_TEXT,
    ]);

    // The reference runner's compiled shards agree with a float64 forward pass of the pair's ids and token types.
    const tokenizer = loadTokenizer(model.dir);
    const encoded = tokenizer.encode({ text: PAIR.text, textPair: PAIR.text_pair }, 64);
    assert.deepEqual(encoded.typeIds, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    assert.deepEqual(tokenizer.encode(SAME_TOKENS_ONE_TEXT, 64).ids, encoded.ids);
    const { weights, config } = checkpoint;
    const f64 = forwardFloat64(weights, config, {
      inputIds: [encoded.ids],
      attentionMask: [encoded.ids.map(() => 1)],
      tokenTypeIds: [encoded.typeIds],
    });
    const f64Final = f64.headLogits[config.numLayers - 1]![0]!;
    assert.ok(maxDiff(pairRef!.exits.at(-1)!.logits, f64Final) < 1e-4, 'reference vs float64');

    const pair = await classify(cluster.url, PAIR);
    assert.equal(pair.status, 200, JSON.stringify(pair.body));
    const pairLogits: number[] = pair.body.details[0].logits;
    assert.equal(pair.body.details[0].exitLayer, config.numLayers);
    assert.ok(maxDiff(pairLogits, pairRef!.exits.at(-1)!.logits) < 1e-4, 'cluster vs reference, pair');
    assert.equal(pair.body.results[0][0].label, pairRef!.label);

    const one = await classify(cluster.url, SAME_TOKENS_ONE_TEXT);
    const oneLogits: number[] = one.body.details[0].logits;
    assert.ok(maxDiff(oneLogits, oneTextRef!.exits.at(-1)!.logits) < 1e-4, 'cluster vs reference, one text');
    // Token types are all that differ; a random type embedding moves the logits well past float error.
    assert.ok(maxDiff(pairLogits, oneLogits) > 1e-3, `pair ${pairLogits} vs one text ${oneLogits}`);
  });

  it('answers a list mixing pairs and texts, each as the reference runner does', async function () {
    const inputs: TextInput[] = [
      { text: 'h i', textPair: 'j k l' },
      'm n o',
      { text: 'a b c d e f g h i j k l m n o p a b c d e f g h i j k l m n o p', textPair: 'p o n' },
    ];
    const reference = await runner.classify(inputs);
    const reply = await classify(
      cluster.url,
      inputs.map((t) => (typeof t === 'string' ? t : { text: t.text, text_pair: t.textPair })),
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    reference.forEach((r, i) =>
      assert.ok(maxDiff(reply.body.details[i].logits, r.exits.at(-1)!.logits) < 1e-4, `input ${i}`),
    );
  });

  it('truncates an over-long pair longest-first as the reference does, and refuses it with do_not_truncate', async function () {
    const long = Array.from({ length: 70 }, (_, i) => 'abcdefghijklmnop'[i % 16]).join(' ');
    const input = { text: long, textPair: 'a b c' };
    const [reference] = await runner.classify([input]);
    const reply = await classify(cluster.url, { text: long, text_pair: 'a b c' });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.ok(maxDiff(reply.body.details[0].logits, reference!.exits.at(-1)!.logits) < 1e-4);
    assert.equal(reply.body.details[0].tokensDropped, 70 + 3 + 3 - 64);

    const res = await fetch(`${cluster.url}/v1/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { text: long, text_pair: 'a b c' }, parameters: { truncation: false } }),
    });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /76 tokens long.*64-token limit/);
  });

  it('answers malformed pair requests with a 400 that names the problem', async function () {
    const bad = await classify(cluster.url, { text: 'a b', text_pair: ['c'] });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^inputs\[0\]\.text_pair: must be a string/);
  });

  it('still serves single texts to the @huggingface/inference client', async function () {
    const client = new InferenceClient(undefined, { endpointUrl: `${cluster.url}/v1/classify` });
    const [reference] = await runner.classify(['m n o']);
    const out = await client.textClassification({ inputs: 'm n o' });
    assert.equal(out[0]!.label, reference!.label);
    assert.ok(Math.abs(out[0]!.score - reference!.score) < 1e-4);
  });
});
