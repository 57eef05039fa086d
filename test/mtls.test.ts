import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { ClusterAuth } from '../coordinator/cluster/auth.js';
import { controlHandlers, startControlServer } from '../coordinator/cluster/control-service.js';
import { AgentRegistry } from '../coordinator/cluster/registry.js';
import { ReferenceRunner } from '../coordinator/reference/index.js';
import {
  CaUnusableError,
  CertOptionsError,
  CertsExistError,
  generateClusterCerts,
} from '../coordinator/security/certs.js';
import { loadServerCredentials } from '../coordinator/security/credentials.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { loadAgentCredentials, TlsFilesError } from '../device-agent/security/tls-files.js';
import { controlPlane, type CoordinatorClient } from '../proto/control.js';
import { startAgentProcess } from '../sim/agent-process.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { edgerelay } from './helpers/cli.js';
import { writePlan } from './helpers/plans.js';

const MODEL = path.resolve('models/sst2-bert-6L-256H');
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const x509 = (dir: string, file: string) => new X509Certificate(readFileSync(path.join(dir, file)));
const mode = (dir: string, file: string) => statSync(path.join(dir, file)).mode & 0o777;

function call<Res>(client: CoordinatorClient, method: 'Challenge' | 'Register', request: object): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (
      req: object,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res?: Res) => void,
    ) => void;
    fn.call(client, request, { deadline: Date.now() + 10_000 }, (err, res) =>
      err ? reject(err) : resolve(res as Res),
    );
  });
}

function registerRequest(name: string, nonce: string) {
  return {
    name,
    dataAddress: '127.0.0.1:1',
    capabilities: { cores: 1, gflops: 1, threads: 1 },
    cachedShards: [],
    nonce,
    proof: '',
  };
}

