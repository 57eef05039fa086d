import { SEQ_OVERLAP_MIN_ROWS, sequenceRows } from '@edgerelay/proto';
import {
  attentionPartialFlops,
  combineFlops,
  combineWeightBytes,
  ffnPartialFlops,
  stageInputBytes,
  hiddenWireBytes,
  wireMs,
  messageMs,
  rowsRunMs,
} from './cost-model.js';
import type { CostContext, LayerTiming, ShareCount, Usage } from './stage-cost.js';

/**
 * Time of one layer of a sequence-parallel group (device-agent/executor/seq-run.ts; docs/sequence-parallel.md):
 * every member computes its attention partial on all S rows, reduce-scatters it (member i sends the rows
 * member j combines, n_j = S/N of them, to every j), combines its own rows, then sends them to every member
 * holding FFN columns; each member runs its FFN columns on every block as it arrives and sends the partial
 * back to the block's owner, who combines it; finally the layer output is all-gathered. Each link carries
 * about 2·(N−1)/N hidden states per part where the host-gather host carries 2·(N−1).
 *
 * Transfers are simulated in order: a transfer waits for its sender's uplink and its receiver's downlink
 * (sends one after another through a device's interface), then pays the link's latency. Session runs on
 * n rows pay the per-run overhead in proportion to their rows (the overhead grows with the activations).
 */
export function seqLayerTiming(ctx: CostContext, members: ShareCount[]): LayerTiming {
  const { dm, params, cluster } = ctx;
  const N = members.length;
  const rows = sequenceRows(dm.S, N).map(([a, b]) => b - a);
  const dev = (i: number) => members[i]!.device;
  const gflops = (i: number) => cluster.devices[dev(i)]!.gflops;
  const busyMs = new Map<number, number>();
  const run = (i: number, flops: number, n: number) => {
    const ms = rowsRunMs(flops, gflops(i), params, dm, n);
    busyMs.set(dev(i), (busyMs.get(dev(i)) ?? 0) + ms);
    return ms;
  };
  const up = new Array<number>(N).fill(0);
  const down = new Array<number>(N).fill(0);
  const rowBytes = (n: number) => hiddenWireBytes({ ...dm, S: n }, params.wireDtype) + params.frameOverheadBytes;
  /**
   * One phase of transfers, each of `rows` rows from `from` (ready at `ready`) to `to`: a sender's go out one after
   * another through its uplink, a receiver's come in one after another through its downlink, in time order.
   * Returns when each transfer has arrived.
   */
  const phase = (sends: { from: number; to: number; ready: number; rows: number }[]): number[] => {
    const wire = sends.map(
      (t) => wireMs(rowBytes(t.rows), cluster.links[dev(t.from)]![dev(t.to)]!) + messageMs(t.rows * dm.H, params),
    );
    const sent = new Array<number>(sends.length);
    const order = sends.map((_, k) => k);
    for (const k of [...order].sort((a, b) => sends[a]!.ready - sends[b]!.ready)) {
      const t = sends[k]!;
      up[t.from] = Math.max(up[t.from]!, t.ready) + wire[k]!;
      sent[k] = up[t.from]!;
    }
    const arrived = new Array<number>(sends.length);
    for (const k of [...order].sort((a, b) => sent[a]! - sent[b]!)) {
      const t = sends[k]!;
      down[t.to] = Math.max(down[t.to]! + wire[k]!, sent[k]!);
      arrived[k] = down[t.to]! + cluster.links[dev(t.from)]![dev(t.to)]!.latencyMs;
    }
    return arrived;
  };
  const heads = (i: number) => members[i]!.attends ?? members[i]!.heads > 0;
  const cols = (i: number) => members[i]!.columns > 0;
  const all = members.map((_, i) => i);
  const pairs = (from: (i: number) => boolean, to: (j: number) => boolean) =>
    all.flatMap((i) => (from(i) ? all.filter((j) => j !== i && to(j)).map((j) => ({ i, j })) : []));
  const owns = (j: number) => rows[j]! > 0;

  // Attention partials, reduce-scatter, combine.
  const attn = all.map((i) => (heads(i) ? run(i, attentionPartialFlops(dm, members[i]!.heads), dm.S) : 0));
  const summed = all.map((j) => attn[j]!);
  const rs = pairs(heads, owns);
  phase(rs.map(({ i, j }) => ({ from: i, to: j, ready: attn[i]!, rows: rows[j]! }))).forEach(
    (at, k) => (summed[rs[k]!.j] = Math.max(summed[rs[k]!.j]!, at)),
  );
  const attended = all.map((j) =>
    owns(j) ? summed[j]! + run(j, combineFlops({ ...dm, S: rows[j]! }, N), rows[j]!) : summed[j]!,
  );

  // FFN on each block as it arrives; partials back to the block's owner.
  const ag = pairs(owns, cols);
  const blocks = all.map((i) => (cols(i) && owns(i) ? [{ k: i, at: attended[i]! }] : []));
  phase(ag.map(({ i, j }) => ({ from: i, to: j, ready: attended[i]!, rows: rows[i]! }))).forEach((at, k) =>
    blocks[ag[k]!.j]!.push({ k: ag[k]!.i, at }),
  );
  const ffnIn = all.map((k) => attended[k]!);
  const back: { from: number; to: number; ready: number; rows: number }[] = [];
  // As the agents do: each block as it arrives when blocks are large enough, else one run once all are here.
  const owned = rows.filter((n) => n > 0);
  const overlap = owned.length > 1 && Math.min(...owned) >= SEQ_OVERLAP_MIN_ROWS;
  for (const i of all) {
    const mine = blocks[i]!.sort((a, b) => a.at - b.at);
    if (mine.length === 0) continue;
    const ffn = ffnPartialFlops(dm, members[i]!.columns);
    let clock = 0;
    if (!overlap) {
      clock = mine.at(-1)!.at + run(i, ffn, dm.S);
      for (const { k } of mine)
        if (k === i) ffnIn[k] = Math.max(ffnIn[k]!, clock);
        else back.push({ from: i, to: k, ready: clock, rows: rows[k]! });
      continue;
    }
    for (const { k, at } of mine) {
      clock = Math.max(clock, at) + run(i, (ffn * rows[k]!) / dm.S, rows[k]!);
      if (k === i) ffnIn[k] = Math.max(ffnIn[k]!, clock);
      else back.push({ from: i, to: k, ready: clock, rows: rows[k]! });
    }
  }
  phase(back).forEach((at, k) => (ffnIn[back[k]!.to] = Math.max(ffnIn[back[k]!.to]!, at)));
  const out = all.map((k) =>
    owns(k) ? ffnIn[k]! + run(k, combineFlops({ ...dm, S: rows[k]! }, N), rows[k]!) : ffnIn[k]!,
  );

  // All-gather of the layer output: the layer is done when every member holds every row.
  const full = all.map((i) => out[i]!);
  const og = pairs(owns, () => true);
  phase(og.map(({ i, j }) => ({ from: i, to: j, ready: out[i]!, rows: rows[i]! }))).forEach(
    (at, k) => (full[og[k]!.j] = Math.max(full[og[k]!.j]!, at)),
  );
  const totalMs = Math.max(...full);
  // Members compute side by side: the busiest one's compute is what the layer cannot go below.
  const computeMs = Math.max(0, ...busyMs.values());
  return { totalMs, computeMs: Math.min(computeMs, totalMs), busyMs };
}

