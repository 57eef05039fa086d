import { loadCheckpoint } from './coordinator/checkpoint/index.js';
import { ReferenceRunner } from './coordinator/reference/index.js';
import { loadTokenizer } from './coordinator/tokenizer/index.js';
import { readLabelledTsv } from './coordinator/datasets/index.js';
const F = '../shared/fixtures/sst2-bert-6L-256H';
const texts = readLabelledTsv(F + '/dev.tsv').map((e) => e.sentence);
const res = [];
for (const m of [F, '/tmp/i8/fx']) {
  const r = await ReferenceRunner.create(await loadCheckpoint(m), loadTokenizer(m), { threads: 1 });
  res.push(await r.classify(texts, 16)); await r.release();
}
const [a, b] = res;
for (let k = 0; k < 6; k++) {
  const d = a!.map((x, i) => Math.max(...x.exits[k]!.logits.map((v, j) => Math.abs(v - b![i]!.exits[k]!.logits[j]!))));
  const mag = a!.map((x) => Math.max(...x.exits[k]!.logits.map(Math.abs)));
  d.sort((x, y) => x - y);
  const first32 = Math.max(...d.slice(0,0)) ;
  console.log(k, 'max', d[d.length - 1]!.toFixed(4), 'p50', d[218]!.toFixed(4), 'p99', d[431]!.toFixed(4), 'max|logit|', Math.max(...mag).toFixed(2),
   'first32max', Math.max(...a!.slice(0,32).map((x, i) => Math.max(...x.exits[k]!.logits.map((v, j) => Math.abs(v - b![i]!.exits[k]!.logits[j]!))))).toFixed(4));
}
