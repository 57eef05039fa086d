import { Command } from 'commander';
import { benchSingle } from './single.js';
import { benchClusterOverhead } from './cluster-overhead.js';
import { benchChaos } from './chaos.js';
import { benchPlanner } from './planner.js';
import { benchWireAccuracy } from './wire-accuracy.js';
import { benchSoak } from './soak.js';
import { benchOperator } from './operator.js';
import { benchAlbert } from './albert.js';
import { benchHeadPruning, type HeadPruningBenchArgs } from './head-pruning.js';
import { benchTokenPruning } from './token-pruning.js';
import { benchInt8, type Int8BenchArgs } from './int8.js';
import { benchCostFit } from './cost-fit.js';
import { benchPositionLayout } from './position-layout.js';
import { benchPositionTiles } from './position-tiles.js';

const program = new Command('bench').description('edgerelay benchmarks: ratios measured side by side in one run');
const int = (v: string) => Number.parseInt(v, 10);

program
  .command('single')
  .description('monolithic graph vs chain of per-layer shards (bert-base shape)')
  .option('--rounds <n>', 'timed rounds per variant', int, 15)
  .option('--seq-len <n>', 'tokens', int, 128)
  .action((opts: { rounds: number; seqLen: number }) => benchSingle(opts));

program
  .command('cluster-overhead')
  .description(
    '3-stage pipeline of agent processes vs the single-node reference (bert-base shape), bytes on the wire, and the cost of TLS on the data plane',
  )
  .option('--rounds <n>', 'timed rounds per variant', int, 15)
  .option('--seq-len <n>', 'tokens', int, 128)
  .action((opts: { rounds: number; seqLen: number }) => benchClusterOverhead(opts));

program
  .command('chaos')
  .description('requests answered, failed and lost, recovery time and p99 latency when an agent dies mid-traffic')
  .option('--requests <n>', 'requests', int, 300)
  .option('--concurrency <n>', 'concurrent clients', int, 16)
  .option('--failure <kind>', 'kill (SIGKILL) or freeze (SIGSTOP)', 'kill')
  .option('--json', 'one JSON document: {"requests","answered","failedRetryable","lost","recoveryMs","p99Ms"}')
  .action((opts: { requests: number; concurrency: number; failure: 'kill' | 'freeze'; json?: boolean }) =>
    benchChaos(opts),
  );

program
  .command('planner')
  .description(
    'emulated heterogeneous clusters: the planner vs the best single device vs an even split, and its prediction',
  )
  .option('--rounds <n>', 'rounds; every plan runs once per round, interleaved', int, 5)
  .option('--requests <n>', 'timed requests per plan per round', int, 3)
  .option('--only <scenario>', 'run only the scenarios whose file name or name contains this')
  .option(
    '--json',
    'one JSON document: {"scenarios":[{"name","plannerMs","bestSingleMs","evenSplitMs","predictedMs","wireDtype","spreadPct","emulationOvershootPct","bytesPerRequest","flagged",...}]}',
  )
  .action((opts: { rounds: number; requests: number; json?: boolean; only?: string }) => benchPlanner(opts));

program
  .command('position-layout')
  .description(
    "a position-parallel member's two runs with row-major vs feature-major linear layers, on 16 to 128 positions (bert-base layer 0, interleaved)",
  )
  .option('--rounds <n>', 'rounds; both layouts run once per round and position count', int, 21)
  .action((opts: { rounds: number }) => benchPositionLayout(opts));

program
  .command('position-tiles')
  .description(
    'a position-parallel group of four Pi 4 running each layer whole and tile by tile, on gigabit and Wi-Fi (interleaved)',
  )
  .option(
    '--tiles <list>',
    'tile counts to compare; the first is the baseline',
    (v) => v.split(',').map((x) => Number.parseInt(x, 10)),
    [1, 2, 4],
  )
  .option('--rounds <n>', 'rounds; every tile count runs once per round, interleaved', int, 6)
  .option('--requests <n>', 'timed requests per tile count per round', int, 3)
  .action((opts: { tiles: number[]; rounds: number; requests: number }) => benchPositionTiles(opts));

