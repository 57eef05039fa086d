import assert from 'node:assert/strict';
import {
  ExitPolicyError,
  decideExit,
  formatExitPolicy,
  initialExitState,
  normalisedEntropy,
  parseExitPolicy,
  type ExitPolicy,
  type ExitState,
} from '../device-agent/exits/policies.js';
import { dactBound, dactHalts } from '../device-agent/exits/dact.js';

const SIX = [0, 1, 2, 3, 4, 5];

/** Feeds the heads' distributions in order; returns the 0-based exit layer and the answer distribution. */
function run(policy: ExitPolicy, sequence: number[][], exitLayers = SIX.slice(0, sequence.length), viaJson = false) {
  let state: ExitState = initialExitState(policy);
  for (const [k, probs] of sequence.entries()) {
    const d = decideExit(policy, state, probs, { layer: exitLayers[k]!, exitLayers });
    if (d.exit) return { layer: exitLayers[k]!, probs: d.probs };
    // Between devices the state is serialised with the hidden state; nothing may be lost on the way.
    state = viaJson ? (JSON.parse(JSON.stringify(d.state)) as ExitState) : d.state;
  }
  throw new Error('no exit: the final layer must always exit');
}

describe('exit policies', () => {
  describe('max-prob', () => {
    const policy = parseExitPolicy('max-prob=0.9');
    it('exits at the first head whose top probability reaches the threshold, the threshold itself included', () => {
      assert.equal(
        run(policy, [
          [0.6, 0.4],
          [0.1, 0.9],
          [0.05, 0.95],
        ]).layer,
        1,
      );
      assert.equal(
        run(policy, [
          [0.6, 0.4],
          [0.11, 0.89],
          [0.05, 0.95],
          [0.5, 0.5],
        ]).layer,
        2,
      );
    });
    it('always exits at the final head, however unsure it is', () => {
      assert.equal(
        run(policy, [
          [0.5, 0.5],
          [0.5, 0.5],
          [0.5, 0.5],
        ]).layer,
        2,
      );
    });
    it('answers with the head it exits at', () => {
      assert.deepEqual(
        run(policy, [
          [0.3, 0.7],
          [0.92, 0.08],
          [0, 1],
        ]).probs,
        [0.92, 0.08],
      );
    });
  });

  describe('entropy', () => {
    it('measures H(p)/log C: 0 when certain, 1 when uniform, whatever the number of classes', () => {
      assert.equal(normalisedEntropy([1, 0, 0]), 0);
      assert.ok(Math.abs(normalisedEntropy([0.25, 0.25, 0.25, 0.25]) - 1) < 1e-12);
      assert.ok(Math.abs(normalisedEntropy([0.5, 0.5]) - 1) < 1e-12);
    });
    it('exits at the first head whose normalised entropy is at or below the threshold', () => {
      const h = normalisedEntropy([0.9, 0.1]); // ≈ 0.469
      assert.equal(
        run({ kind: 'entropy', threshold: h }, [
          [0.6, 0.4],
          [0.9, 0.1],
          [1, 0],
        ]).layer,
        1,
      );
      assert.equal(
        run({ kind: 'entropy', threshold: h - 1e-9 }, [
          [0.6, 0.4],
          [0.9, 0.1],
          [0.7, 0.3],
        ]).layer,
        2,
      );
    });
  });

  describe('patience (PABEE)', () => {
    const policy = parseExitPolicy('patience=2');
    it('exits once the argmax has stayed the same over `patience` consecutive heads after the first', () => {
      assert.equal(
        run(policy, [
          [0.9, 0.1],
          [0.8, 0.2],
          [0.6, 0.4],
          [0, 1],
          [0, 1],
          [0, 1],
        ]).layer,
        2,
      );
    });
    it('restarts counting when the prediction changes', () => {
      assert.equal(
        run(policy, [
          [0.9, 0.1],
          [0.8, 0.2],
          [0.4, 0.6],
          [0.3, 0.7],
          [0.2, 0.8],
          [0.9, 0.1],
        ]).layer,
        4,
      );
    });
    it('never exits at the first head, even when it is certain', () => {
      assert.equal(
        run(parseExitPolicy('patience=1'), [
          [1, 0],
          [1, 0],
          [0, 1],
        ]).layer,
        1,
      );
    });
    it('exits at the final head when the heads never settle', () => {
      assert.equal(
        run(policy, [
          [1, 0],
          [0, 1],
          [1, 0],
          [0, 1],
        ]).layer,
        3,
      );
    });
  });

  describe('dact', () => {
    it('computes the bound (1 − ε)(1 − p)^−d − 1: 0 with no head left, +∞ while p = 1, −1 at ε = 1', () => {
      assert.equal(dactBound(0.5, 0), 0);
      assert.equal(dactBound(1, 3), Infinity);
      assert.equal(dactBound(0.5, 1), 1);
      assert.equal(dactBound(0.5, 2), 3);
      assert.equal(dactBound(0.5, 2, 1), -1);
      assert.equal(dactBound(0.5, 1, 0.25), 0.5);
    });

    it('halts exactly at the bound and continues just below it', () => {
      assert.equal(dactHalts(1, 0.5, 1, 0), true);
      assert.equal(dactHalts(1 - 2 ** -40, 0.5, 1, 0), false);
      assert.equal(dactHalts(0.5, 0.5, 1, 0.25), true);
      assert.equal(dactHalts(0.5 - 2 ** -40, 0.5, 1, 0.25), false);
    });

    it('decides at the edge through decideExit, with the state carried from earlier heads', () => {
      // Carried state: a = [0.875, 0.125], p = 0.5. A uniform head has entropy 1, so p stays 0.5 and
      // a becomes 0.5·[0.5, 0.5] + 0.5·a = [0.6875, 0.3125]: lead 0.375. One head remains (d = 1), so
      // the bound is (1 − ε)·2 − 1, which equals the lead at ε = 0.3125 (all values exact in binary).
      const state: ExitState = { acc: [0.875, 0.125], p: 0.5 };
      const ctx = { layer: 1, exitLayers: [0, 1, 2] };
      const at = decideExit({ kind: 'dact', slack: 0.3125 }, state, [0.5, 0.5], ctx);
      assert.deepEqual(at.probs, [0.6875, 0.3125]);
      assert.equal(at.state.p, 0.5);
      assert.equal(at.exit, true);
      assert.equal(decideExit({ kind: 'dact', slack: 0.3125 - 2 ** -30 }, state, [0.5, 0.5], ctx).exit, false);
      assert.equal(decideExit({ kind: 'dact', slack: 0.3125 + 2 ** -30 }, state, [0.5, 0.5], ctx).exit, true);
    });

    it('guarantees the answer cannot change when it halts with ε = 0: the bound is exactly what one more head could take away', () => {
      // After a head leaving weight p with one head to come, the worst next head puts all its mass on
      // the runner-up and the lead becomes (1 − p)L − p. Just below the bound that flips the answer.
      const p = 0.5;
      const bound = dactBound(p, 1);
      for (const lead of [bound, bound - 1e-6]) {
        const acc = [(1 + lead) / 2, (1 - lead) / 2];
        const next = [p * 0 + (1 - p) * acc[0]!, p * 1 + (1 - p) * acc[1]!];
        assert.equal(dactHalts(lead, p, 1, 0), lead >= bound);
        assert.equal(next[0]! >= next[1]!, lead >= bound, `lead ${lead}`);
      }
    });

    it('answers with the accumulated distribution, not the last head alone', () => {
      // Head 0 is confident (p falls to its entropy, ≈ 0.29); head 1 leans the other way but enters with
      // that small weight: a ≈ [0.76, 0.24], and with one head left the bound (≈ 0.34) is below the lead.
      const out = run(parseExitPolicy('dact'), [
        [0.95, 0.05],
        [0.3, 0.7],
        [0, 1],
      ]);
      assert.equal(out.layer, 1);
      assert.ok(out.probs[0]! > 0.75 && out.probs[0]! < 0.77, `accumulated ${out.probs}`);
    });

    it('exits at the first head with ε = 1 and only at the end when heads are uniform with ε = 0', () => {
      assert.equal(
        run(parseExitPolicy('dact=1'), [
          [0.6, 0.4],
          [0.6, 0.4],
        ]).layer,
        0,
      );
      assert.equal(
        run(parseExitPolicy('dact'), [
          [0.5, 0.5],
          [0.5, 0.5],
          [0.5, 0.5],
        ]).layer,
        2,
      );
    });
  });

  describe('none', () => {
    it('only the final head answers', () => {
      assert.equal(
        run(parseExitPolicy('none'), [
          [1, 0],
          [1, 0],
          [1, 0],
        ]).layer,
        2,
      );
    });
  });

  it('makes the same decisions when the state is serialised as JSON between every head (as between devices)', () => {
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
    const policies = ['max-prob=0.8', 'entropy=0.5', 'patience=2', 'dact', 'dact=0.7', 'none'].map(parseExitPolicy);
    let early = 0;
    for (let trial = 0; trial < 300; trial++) {
      const classes = 2 + (trial % 3);
      const sequence = SIX.map(() => {
        const raw = Array.from({ length: classes }, () => Math.pow(random(), 3));
        const sum = raw.reduce((a, b) => a + b, 0);
        return raw.map((v) => v / sum);
      });
      for (const policy of policies) {
        const local = run(policy, sequence, SIX, false);
        const remote = run(policy, sequence, SIX, true);
        assert.deepEqual(remote, local, `${formatExitPolicy(policy)} on trial ${trial}`);
        if (local.layer < 5) early++;
      }
    }
    assert.ok(early > 100, 'the sequences should make the policies exit early often enough to mean something');
  });

  it('rejects a state that belongs to another policy instead of silently starting over', () => {
    const ctx = { layer: 0, exitLayers: [0, 1] };
    assert.throws(
      () => decideExit(parseExitPolicy('dact'), initialExitState(parseExitPolicy('patience=2')), [0.6, 0.4], ctx),
      ExitPolicyError,
    );
    assert.throws(
      () => decideExit(parseExitPolicy('patience=2'), initialExitState(parseExitPolicy('dact')), [0.6, 0.4], ctx),
      ExitPolicyError,
    );
  });

  it('works with exit heads on only some layers', () => {
    const exitLayers = [1, 3, 5];
    assert.equal(
      run(
        parseExitPolicy('max-prob=0.9'),
        [
          [0.5, 0.5],
          [0.95, 0.05],
          [1, 0],
        ],
        exitLayers,
      ).layer,
      3,
    );
    assert.throws(() => decideExit(parseExitPolicy('none'), {}, [1, 0], { layer: 2, exitLayers }), ExitPolicyError);
  });

  describe('parseExitPolicy / formatExitPolicy', () => {
    it('reads every documented form and writes it back unchanged', () => {
      const forms: [string, ExitPolicy][] = [
        ['max-prob=0.9', { kind: 'max-prob', threshold: 0.9 }],
        ['entropy=0.2', { kind: 'entropy', threshold: 0.2 }],
        ['patience=2', { kind: 'patience', patience: 2 }],
        ['dact', { kind: 'dact', slack: 0 }],
        ['dact=0.1', { kind: 'dact', slack: 0.1 }],
        ['none', { kind: 'none' }],
      ];
      for (const [spec, policy] of forms) {
        assert.deepEqual(parseExitPolicy(spec), policy, spec);
        assert.equal(formatExitPolicy(policy), spec);
      }
    });

    it('rejects malformed policies with a typed error that lists the accepted forms', () => {
      for (const bad of [
        'max-prob',
        'max-prob=',
        'max-prob=abc',
        'max-prob=1.5',
        'entropy=-0.1',
        'patience=0',
        'patience=1.5',
        'dact=2',
        'none=1',
        'threshold=0.9',
        '',
      ]) {
        assert.throws(
          () => parseExitPolicy(bad),
          (err: unknown) =>
            err instanceof ExitPolicyError && /max-prob=P/.test(err.message) && err.message.includes(`"${bad}"`),
          bad,
        );
      }
    });
  });
});
