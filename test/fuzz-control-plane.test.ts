import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { SESSION_METADATA } from '../proto/control.js';
import { registerProof } from '../proto/security/proofs.js';
import { controlPlane, type CoordinatorClient } from '../proto/control.js';
import type { SimCluster } from '../sim/index.js';
import { Rng } from './helpers/fuzz-frames.js';
import {
  alive,
  classifyChecked,
  FUZZ_AGENTS,
  SEED,
  startFuzzCluster,
  TEXTS,
  type Expected,
} from './helpers/fuzz-cluster.js';

/** Malformed and hostile control-plane (gRPC) calls against a real simulated cluster (test/helpers/fuzz-cluster.ts). */
describe('robustness: malformed control-plane calls (real agent processes)', function () {
  this.timeout(300_000);
  let cluster: SimCluster;
  let expected: Map<string, Expected>;
  const agents = FUZZ_AGENTS;

  before(async () => {
    ({ cluster, expected } = await startFuzzCluster());
  });

  after(async () => cluster?.stop());

  let raw: grpc.Client;
  let typed: CoordinatorClient;
  const METHODS: [string, boolean][] = [
    ['Register', false],
    ['Challenge', false],
    ['Heartbeat', false],
    ['WatchAssignments', true],
    ['FetchShard', true],
    ['ReportReady', false],
    ['Leave', false],
  ];

  before(() => {
    const address = `127.0.0.1:${cluster.coordinator.grpcPort}`;
    raw = new grpc.Client(address, grpc.credentials.createInsecure());
    typed = new (controlPlane().Coordinator)(address, grpc.credentials.createInsecure());
  });
  after(() => {
    raw?.close();
    typed?.close();
  });

  interface Outcome {
    code: number;
    details: string;
    response?: Buffer;
    messages: number;
  }
  const identity = (b: Buffer) => b;

  /** One call with raw bytes as the request; resolves with its status, never hangs past the deadline. */
  function rawCall(
    method: string,
    stream: boolean,
    bytes: Buffer,
    metadata = new grpc.Metadata(),
    timeoutMs = 5000,
  ): Promise<Outcome> {
    const path = `/edgerelay.control.Coordinator/${method}`;
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve) => {
      if (!stream) {
        raw.makeUnaryRequest(path, identity, identity, bytes, metadata, { deadline }, (err, res) =>
          resolve(
            err
              ? { code: err.code, details: err.details, messages: 0 }
              : { code: 0, details: '', response: res, messages: 1 },
          ),
        );
        return;
      }
      const call = raw.makeServerStreamRequest(path, identity, identity, bytes, metadata, { deadline });
      let messages = 0;
      call.on('data', () => messages++);
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details, messages }));
    });
  }

  function typedCall<Res>(
    method: keyof CoordinatorClient,
    request: object,
    metadata = new grpc.Metadata(),
    client = typed,
  ): Promise<{ code: number; details: string; res?: Res }> {
    const fn = client[method] as unknown as (
      req: object,
      md: grpc.Metadata,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res?: Res) => void,
    ) => unknown;
    return new Promise((resolve) =>
      fn.call(client, request, metadata, { deadline: Date.now() + 3000 }, (err, res) =>
        resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '', res }),
      ),
    );
  }

  function typedStream(
    method: 'WatchAssignments' | 'FetchShard',
    request: object,
    metadata = new grpc.Metadata(),
    client = typed,
  ): Promise<Outcome> {
    return new Promise((resolve) => {
      const call = (
        client[method] as unknown as (
          req: object,
          md: grpc.Metadata,
          opts: grpc.CallOptions,
        ) => grpc.ClientReadableStream<unknown>
      ).call(client, request, metadata, { deadline: Date.now() + 3000 });
      let messages = 0;
      call.on('data', () => messages++);
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details, messages }));
    });
  }

  const capabilities = {
    cores: 1,
    cpuModel: 'fuzz',
    memoryTotalBytes: 1,
    memoryFreeBytes: 1,
    loadAverage: 0,
    gflops: 1,
    threads: 1,
    platform: 'linux',
    arch: 'x64',
  };

  async function stillServing(): Promise<void> {
    assert.deepEqual(alive(cluster), [true, true, true]);
    assert.deepEqual(
      cluster.coordinator.registry
        .connected()
        .map((a) => a.id)
        .sort(),
      agents,
    );
    assert.equal(cluster.coordinator.activePlan!.version, cluster.plan.version, 'the plan changed');
    for (const text of TEXTS.slice(0, 3))
      assert.equal(await classifyChecked(cluster.url, text, expected.get(text)!), undefined);
  }

  it('~2000 calls of random bytes to every method all end with a status before their deadline; none admits the caller', async () => {
    const rng = new Rng(SEED ^ 0x69c);
    const calls = 2100;
    const outcomes = new Map<string, Map<number, number>>();
    const problems: string[] = [];
    const started = performance.now();
    const payload = (i: number): Buffer => {
      if (i % 300 === 0) return rng.bytes(5 * 2 ** 20); // over the server's 4 MiB request limit
      if (i % 50 === 1) return Buffer.alloc(0); // every field at its default
      return rng.bytes(rng.int(512));
    };
    // 32 calls in flight; a call that never gets a status holds up one worker, not the rest.
    let next = 0;
    const worker = async () => {
      while (next < calls) {
        const i = next++;
        const [method, stream] = METHODS[i % METHODS.length]!;
        const bytes = payload(i);
        const md = new grpc.Metadata();
        if (rng.chance(0.5)) md.set(SESSION_METADATA, rng.bytes(24).toString('hex'));
        const o = await rawCall(method, stream, bytes, md, 2000);
        const byCode = outcomes.get(method) ?? new Map<number, number>();
        byCode.set(o.code, (byCode.get(o.code) ?? 0) + 1);
        outcomes.set(method, byCode);
        if (o.code === grpc.status.DEADLINE_EXCEEDED)
          problems.push(`call ${i}: ${method} with ${bytes.length} random bytes got no status before its deadline`);
        if (stream && o.messages > 0)
          problems.push(`call ${i}: ${method} streamed ${o.messages} messages to a random caller`);
        if (o.code !== grpc.status.OK) continue;
        // A Challenge is public, and a Heartbeat from a stranger is answered "unknown". Nothing else may succeed.
        if (method !== 'Challenge' && method !== 'Heartbeat')
          problems.push(`call ${i}: ${method} accepted ${bytes.length} random bytes`);
        if (
          method === 'Heartbeat' &&
          (controlPlane().Coordinator.service.Heartbeat.responseDeserialize(o.response!) as { known: boolean }).known
        ) {
          problems.push(`call ${i}: a random heartbeat was told it is known`);
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `      ${calls} random calls in ${seconds.toFixed(1)} s; status codes by method: ${JSON.stringify(Object.fromEntries([...outcomes].map(([m, c]) => [m, Object.fromEntries(c)])))}`,
    );
    for (const [method] of METHODS) assert.ok(outcomes.get(method)!.size > 0);
    await stillServing();
    assert.deepEqual(problems, []);
  });

  it('well-formed but invalid calls are refused, a stranger cannot join or impersonate an agent, and the right cluster token still registers', async () => {
    const { status } = grpc;
    // Status mismatches are collected, so one run reports all of them.
    const problems: string[] = [];
    const want = (what: string, got: { code: number; details: string }, code: number) => {
      if (got.code !== code) problems.push(`${what}: got ${status[got.code]} (${got.details}), want ${status[code]}`);
    };
    const challenge = async () =>
      (await typedCall<{ nonce: string; tokenRequired: boolean }>('Challenge', { name: 'x' })).res!;
    const register = (req: object) =>
      typedCall<{ agentId: string; session: string }>('Register', { capabilities, cachedShards: [], ...req });
    assert.equal((await challenge()).tokenRequired, true);

    // Shape of the request
    for (const name of ['', 'a'.repeat(65), 'two words', '../../etc', 'agent\u00e9', 'x\u0000y']) {
      want(
        `Register named ${JSON.stringify(name)}`,
        await register({ name, dataAddress: '127.0.0.1:1' }),
        status.INVALID_ARGUMENT,
      );
    }
    for (const dataAddress of ['', 'h'.repeat(1_000_000) + ':1', 'no-port', '127.0.0.1:', 'a b:1']) {
      want(
        `Register with a data_address of ${dataAddress.length} chars`,
        await register({ name: 'fuzz-x', dataAddress }),
        status.INVALID_ARGUMENT,
      );
    }
    want(
      'Register without capabilities',
      await typedCall('Register', { name: 'fuzz-x', dataAddress: '127.0.0.1:1' }),
      status.INVALID_ARGUMENT,
    );

    // Proof of the cluster token
    const token = cluster.clusterToken;
    const refused = async (req: object, why: string) =>
      want(`Register with ${why}`, await register(req), status.PERMISSION_DENIED);
    await refused({ name: 'fuzz-x', dataAddress: '127.0.0.1:1' }, 'no nonce, no proof');
    let c = await challenge();
    await refused({ name: 'fuzz-x', dataAddress: '127.0.0.1:1', nonce: c.nonce }, 'no proof');
    // Registers fuzz-x at `dataAddress` with a fresh nonce, proven for `proven` (token, name, address).
    const refusedProof = async (dataAddress: string, proven: [string, string, string], why: string) => {
      const { nonce } = await challenge();
      const [secret, name, address] = proven;
      await refused({ name: 'fuzz-x', dataAddress, nonce, proof: registerProof(secret, nonce, name, address) }, why);
    };
    await refusedProof('127.0.0.1:1', ['not-the-token', 'fuzz-x', '127.0.0.1:1'], 'a wrong token');
    await refusedProof('127.0.0.1:1', [token, 'fuzz-y', '127.0.0.1:1'], 'a proof for another name');
    await refusedProof('127.0.0.1:2', [token, 'fuzz-x', '127.0.0.1:1'], 'a proof for another address');
    await refused(
      {
        name: 'fuzz-x',
        dataAddress: '127.0.0.1:1',
        nonce: 'f'.repeat(48),
        proof: registerProof(token, 'f'.repeat(48), 'fuzz-x', '127.0.0.1:1'),
      },
      'a nonce the coordinator never issued',
    );
    // A stranger cannot take over an agent's name.
    const agent0 = cluster.coordinator.registry.get('agent-0')!.dataAddress;
    c = await challenge();
    await refused(
      { name: 'agent-0', dataAddress: '127.0.0.1:9', nonce: c.nonce, proof: 'ab'.repeat(32) },
      'a forged proof for agent-0',
    );
    assert.equal(cluster.coordinator.registry.get('agent-0')!.dataAddress, agent0);
    assert.equal(cluster.coordinator.registry.get('fuzz-x'), undefined);

    // Calls that need a registration (and its session)
    const noSession = new grpc.Metadata();
    const badSession = new grpc.Metadata();
    badSession.set(SESSION_METADATA, 'ab'.repeat(24));
    for (const [label, md] of [
      ['without a session', noSession],
      ['with a wrong session', badSession],
    ] as const) {
      assert.equal(
        (await typedCall<{ known: boolean }>('Heartbeat', { agentId: 'agent-1', planVersion: 1 }, md)).res?.known,
        false,
        `Heartbeat as agent-1 ${label}`,
      );
      want(
        `ReportReady as agent-1 ${label}`,
        await typedCall('ReportReady', { agentId: 'agent-1', planVersion: 99, ok: false, error: 'forged' }, md),
        status.UNAUTHENTICATED,
      );
      want(`Leave as agent-1 ${label}`, await typedCall('Leave', { agentId: 'agent-1' }, md), status.UNAUTHENTICATED);
      want(
        `WatchAssignments as agent-1 ${label}`,
        await typedStream('WatchAssignments', { agentId: 'agent-1' }, md),
        status.UNAUTHENTICATED,
      );
      want(
        `FetchShard as agent-1 ${label}`,
        await typedStream('FetchShard', { agentId: 'agent-1', sha256: '0'.repeat(64) }, md),
        status.UNAUTHENTICATED,
      );
    }
    assert.equal((await typedCall<{ known: boolean }>('Heartbeat', { agentId: 'nobody' })).res?.known, false);
    want(
      'ReportReady for an unknown agent',
      await typedCall('ReportReady', { agentId: 'nobody', planVersion: 1, ok: true }),
      status.NOT_FOUND,
    );
    want('Leave for an empty agent id', await typedCall('Leave', { agentId: '' }), status.NOT_FOUND);
    // Ids of 100 kB: the refusal must still arrive. Each goes on its own connection (grpc-js shares
    // one per target otherwise), since a status that cannot be delivered stalls the connection.
    const fresh = () =>
      new (controlPlane().Coordinator)(`127.0.0.1:${cluster.coordinator.grpcPort}`, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      });
    const longId = 'x'.repeat(100_000);
    for (const [what, call] of [
      [
        'ReportReady for a 100 kB agent id',
        (c: CoordinatorClient) =>
          typedCall('ReportReady', { agentId: longId, planVersion: 1, ok: true }, new grpc.Metadata(), c),
      ],
      [
        'WatchAssignments for a 100 kB agent id',
        (c: CoordinatorClient) => typedStream('WatchAssignments', { agentId: longId }, new grpc.Metadata(), c),
      ],
    ] as const) {
      const client = fresh();
      want(what, await call(client), status.NOT_FOUND);
      client.close();
    }

    // Positive control: the right token registers (so the refusals above are not an accident), the
    // nonce works once, and the session it returns is what the later calls check.
    c = await challenge();
    const proof = registerProof(token, c.nonce, 'fuzz-probe', '127.0.0.1:1');
    const ok = await register({ name: 'fuzz-probe', dataAddress: '127.0.0.1:1', nonce: c.nonce, proof });
    assert.equal(ok.code, status.OK, ok.details);
    assert.equal(ok.res!.agentId, 'fuzz-probe');
    await refused({ name: 'fuzz-probe', dataAddress: '127.0.0.1:1', nonce: c.nonce, proof }, 'a replayed nonce');
    const session = new grpc.Metadata();
    session.set(SESSION_METADATA, ok.res!.session);
    assert.equal(
      (await typedCall<{ known: boolean }>('Heartbeat', { agentId: 'fuzz-probe' }, session)).res?.known,
      true,
    );
    assert.equal(
      (await typedCall<{ known: boolean }>('Heartbeat', { agentId: 'fuzz-probe' }, badSession)).res?.known,
      false,
    );
    for (const sha256 of ['0'.repeat(64), '../../../etc/passwd', '', 'x'.repeat(10_000), 'x'.repeat(100_000)]) {
      const client = fresh();
      const o = await typedStream('FetchShard', { agentId: 'fuzz-probe', sha256 }, session, client);
      client.close();
      want(`FetchShard of a ${sha256.length}-char sha256 with a valid session`, o, status.NOT_FOUND);
      assert.equal(o.messages, 0);
    }
    await stillServing();
    assert.deepEqual(problems, []);
  });
});
