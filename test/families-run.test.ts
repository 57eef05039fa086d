import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  loadCheckpoint,
  readSafetensors,
  writeSafetensors,
  type SafetensorsWriteTensor,
} from '../coordinator/checkpoint/index.js';
import { compileShard, IO } from '../coordinator/compiler/index.js';
import { forwardFamilyFloat64, ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { calibrateRuns, collectFromFile, parseTarget } from '../coordinator/calibration/index.js';
import { fitExits, klGradient, klLoss, softmaxRows, type HeadParams } from '../coordinator/distill/index.js';
import { startSimCluster } from '../sim/index.js';
import { readPlannerModel, type PlanFile } from '../coordinator/planning/index.js';
import { ShardSession, int64Tensor } from '../device-agent/runtime/index.js';
import { maxAbsDiff } from './helpers/tiny-model.js';
import { familyBatch, makeTinyFamily, type TinyFamily } from './helpers/tiny-family.js';
import { writePlan } from './helpers/plans.js';

const WORDS = 'the a movie film story plot good great bad best worst fun funny boring dull love hate very not'.split(
  ' ',
);
/** Short deterministic texts of the synthetic vocabulary's words. */
function texts(n: number, seed = 5): string[] {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648);
  return Array.from({ length: n }, () =>
    Array.from({ length: 3 + (next() % 6) }, () => WORDS[next() % WORDS.length]).join(' '),
  );
}

// 3 layers, 4 heads, 64 FFN columns on agent-0..2: a pipeline stage, then a HALP group of the other two layers.
const MIXED: PlanFile = {
  stages: [
    { layers: [0, 1], host: 'agent-0' },
    {
      layers: [1, 3],
      host: 'agent-1',
      members: [
        { agent: 'agent-1', heads: [0, 1], ffnColumns: [[0, 20]] },
        { agent: 'agent-2', heads: [2, 3], ffnColumns: [[20, 64]] },
      ],
    },
  ],
};

/**
 * Scales the final head's weights so a random model's answers vary from text to text (at init they are all near
 * uniform, leaving the distillation nothing to learn).
 */
function sharpenFinalHead(dir: string): void {
  const file = path.join(dir, 'model.safetensors');
  const st = readSafetensors(file);
  const head = /^(classifier|pre_classifier)(\.|$)/;
  const tensors: Record<string, SafetensorsWriteTensor> = {};
  for (const info of st.tensors.values()) {
    const data = st.float32(info.name);
    tensors[info.name] = { shape: [...info.shape], data: head.test(info.name) ? data.map((v) => v * 30) : data };
  }
  writeSafetensors(file, tensors, { dtype: 'F32' });
}

interface Detail {
  exitLayer: number;
  early: boolean;
  logits: number[];
}

async function classify(url: string, inputs: string[], parameters: Record<string, unknown>) {
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs, parameters: { details: true, ...parameters } }),
  });
  return { status: res.status, body: (await res.json()) as { details: Detail[]; error?: string } };
}

