import * as grpc from '@grpc/grpc-js';
import type pino from 'pino';
import { controlPlane } from '@edgerelay/proto';
import type { CoordinatorHandlers } from '@edgerelay/proto';
import { SESSION_METADATA } from '@edgerelay/proto';
import { certificateNameMismatch } from '../security/peer-identity.js';
import type { ClusterAuth } from './auth.js';
import type { AgentRegistry } from './registry.js';

export interface ShardSource {
  /** ONNX bytes of a compiled shard by sha256, or undefined when unknown. */
  shardBytes(sha256: string): Uint8Array | undefined;
  /** Told about every shard sent, by agent (deploy accounting; tests check restarts use the cache). */
  onShardSent?(agentId: string, bytes: number): void;
}

const CHUNK_BYTES = 1 << 20;
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const ADDRESS_PATTERN =
  /^[A-Za-z0-9.\-[\]:]{1,200}:(6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3})$/;

export interface ControlServiceOptions {
  heartbeatIntervalMs: number;
  /** An agent heard from within this long is live: a second process under its name is refused. */
  heartbeatTimeoutMs: number;
  logger: pino.Logger;
  auth: ClusterAuth;
}

type Call = { request: { agentId: string }; metadata: grpc.Metadata };

/** The gRPC Coordinator service (proto/control.proto) over the agent registry and the shard store. */
export function controlHandlers(
  registry: AgentRegistry,
  shards: ShardSource,
  options: ControlServiceOptions,
): CoordinatorHandlers {
  const { auth, logger } = options;
  /** Every call after Register must come from a registered agent with its session secret. */
  const refuse = (call: Call): grpc.StatusObject | undefined => {
    const id = call.request.agentId;
    if (!registry.get(id))
      return {
        code: grpc.status.NOT_FOUND,
        details: `unknown agent "${id.slice(0, 64)}": register first`,
        metadata: new grpc.Metadata(),
      };
    const session = call.metadata.get(SESSION_METADATA)[0];
    if (!auth.validSession(id, typeof session === 'string' ? session : undefined)) {
      return {
        code: grpc.status.UNAUTHENTICATED,
        details: `no valid session for agent "${id.slice(0, 64)}": register again`,
        metadata: new grpc.Metadata(),
      };
    }
    return undefined;
  };
  return {
    Challenge(_call, callback) {
      callback(null, { nonce: auth.issueNonce(), tokenRequired: auth.tokenRequired });
    },
    Register(call, callback) {
      const req = call.request;
      if (!NAME_PATTERN.test(req.name)) {
        return callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: 'agent name must be 1-64 characters of A-Z a-z 0-9 . _ -',
        });
      }
      if (!ADDRESS_PATTERN.test(req.dataAddress) || !req.capabilities) {
        return callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: 'register needs a data_address (host:port) and capabilities',
        });
      }
      // Checked before the token so a nonce is not spent on a registration refused anyway.
      const why = certificateNameMismatch(call, req.name) ?? auth.refuseRegistration(req);
      if (why) {
        logger.warn({ agent: req.name, peer: call.getPeer(), why }, 'refused an agent');
        return callback({ code: grpc.status.PERMISSION_DENIED, details: why });
      }
      const live = registry.conflictingInstance(req, options.heartbeatTimeoutMs);
      if (live) {
        const details = `an agent named "${req.name}" is already connected from ${live.dataAddress}: give this agent another --name, or stop the other one first`;
        logger.warn(
          { agent: req.name, peer: call.getPeer(), live: live.dataAddress, refused: req.dataAddress },
          'refused a second agent under a live name',
        );
        return callback({ code: grpc.status.ALREADY_EXISTS, details });
      }
      const record = registry.register(req);
      logger.info(
        { agent: record.id, address: record.dataAddress, gflops: record.capabilities.gflops },
        'agent registered',
      );
      callback(null, {
        agentId: record.id,
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        session: auth.newSession(record.id),
      });
    },
    Heartbeat(call, callback) {
      if (refuse(call)) return callback(null, { known: false, planVersion: 0 });
      const { agentId, loadAverage, memoryFreeBytes } = call.request;
      const record = registry.seen(agentId, { loadAverage, memoryFreeBytes: Number(memoryFreeBytes) });
      callback(null, { known: !!record, planVersion: record?.readyVersion ?? 0 });
    },
    WatchAssignments(call) {
      const denied = refuse(call);
      if (denied) return call.emit('error', Object.assign(new Error(denied.details), denied));
      const id = call.request.agentId;
      registry.attachStream(id, call);
      const detach = () => registry.detachStream(id, call);
      call.on('cancelled', detach);
      call.on('close', detach);
      call.on('error', detach);
    },
    FetchShard(call) {
      const denied = refuse(call);
      if (denied) return call.emit('error', Object.assign(new Error(denied.details), denied));
      const { sha256 } = call.request;
      const bytes = shards.shardBytes(sha256);
      if (!bytes)
        return call.emit(
          'error',
          Object.assign(new Error(`no shard with sha256 ${sha256.slice(0, 64)}`), { code: grpc.status.NOT_FOUND }),
        );
      for (let offset = 0; offset < bytes.byteLength; offset += CHUNK_BYTES) {
        call.write({
          data: bytes.subarray(offset, offset + CHUNK_BYTES),
          offset,
          totalBytes: bytes.byteLength,
          sha256,
        });
      }
      call.end();
      shards.onShardSent?.(call.request.agentId, bytes.byteLength);
    },
    ReportReady(call, callback) {
      const denied = refuse(call);
      if (denied) return callback(denied);
      const { agentId, planVersion, ok, error } = call.request;
      registry.markReady(agentId, planVersion, ok, error);
      callback(null, { accepted: true });
    },
    Leave(call, callback) {
      const denied = refuse(call);
      if (denied) return callback(denied);
      auth.endSession(call.request.agentId);
      registry.leave(call.request.agentId);
      callback(null, {});
    },
  };
}

export async function startControlServer(
  host: string,
  port: number,
  handlers: CoordinatorHandlers,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server({
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
  });
  server.addService(controlPlane().Coordinator.service, handlers);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port: bound };
}