describe('edgerelay certs', function () {
  this.timeout(120_000);
  let root: string;
  let dir: string;

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'edgerelay-certs-'));
    dir = path.join(root, 'tls');
    const { code, stderr } = await edgerelay([
      'certs',
      '--out',
      dir,
      '--coordinator-hosts',
      'coordinator.lan,192.168.1.10',
      '--agents',
      'agent-0,agent-1',
      '--days',
      '30',
    ]);
    assert.equal(code, 0, stderr);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('writes a CA, a coordinator pair and one pair per agent, with every key readable by its owner only', () => {
    for (const base of ['ca', 'coordinator', 'agent-0', 'agent-1']) {
      assert.equal(mode(dir, `${base}-key.pem`), 0o600, `${base}-key.pem`);
      assert.ok(existsSync(path.join(dir, `${base}.pem`)), `${base}.pem`);
    }
  });

  it('signs the coordinator and agent certificates with the CA, and nothing else verifies against it', () => {
    const ca = x509(dir, 'ca.pem');
    assert.equal(ca.ca, true);
    for (const file of ['coordinator.pem', 'agent-0.pem', 'agent-1.pem']) {
      const cert = x509(dir, file);
      assert.ok(cert.verify(ca.publicKey), `${file} verifies with the CA key`);
      assert.ok(cert.checkIssued(ca), `${file} names the CA as issuer`);
      assert.equal(cert.ca, false);
    }
    // The CA does not verify against a leaf's key: verify() really checks the signature.
    assert.equal(ca.verify(x509(dir, 'agent-0.pem').publicKey), false);
  });

  it('names each agent in its CN; agents and the coordinator both serve (data plane, control plane) and dial', () => {
    for (const name of ['agent-0', 'agent-1']) {
      const cert = x509(dir, `${name}.pem`);
      assert.match(cert.subject, new RegExp(`^CN=${name}$`, 'm'));
      assert.deepEqual([...cert.keyUsage].sort(), [SERVER_AUTH, CLIENT_AUTH]);
      assert.equal(cert.subjectAltName, undefined, 'agents are named by CN, not by host');
    }
    assert.deepEqual([...x509(dir, 'coordinator.pem').keyUsage].sort(), [SERVER_AUTH, CLIENT_AUTH]);
  });

  it('covers loopback and the given hosts in the coordinator SANs, and only those', () => {
    const cert = x509(dir, 'coordinator.pem');
    for (const ip of ['127.0.0.1', '::1', '192.168.1.10'])
      assert.equal(cert.checkIP(ip), ip, `${ip} in ${cert.subjectAltName}`);
    for (const host of ['localhost', 'coordinator.lan']) assert.equal(cert.checkHost(host), host);
    assert.equal(cert.checkIP('10.0.0.1'), undefined);
    assert.equal(cert.checkHost('other.lan'), undefined);
  });

  it('limits the certificates to --days and backdates them a little for devices with a late clock', () => {
    const cert = x509(dir, 'agent-0.pem');
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    assert.ok(from < Date.now() && from > Date.now() - 2 * 3600_000, cert.validFrom);
    assert.ok(Math.abs(to - (Date.now() + 30 * 86_400_000)) < 3600_000, cert.validTo);
  });

  it('refuses to run again over the existing CA without --force, leaving it untouched', async () => {
    const before = readFileSync(path.join(dir, 'ca.pem'));
    const { code, stderr } = await edgerelay(['certs', '--out', dir, '--agents', 'agent-0,agent-1']);
    assert.equal(code, 1);
    assert.match(stderr, /already holds a cluster CA.*--force/);
    assert.doesNotMatch(stderr, /unexpected error/);
    assert.deepEqual(readFileSync(path.join(dir, 'ca.pem')), before);
  });

  it("issues an added agent under the existing CA and leaves the other agents' certificates alone", async () => {
    const ca = readFileSync(path.join(dir, 'ca.pem'));
    const agent0 = readFileSync(path.join(dir, 'agent-0.pem'));
    const coordinator = readFileSync(path.join(dir, 'coordinator.pem'));
    const { code, stdout, stderr } = await edgerelay(['certs', '--out', dir, '--agents', 'agent-0,agent-1,agent-2']);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /reused the CA/);
    assert.deepEqual(readFileSync(path.join(dir, 'ca.pem')), ca);
    assert.deepEqual(readFileSync(path.join(dir, 'agent-0.pem')), agent0);
    assert.deepEqual(readFileSync(path.join(dir, 'coordinator.pem')), coordinator);
    assert.ok(x509(dir, 'agent-2.pem').verify(new X509Certificate(ca).publicKey));
    assert.equal(mode(dir, 'agent-2-key.pem'), 0o600);
  });

  it('replaces the CA with --force, and the old certificates no longer verify against it', () => {
    const other = path.join(root, 'forced');
    generateClusterCerts({ outDir: other, agents: ['a'] });
    const oldCa = x509(other, 'ca.pem');
    const result = generateClusterCerts({ outDir: other, agents: ['a'], force: true });
    assert.equal(result.caReused, false);
    const newCa = x509(other, 'ca.pem');
    assert.notEqual(newCa.fingerprint256, oldCa.fingerprint256);
    assert.ok(x509(other, 'a.pem').verify(newCa.publicKey));
    assert.equal(x509(other, 'a.pem').verify(oldCa.publicKey), false);
    assert.equal(mode(other, 'ca-key.pem'), 0o600);
  });

  it('refuses agent names that are not valid --name values or would overwrite the CA files', () => {
    for (const name of ['../evil', 'ca', 'coordinator', 'x-key', '']) {
      assert.throws(
        () => generateClusterCerts({ outDir: path.join(root, 'bad'), agents: [name] }),
        CertOptionsError,
        name,
      );
    }
    assert.throws(
      () => generateClusterCerts({ outDir: path.join(root, 'bad'), coordinatorHosts: ['not a host'] }),
      CertOptionsError,
    );
    assert.equal(existsSync(path.join(root, 'bad', 'ca.pem')), false);
  });

  it('says what to do when the CA key is gone instead of issuing from a CA it cannot sign with', () => {
    const other = path.join(root, 'no-key');
    generateClusterCerts({ outDir: other });
    unlinkSync(path.join(other, 'ca-key.pem'));
    assert.throws(
      () => generateClusterCerts({ outDir: other, agents: ['late'] }),
      (err: Error) => err instanceof CaUnusableError && /ca-key\.pem.*--force/.test(err.message),
    );
    assert.throws(() => generateClusterCerts({ outDir: path.join(root, 'tls') }), CertsExistError);
  });

  it('tells an agent whose TLS directory lacks its certificate how to make one', () => {
    assert.throws(
      () => loadAgentCredentials(dir, 'agent-9'),
      (err: Error) => err instanceof TlsFilesError && /agent-9-key\.pem.*edgerelay certs/.test(err.message),
    );
  });
});