describe('model families run everywhere BERT does', function () {
  this.timeout(300_000);
  let work: string;
  before(() => (work = mkdtempSync(path.join(tmpdir(), 'edgerelay-families-run-'))));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('exit-head gradients are exact for the relu (DistilBERT) and gelu (ELECTRA) head forms', function () {
    for (const activation of ['relu', 'gelu'] as const) {
      const H = 3;
      const C = 3;
      let s = 11;
      const r = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296 - 0.5;
      const p: HeadParams = {
        hidden: H,
        classes: C,
        activation,
        poolerWeight: Float32Array.from({ length: H * H }, r),
        poolerBias: Float32Array.from({ length: H }, r),
        classifierWeight: Float32Array.from({ length: C * H }, r),
        classifierBias: Float32Array.from({ length: C }, r),
      };
      const x = Float32Array.from({ length: 4 * H }, () => 2 * r());
      const q = softmaxRows(
        Float64Array.from({ length: 4 * C }, () => 4 * r()),
        C,
      );
      const g = klGradient(p, x, q, [0, 1, 2, 3]);
      for (const key of ['poolerWeight', 'poolerBias', 'classifierWeight', 'classifierBias'] as const) {
        for (let i = 0; i < p[key].length; i++) {
          const keep = p[key][i]!;
          const h = 1e-3;
          p[key][i] = keep + h;
          const up = klLoss(p, x, q);
          p[key][i] = keep - h;
          const down = klLoss(p, x, q);
          p[key][i] = keep;
          const numeric = (up - down) / (2 * h);
          assert.ok(
            Math.abs(numeric - g[key][i]!) < 1e-4 + 1e-2 * Math.abs(numeric),
            `${activation} ${key}[${i}]: numeric ${numeric}, analytic ${g[key][i]}`,
          );
        }
      }
    }
  });

  it("the planner reads each family's exits from the header and ELECTRA's embedding size", async () => {
    for (const arch of ['roberta', 'distilbert', 'electra'] as TinyFamily[]) {
      const model = await makeTinyFamily(arch);
      try {
        const planned = readPlannerModel(model.dir);
        assert.deepEqual(
          [...planned.exitLayers].sort((a, b) => a - b),
          [0, 1, 2],
          arch,
        );
        assert.equal(planned.embeddingSize, arch === 'electra' ? 16 : undefined, arch);
      } finally {
        model.cleanup();
      }
    }
  });

  for (const arch of ['roberta', 'distilbert', 'electra'] as TinyFamily[]) {
    it(`${arch}: fit-exits writes exit heads in the family's form that load, compile and match the float64 reference; calibrate runs on them`, async () => {
      const model = await makeTinyFamily(arch, { exits: false, numLabels: 2, seed: 21 });
      try {
        sharpenFinalHead(model.dir);
        const data = path.join(work, `${arch}-text.txt`);
        writeFileSync(data, `${texts(60).join('\n')}\n`);
        const out = path.join(work, `${arch}-exits`);
        const result = await fitExits({ model: model.dir, data, out, epochs: 3, threads: 1 });
        assert.deepEqual(result.exitLayers, [0, 1, 2]);
        // Where a random backbone leaves something to learn the loss must halve; where the exit already answers as the
        // final head does (the tiny ELECTRA's [CLS] barely varies between texts), it must not grow.
        for (const l of result.layers) {
          const why = `layer ${l.layer}: ${l.trainBefore} → ${l.trainAfter}`;
          if (l.trainBefore > 1e-6) assert.ok(l.trainAfter < 0.5 * l.trainBefore, why);
          else assert.ok(l.trainAfter <= l.trainBefore * 1.01 + 1e-9, why);
        }
        if (arch !== 'electra')
          assert.ok(
            result.layers.some((l) => l.trainBefore > 1e-6),
            'nothing was learnt',
          );
        const written = readSafetensors(path.join(out, 'model.safetensors')).names();
        const prefix = { roberta: 'roberta.encoder', distilbert: 'distilbert.transformer', electra: 'electra.encoder' }[
          arch
        ];
        assert.ok(written.includes(`${prefix}.highway.0.pooler.dense.weight`), written.join(', '));

        const ckpt = await loadCheckpoint(out);
        assert.deepEqual(ckpt.exitLayers, [0, 1, 2]);
        assert.equal(ckpt.exitLayout, 'deebert');
        const b = familyBatch([7, 4], 120, ckpt.config.padTokenId, arch === 'roberta' ? 0 : 2);
        const ref = forwardFamilyFloat64(out, { inputIds: b.ids, attentionMask: b.mask });
        const s = await ShardSession.create(compileShard(ckpt, { kind: 'monolithic', exitLogits: true }));
        const o = await s.run({
          [IO.inputIds]: int64Tensor(b.inputIds, b.dims),
          [IO.tokenTypeIds]: int64Tensor(b.tokenTypeIds, b.dims),
          [IO.attentionMask]: int64Tensor(b.attentionMask, b.dims),
        });
        await s.release();
        for (const layer of [0, 1]) {
          const diff = maxAbsDiff(o[IO.exitLogits(layer)]!.data as Float32Array, ref.headLogits[layer]!.flat());
          assert.ok(diff < 1e-4, `exit ${layer}: ${diff}`);
        }

        const tsv = path.join(work, `${arch}-dev.tsv`);
        writeFileSync(
          tsv,
          `sentence\tlabel\n${texts(40, 9)
            .map((t, i) => `${t}\t${i % 2}`)
            .join('\n')}\n`,
        );
        const runs = await collectFromFile({ model: out, data: tsv, threads: 1 });
        assert.deepEqual(runs.exitLayers, [0, 1, 2]);
        const record = calibrateRuns(runs, { target: parseTarget('accuracy-drop=0.01') });
        assert.equal(record.exitRates.length, 3);
        assert.ok(record.policy.length > 0);
      } finally {
        model.cleanup();
      }
    });
  }

  for (const arch of ['roberta', 'distilbert', 'electra'] as TinyFamily[]) {
    it(`${arch}: a sim cluster (pipeline stage + HALP group) answers like the single-node reference within 1e-4, at the final layer and at the first exit`, async () => {
      const model = await makeTinyFamily(arch, { numLabels: 2, seed: 31 });
      const inputs = texts(4, 17);
      const runner = await ReferenceRunner.create(model.checkpoint, loadTokenizer(model.dir), { threads: 1 });
      const expected = await runner.classify(inputs, 8);
      await runner.release();
      const cluster = await startSimCluster({ model: model.dir, agents: 3, planFile: writePlan(MIXED) });
      try {
        const { status, body } = await classify(cluster.url, inputs, { exit_policy: 'none' });
        assert.equal(status, 200, JSON.stringify(body));
        inputs.forEach((_, i) => {
          const d = body.details[i]!;
          assert.equal(d.exitLayer, 3);
          const want = expected[i]!.exits.at(-1)!.logits;
          assert.ok(maxAbsDiff(d.logits, want) < 1e-4, `row ${i}: ${d.logits} vs ${want}`);
        });
        // With two labels the top probability is ≥ 0.5: max-prob=0.5 answers at the first exit, with its logits.
        const early = await classify(cluster.url, inputs.slice(0, 2), { exit_policy: 'max-prob=0.5' });
        early.body.details.forEach((d, i) => {
          assert.equal(d.exitLayer, 1);
          assert.ok(maxAbsDiff(d.logits, expected[i]!.exits[0]!.logits) < 1e-4);
        });
      } finally {
        await cluster.stop();
        model.cleanup();
      }
    });
  }
});
