import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { compileShard, IO } from '../coordinator/compiler/index.js';
import { float32Tensor, int64Tensor, ShardSession } from '../device-agent/runtime/index.js';
import { busyWarning, machineLoad, pairedRatio } from './busy.js';
import { bertBaseCheckpoint } from './models.js';
import { median } from './stats.js';

export interface PositionLayoutArgs {
  rounds: number;
}

const LAYOUTS = ['row-major', 'feature-major'] as const;
const POSITIONS = [16, 32, 64, 128];

/**
 * A position-parallel member's two runs (keys-values, then position-layer against 128 positions' keys and values)
 * of bert-base layer 0, on n of its positions, with the linear layers laid out row-major (activations on the left of
 * each product) and feature-major (weights on the left; coordinator/compiler/feature-major.ts): one thread, one
 * process, the layouts alternating within each round. Prints the time ratio feature-major / row-major with its
 * 10th–90th percentile spread, and the largest difference between their outputs.
 */
export async function benchPositionLayout(args: PositionLayoutArgs): Promise<void> {
  const loads = [machineLoad()];
  const checkpoint = await loadCheckpoint(await bertBaseCheckpoint());
  const S = 128;
  const H = checkpoint.config.hiddenSize;
  const sessions = await Promise.all(
    LAYOUTS.map(async (positionLayout) => ({
      kv: await ShardSession.create(compileShard(checkpoint, { kind: 'keys-values', layer: 0 }, { positionLayout }), {
        threads: 1,
      }),
      layer: await ShardSession.create(
        compileShard(checkpoint, { kind: 'position-layer', layer: 0 }, { positionLayout }),
        { threads: 1 },
      ),
    })),
  );
  const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));
  const keysValues = float32Tensor(values(S * 2 * H, 1), [1, S, 2 * H]);
  const mask = int64Tensor(
    BigInt64Array.from({ length: S }, () => 1n),
    [1, S],
  );
  const offset = int64Tensor(BigInt64Array.of(0n), [1]);
  const ms: Record<string, number[]> = {};
  let worstDiff = 0;
  for (let round = 0; round < args.rounds; round++)
    for (const n of POSITIONS) {
      const hidden = float32Tensor(values(n * H, round), [1, n, H]);
      const outs: Float32Array[] = [];
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const s = sessions[i]!;
        const t = performance.now();
        await s.kv.run({ [IO.hidden]: hidden });
        const out = await s.layer.run({
          [IO.hidden]: hidden,
          [IO.keysValues]: keysValues,
          [IO.attentionMask]: mask,
          [IO.queryOffset]: offset,
        });
        (ms[`${LAYOUTS[i]} ${n}`] ??= []).push(performance.now() - t);
        outs[i] = out[IO.hiddenOut]!.data as Float32Array;
      }
      for (let k = 0; k < outs[0]!.length; k++) worstDiff = Math.max(worstDiff, Math.abs(outs[0]![k]! - outs[1]![k]!));
    }
  for (const s of sessions) await Promise.all([s.kv.release(), s.layer.release()]);
  loads.push(machineLoad());

  const lines = [
    `position-layout: bert-base layer 0, keys-values + position-layer against ${S} positions, one thread, ${args.rounds} rounds, layouts alternating`,
    '',
    'positions  row-major ms  feature-major ms  feature/row (p10–p90)',
  ];
  for (const n of POSITIONS) {
    const row = ms[`row-major ${n}`]!;
    const feature = ms[`feature-major ${n}`]!;
    const r = pairedRatio(feature, row);
    lines.push(
      `${String(n).padStart(9)}  ${median(row).toFixed(2).padStart(12)}  ${median(feature).toFixed(2).padStart(16)}  ${r.median.toFixed(2)}× (${r.p10.toFixed(2)}–${r.p90.toFixed(2)})`,
    );
  }
  lines.push('', `largest difference between the layouts' outputs: ${worstDiff.toExponential(2)}`);
  process.stdout.write(lines.join('\n') + '\n' + busyWarning(loads));
}