describe('mutual TLS on the control plane', function () {
  this.timeout(240_000);
  let root: string;
  let dir: string;
  let foreign: string;

  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'edgerelay-mtls-'));
    dir = path.join(root, 'cluster');
    foreign = path.join(root, 'foreign');
    generateClusterCerts({ outDir: dir, agents: ['agent-0', 'agent-1'] });
    // Same names, another CA: what an attacker who made their own certificates would hold.
    generateClusterCerts({ outDir: foreign, agents: ['agent-0'] });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  describe('a control server with --tls-dir', () => {
    let server: grpc.Server;
    let address: string;
    const clients: CoordinatorClient[] = [];
    const client = (credentials: grpc.ChannelCredentials) => {
      const c = new (controlPlane().Coordinator)(address, credentials);
      clients.push(c);
      return c;
    };
    const ca = () => readFileSync(path.join(dir, 'ca.pem'));

    before(async () => {
      const logger = pino({ level: 'silent' });
      const handlers = controlHandlers(
        new AgentRegistry(),
        { shardBytes: () => undefined },
        { heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 3000, logger, auth: new ClusterAuth(undefined) },
      );
      const started = await startControlServer('127.0.0.1', 0, handlers, loadServerCredentials(dir));
      server = started.server;
      address = `127.0.0.1:${started.port}`;
    });
    after(() => {
      for (const c of clients) c.close();
      server?.forceShutdown();
    });

    it('answers an agent presenting a certificate of the cluster CA', async () => {
      const reply = await call<{ nonce: string }>(client(loadAgentCredentials(dir, 'agent-0')), 'Challenge', {
        name: 'agent-0',
      });
      assert.ok(reply.nonce.length > 0);
    });

    const refusedWith = (code: grpc.status) => (err: grpc.ServiceError) => {
      assert.equal(err.code, code, `${err.code}: ${err.details}`);
      return true;
    };

    it('fails the handshake of a plaintext client', async () => {
      await assert.rejects(
        call(client(grpc.credentials.createInsecure()), 'Challenge', { name: 'x' }),
        refusedWith(grpc.status.UNAVAILABLE),
      );
    });

    it('fails the handshake of a TLS client without a client certificate', async () => {
      await assert.rejects(
        call(client(grpc.credentials.createSsl(ca())), 'Challenge', { name: 'x' }),
        refusedWith(grpc.status.UNAVAILABLE),
      );
    });

    it('fails the handshake of a client whose certificate another CA signed', async () => {
      const creds = grpc.credentials.createSsl(
        ca(),
        readFileSync(path.join(foreign, 'agent-0-key.pem')),
        readFileSync(path.join(foreign, 'agent-0.pem')),
      );
      await assert.rejects(call(client(creds), 'Challenge', { name: 'agent-0' }), refusedWith(grpc.status.UNAVAILABLE));
    });

    it('refuses to register an agent under a name other than its certificate CN', async () => {
      const c = client(loadAgentCredentials(dir, 'agent-0'));
      const { nonce } = await call<{ nonce: string }>(c, 'Challenge', { name: 'agent-1' });
      await assert.rejects(call(c, 'Register', registerRequest('agent-1', nonce)), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.PERMISSION_DENIED);
        assert.match(err.details, /certificate is for "agent-0".*"agent-1"/);
        return true;
      });
      // The same connection registers under its own name.
      const again = await call<{ nonce: string }>(c, 'Challenge', { name: 'agent-0' });
      const reply = await call<{ agentId: string }>(c, 'Register', registerRequest('agent-0', again.nonce));
      assert.equal(reply.agentId, 'agent-0');
    });
  });

  describe('a simulated cluster with tlsDir (real agent processes)', () => {
    let cluster: SimCluster;
    before(async () => {
      // A two-stage plan, so both agents' TLS connections carry the request.
      const planFile = writePlan({
        stages: [
          { layers: [0, 3], host: 'agent-0' },
          { layers: [3, 6], host: 'agent-1' },
        ],
      });
      cluster = await startSimCluster({ model: MODEL, agents: 2, tlsDir: dir, planFile });
    });
    after(async () => cluster?.stop());

    it('serves POST /v1/classify with the logits of the single-node reference', async () => {
      const text = 'a gorgeous , witty , seductive movie .';
      const checkpoint = await loadCheckpoint(MODEL);
      const runner = await ReferenceRunner.create(checkpoint, loadTokenizer(MODEL), { threads: 1 });
      const [expected] = await runner.classify([text], 1);
      await runner.release();

      const res = await fetch(`${cluster.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: text, parameters: { details: true } }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as {
        results: { label: string }[][];
        details: { exitLayer: number; agents: string[]; logits: number[] }[];
      };
      assert.equal(body.results[0]![0]!.label, 'positive');
      assert.equal(body.results[0]![0]!.label, expected!.label);
      const d = body.details[0]!;
      assert.equal(d.exitLayer, 6);
      assert.deepEqual([...new Set(d.agents)].sort(), ['agent-0', 'agent-1']);
      const want = expected!.exits.at(-1)!.logits;
      d.logits.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-4, `logit ${i}: ${v} vs ${want[i]}`));
      // ... and the agents really went through TLS: the control port refuses plaintext.
      const plain = new (controlPlane().Coordinator)(
        `127.0.0.1:${cluster.coordinator.grpcPort}`,
        grpc.credentials.createInsecure(),
      );
      try {
        await assert.rejects(
          call(plain, 'Challenge', { name: 'x' }),
          (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE,
        );
      } finally {
        plain.close();
      }
    });

    it('keeps out an agent process whose certificate CN is not its --name', async () => {
      // agent-2's TLS directory holds agent-0's certificate and key, signed by the right CA.
      const stolen = path.join(root, 'stolen');
      mkdirSync(stolen);
      copyFileSync(path.join(dir, 'ca.pem'), path.join(stolen, 'ca.pem'));
      copyFileSync(path.join(dir, 'agent-0.pem'), path.join(stolen, 'agent-2.pem'));
      copyFileSync(path.join(dir, 'agent-0-key.pem'), path.join(stolen, 'agent-2-key.pem'));
      const impostor = startAgentProcess({
        name: 'agent-2',
        coordinator: `127.0.0.1:${cluster.coordinator.grpcPort}`,
        dataDir: cluster.dataDir,
        threads: 1,
        clusterToken: cluster.clusterToken,
        extraArgs: ['--tls-dir', stolen],
      });
      try {
        const deadline = Date.now() + 60_000;
        while (!/certificate is for \\?"agent-0\\?"/.test(impostor.stderrTail())) {
          assert.ok(Date.now() < deadline, `the agent was not refused:\n${impostor.stderrTail()}`);
          assert.equal(impostor.child.exitCode, null, `the agent exited:\n${impostor.stderrTail()}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.equal(cluster.coordinator.registry.get('agent-2'), undefined);
      } finally {
        impostor.child.kill('SIGTERM');
        await new Promise((r) =>
          impostor.child.exitCode !== null || impostor.child.signalCode !== null
            ? r(null)
            : impostor.child.once('exit', r),
        );
      }
    });
  });
});