program
  .command('cost-fit')
  .description(
    "re-fit the cost model's free parameters against measured plans of every form on emulated clusters (bert-base shape)",
  )
  .option(
    '--seq-lens <list>',
    'sequence lengths to measure (the planner benchmark uses 128)',
    (v) => v.split(',').map((x) => Number.parseInt(x, 10)),
    [64, 192],
  )
  .option('--rounds <n>', 'rounds; every plan runs once per round, interleaved', int, 2)
  .option('--requests <n>', 'timed requests per plan per round', int, 2)
  .option('--json', 'one JSON document: {"fitted","defaults","rmsErrorBefore","rmsErrorAfter","points":[...]}')
  .action((opts: { seqLens: number[]; rounds: number; requests: number; json?: boolean }) => benchCostFit(opts));

program
  .command('wire-accuracy')
  .description(
    'accuracy of every exit on the SST-2 dev set with float32, float16 and int8 on the wire (loopback cluster)',
  )
  .option('--model <dir>', 'model directory with dev.tsv (default: ../shared/fixtures/sst2-bert-6L-256H)')
  .option('--rows <n>', 'dev rows to use (default: all)', int)
  .option('--json', 'one JSON document: {"rows","exits":[{"exitLayer","accuracy","bytesPerText"}]}')
  .action((opts: { model?: string; rows?: number; json?: boolean }) => benchWireAccuracy(opts));

program
  .command('albert')
  .description(
    'ALBERT fixture: K = 6 vs 3 vs 2 ODE steps on the single node and a 3-agent loopback pipeline; bytes shipped and memory per agent vs the BERT fixture',
  )
  .option('--rounds <n>', 'timed rounds per variant', int, 30)
  .option('--json', 'one JSON document: {"rows","ratios","memory","busy",...}')
  .action((opts: { rounds: number; json?: boolean }) => benchAlbert(opts));

program
  .command('soak')
  .description(
    'steady mixed load on a simulated cluster while agents are killed, stalled and sent oversized frames every minute',
  )
  .option('--minutes <n>', 'how long', int, 10)
  .option('--concurrency <n>', 'concurrent clients', int, 16)
  .option('--json', 'one JSON document with the totals, every minute and the memory trends')
  .option('--no-faults', 'the same load with no fault injected (the control run for the memory trends)')
  .action((opts: { minutes: number; concurrency: number; json?: boolean; faults: boolean }) => benchSoak(opts));

program
  .command('operator')
  .description('cost of a /metrics scrape and of loading the cluster page (headless Chromium), against /healthz')
  .option('--rounds <n>', 'timed rounds per variant', int, 20)
  .action((opts: { rounds: number }) => benchOperator(opts));

program
  .command('head-pruning')
  .description('bert-base shape with a share of its heads pruned vs unpruned: single-node latency, planner on 4 × Pi 4')
  .option('--rounds <n>', 'timed rounds per variant', int, 15)
  .option('--seq-len <n>', 'tokens', int, 128)
  .option(
    '--fraction <x>',
    'share of the heads removed (default 17/24: what A* removed on the fixture at --max-drop 0.0025)',
    Number,
    17 / 24,
  )
  .option('--cluster-rounds <n>', 'requests per plan on the emulated cluster', int, 5)
  .option('--no-cluster', 'skip the emulated 4 × Pi 4 cluster')
  .action((opts: HeadPruningBenchArgs) => benchHeadPruning(opts));

program
  .command('token-pruning')
  .description(
    'token pruning (bert-base shape): measured vs predicted speed-up of three schedules, single node and 3-stage pipeline, bytes per request',
  )
  .option('--rounds <n>', 'timed rounds per variant', int, 9)
  .option('--seq-len <n>', 'tokens', int, 128)
  .action((opts: { rounds: number; seqLen: number }) => benchTokenPruning(opts));

program
  .command('int8')
  .description(
    'int8 weights vs float32 (bert-base shape, a few layers): latency of a layer and of the model at 32 and 128 tokens, 1 and 2 threads, and shard bytes',
  )
  .option('--rounds <n>', 'timed rounds per variant', int, 15)
  .option('--layers <n>', 'encoder layers of the bert-base-shaped model (bert-base has 12)', int, 4)
  .option('--json', 'one JSON document: {"rows","bytes","target","busy",...}')
  .action((opts: Int8BenchArgs) => benchInt8(opts));

await program.parseAsync(process.argv);