/** Entering a sequence-parallel stage: the host sends the hidden state to every other member, one after another. */
export function seqEntryMs(ctx: CostContext, host: number, members: number[]): number {
  const sends = members.filter((d) => d !== host).map((device) => ({ device, rows: ctx.dm.S }));
  return entrySendsMs(ctx, host, sends);
}

/**
 * The host sends each member `rows` positions of the stage input (and the mask), one after another through its
 * uplink: until the last has them. Members without rows get nothing.
 */
export function entrySendsMs(ctx: CostContext, host: number, sends: { device: number; rows: number }[]): number {
  const { dm, params, cluster } = ctx;
  let clock = 0;
  let last = 0;
  for (const { device, rows } of sends) {
    if (rows === 0) continue;
    const link = cluster.links[host]![device]!;
    clock += wireMs(stageInputBytes({ ...dm, S: rows }, params), link) + messageMs(rows * dm.H, params);
    last = Math.max(last, clock + link.latencyMs);
  }
  return last;
}

/** Every member also holds both combine shards of the layer. */
export function seqCombineUsage(ctx: CostContext, rowsShare: number): Usage {
  return {
    weights: combineWeightBytes(ctx.dm),
    sessions: 2,
    activation: 2 * Math.ceil(ctx.dm.S * rowsShare) * ctx.dm.H * 4,
  };
}
