import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/control.js';

export type * from './messages.js';

/** gRPC metadata key carrying an agent's session secret on every call after Register. */
export const SESSION_METADATA = 'x-edgerelay-session';

/** Must match the flags of the gen:proto script, so the generated types describe what is loaded. */
const LOADER_OPTIONS: protoLoader.Options = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  keepCase: false,
};

/** The .proto sits beside this file in the source tree; compiled code in dist/ finds it one level up. */
function controlProtoPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'control.proto'), path.join(here, '..', 'control.proto')];
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new Error(`control.proto not found (looked in ${candidates.join(', ')}); the installation is incomplete`);
  return found;
}

let loaded: ProtoGrpcType | undefined;

/** The gRPC control-plane package, loaded once. */
export function controlPlane(): ProtoGrpcType['edgerelay']['control'] {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(controlProtoPath(), LOADER_OPTIONS),
  ) as unknown as ProtoGrpcType;
  return loaded.edgerelay.control;
}
