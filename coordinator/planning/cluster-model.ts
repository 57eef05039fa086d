import { EdgeRelayError } from '@edgerelay/proto';
import type { Link } from './devices.js';

/** A device the planner can place work on: its speed and memory, as measured or from a profile. */
export interface ClusterDevice {
  id: string;
  /** Effective sustained float32 matmul GFLOP/s with the threads it runs shards with. */
  gflops: number;
  /** The same through ONNX Runtime's int8 kernel (float-equivalent GFLOP/s), when measured: int8 models use it. */
  int8Gflops?: number;
  memoryBytes: number;
  threads?: number;
  /** Where the profile figures came from, for the explanation ("pi4", "measured"). */
  profile?: string;
  /** The agent's data-plane address (live agents only); plans carry it as an endpoint. */
  dataAddress?: string;
}

/** Devices plus the link between every pair: links[i][j] is from devices[i] to devices[j]. */
export interface ClusterModel {
  devices: ClusterDevice[];
  links: Link[][];
}

export class ClusterError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_CLUSTER';
}

/** What the coordinator knows of a live agent. */
export interface AgentFigures {
  id: string;
  gflops: number;
  int8Gflops?: number;
  memoryBytes: number;
  threads?: number;
  dataAddress?: string;
}

/**
 * The cluster as the coordinator sees it: measured speed and memory per agent, and the measured
 * link between each pair (`links(a, b)` is asked once per ordered pair).
 */
export function clusterFromAgents(agents: AgentFigures[], links: (a: string, b: string) => Link): ClusterModel {
  const devices: ClusterDevice[] = agents.map((a) => ({
    id: a.id,
    gflops: a.gflops,
    ...(a.int8Gflops ? { int8Gflops: a.int8Gflops } : {}),
    memoryBytes: a.memoryBytes,
    ...(a.threads !== undefined ? { threads: a.threads } : {}),
    profile: 'measured',
    ...(a.dataAddress !== undefined ? { dataAddress: a.dataAddress } : {}),
  }));
  return checkCluster({
    devices,
    links: devices.map((a) => devices.map((b) => (a.id === b.id ? LOCAL : links(a.id, b.id)))),
  });
}

/** A device talking to itself: no wire. */
export const LOCAL: Link = { bandwidthBytesPerSec: Infinity, latencyMs: 0 };

/** Rejects figures the cost model cannot work with, naming the device. */
export function checkCluster(cluster: ClusterModel): ClusterModel {
  const { devices, links } = cluster;
  if (devices.length === 0)
    throw new ClusterError('The cluster has no devices: connect at least one agent or list one in the cluster file.');
  const seen = new Set<string>();
  for (const d of devices) {
    if (seen.has(d.id)) throw new ClusterError(`Device "${d.id}" appears twice; give every device a unique name.`);
    seen.add(d.id);
    if (!(d.gflops > 0) || !Number.isFinite(d.gflops)) {
      throw new ClusterError(
        `Device "${d.id}" has speed ${d.gflops} GFLOP/s; it must be a positive number (re-run the agent's benchmark or set "gflops").`,
      );
    }
    if (!(d.memoryBytes >= 0) || !Number.isFinite(d.memoryBytes)) {
      throw new ClusterError(`Device "${d.id}" has memory ${d.memoryBytes} bytes; it must be a non-negative number.`);
    }
  }
  if (links.length !== devices.length || links.some((row) => row.length !== devices.length)) {
    throw new ClusterError(
      `The link matrix must be ${devices.length}×${devices.length}, one entry per pair of devices.`,
    );
  }
  links.forEach((row, i) =>
    row.forEach((l, j) => {
      if (i === j) return;
      if (!(l.bandwidthBytesPerSec > 0) || !(l.latencyMs >= 0)) {
        throw new ClusterError(
          `The link ${devices[i]!.id} → ${devices[j]!.id} has bandwidth ${l.bandwidthBytesPerSec} B/s and latency ${l.latencyMs} ms; ` +
            'bandwidth must be positive and latency non-negative.',
        );
      }
    }),
  );
  return cluster;
}

export function deviceIndex(cluster: ClusterModel, id: string): number {
  const i = cluster.devices.findIndex((d) => d.id === id);
  if (i < 0) throw new ClusterError(`The plan names "${id}", which is not a device of the cluster.`);
  return i;
}
