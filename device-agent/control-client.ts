import { SESSION_METADATA } from '@edgerelay/proto';
import * as grpc from '@grpc/grpc-js';
import { controlPlane } from '@edgerelay/proto';
import type {
  Assignment__Output as Assignment,
  Capabilities,
  ChallengeReply__Output as ChallengeReply,
  CoordinatorClient,
  HeartbeatReply__Output as HeartbeatReply,
  ReadyReport,
  RegisterReply__Output as RegisterReply,
} from '@edgerelay/proto';
import { registerProof } from '@edgerelay/proto';
import { ShardAssembler } from './shard-cache.js';

/** The agent's side of the gRPC control plane: thin promise wrappers over the generated client. */
export class ControlClient {
  private readonly client: CoordinatorClient;
  private session = '';

  constructor(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {
    const { Coordinator } = controlPlane();
    this.client = new Coordinator(address, credentials, { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  }

  private metadata(): grpc.Metadata {
    const m = new grpc.Metadata();
    if (this.session) m.set(SESSION_METADATA, this.session);
    return m;
  }

  private unary<Req, Res>(
    method: (
      req: Req,
      md: grpc.Metadata,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res?: Res) => void,
    ) => unknown,
    req: Req,
    timeoutMs = 10_000,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, req, this.metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res as Res),
      );
    });
  }

  /** Challenge, then Register with a proof of the cluster token (the token itself is never sent). */
  async register(
    name: string,
    dataAddress: string,
    capabilities: Capabilities,
    cachedShards: string[],
    token: string | undefined,
    instanceId: string,
  ): Promise<RegisterReply> {
    const challenge = await this.unary<object, ChallengeReply>(this.client.Challenge, { name });
    const proof = token ? registerProof(token, challenge.nonce, name, dataAddress) : '';
    const reply = await this.unary<object, RegisterReply>(this.client.Register, {
      name,
      dataAddress,
      capabilities,
      cachedShards,
      nonce: challenge.nonce,
      proof,
      instanceId,
    });
    this.session = reply.session;
    return reply;
  }

  heartbeat(
    agentId: string,
    planVersion: number,
    loadAverage: number,
    memoryFreeBytes: number,
  ): Promise<HeartbeatReply> {
    return this.unary(this.client.Heartbeat, { agentId, planVersion, loadAverage, memoryFreeBytes }, 5_000);
  }

  reportReady(report: ReadyReport): Promise<unknown> {
    return this.unary(this.client.ReportReady, report);
  }

  leave(agentId: string): Promise<unknown> {
    return this.unary(this.client.Leave, { agentId }, 3_000);
  }

  watchAssignments(agentId: string): grpc.ClientReadableStream<Assignment> {
    return this.client.WatchAssignments({ agentId }, this.metadata());
  }

  /** Streams one shard and checks its size and sha256 as it assembles. */
  fetchShard(agentId: string, sha256: string, sizeBytes: number, maxBytes: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      let assembler: ShardAssembler;
      try {
        assembler = new ShardAssembler(sha256, sizeBytes, maxBytes);
      } catch (err) {
        return reject(err);
      }
      const call = this.client.FetchShard({ agentId, sha256 }, this.metadata());
      call.on('data', (chunk: { data: Buffer; offset: number }) => {
        try {
          assembler.add(chunk.offset, chunk.data);
        } catch (err) {
          call.cancel();
          reject(err);
        }
      });
      call.on('error', reject);
      call.on('end', () => {
        try {
          resolve(assembler.finish());
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
