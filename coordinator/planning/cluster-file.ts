import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { EdgeRelayError, FLOAT_WIRE_DTYPES } from '@edgerelay/proto';
import { checkCluster, LOCAL, type ClusterModel } from './cluster-model.js';
import { DEVICE_PROFILES, DEVICE_PROFILE_NAMES, linkFromMbps, linkProfile, type Link } from './devices.js';

export class ClusterFileError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_CLUSTER_FILE';
}

const linkSpec = z.union([
  z.enum(['gigabit', 'wifi']),
  z.strictObject({ bandwidthMbps: z.number().positive(), latencyMs: z.number().nonnegative() }),
]);
export type LinkSpec = z.infer<typeof linkSpec>;

/**
 * A cluster scenario, e.g. sim/clusters/pi4-pi5-orin-gigabit.json. A device takes its figures from
 * `profile` unless it states them; `link` on a device says how that device is attached (a pair's
 * link is the slower of its two ends), `links.pairs` overrides single pairs.
 */
export const clusterFileSchema = z.strictObject({
  description: z.string().optional(),
  devices: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(128),
        profile: z.enum(DEVICE_PROFILE_NAMES as [string, ...string[]]).optional(),
        gflops: z.number().positive().optional(),
        /** Float-equivalent GFLOP/s through the int8 kernel (the agent's int8Gflops); int8 models use it. */
        int8Gflops: z.number().positive().optional(),
        memoryMB: z.number().nonnegative().optional(),
        threads: z.number().int().positive().optional(),
        link: linkSpec.optional(),
      }),
    )
    .min(1),
  links: z.strictObject({
    default: linkSpec,
    pairs: z.array(z.strictObject({ a: z.string(), b: z.string(), link: linkSpec })).optional(),
  }),
  seqLen: z.number().int().positive().optional(),
  wireDtype: z.enum(FLOAT_WIRE_DTYPES).optional(),
  /** Fraction of requests answered at each exit layer, in order (from `edgerelay calibrate`). */
  exitRates: z.array(z.number().min(0).max(1)).optional(),
});
export type ClusterFile = z.infer<typeof clusterFileSchema>;

export function readClusterFile(file: string): ClusterFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ClusterFileError(`Cannot read cluster file ${file}: ${(err as Error).message}`);
  }
  return parseClusterFile(raw, file);
}

export function parseClusterFile(raw: unknown, file = 'cluster file'): ClusterFile {
  const parsed = clusterFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || '(root)';
    throw new ClusterFileError(
      `${file} is malformed at ${where}: ${issue.message}. See docs/planner.md for the format.`,
    );
  }
  return parsed.data;
}

function toLink(spec: LinkSpec): Link {
  return typeof spec === 'string' ? linkProfile(spec) : linkFromMbps(spec.bandwidthMbps, spec.latencyMs);
}

/** The slower of two attachments: a Pi on Wi-Fi talks Wi-Fi to everyone. */
function slower(a: Link, b: Link): Link {
  return {
    bandwidthBytesPerSec: Math.min(a.bandwidthBytesPerSec, b.bandwidthBytesPerSec),
    latencyMs: Math.max(a.latencyMs, b.latencyMs),
  };
}

export function clusterFromFile(file: ClusterFile, where = 'cluster file'): ClusterModel {
  const names = file.devices.map((d) => d.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ClusterFileError(`${where} lists device "${dup}" twice; device names must be unique.`);
  const devices = file.devices.map((d) => {
    const profile = d.profile ? DEVICE_PROFILES[d.profile as keyof typeof DEVICE_PROFILES] : undefined;
    const gflops = d.gflops ?? profile?.gflops;
    const memoryMB = d.memoryMB ?? profile?.memoryMB;
    if (gflops === undefined || memoryMB === undefined) {
      throw new ClusterFileError(
        `${where}: device "${d.name}" needs a "profile" (${DEVICE_PROFILE_NAMES.join(', ')}) or both "gflops" and "memoryMB".`,
      );
    }
    const threads = d.threads ?? profile?.threads;
    return {
      id: d.name,
      gflops,
      ...(d.int8Gflops !== undefined ? { int8Gflops: d.int8Gflops } : {}),
      memoryBytes: memoryMB * 1024 * 1024,
      ...(threads !== undefined ? { threads } : {}),
      profile: !d.profile
        ? 'explicit'
        : [d.gflops, d.memoryMB, d.threads].some((v) => v !== undefined)
          ? `${d.profile} (figures overridden)`
          : d.profile,
    };
  });
  const fallback = toLink(file.links.default);
  const attachment = file.devices.map((d) => (d.link ? toLink(d.link) : undefined));
  const links = devices.map((_, i) =>
    devices.map((__, j) => {
      if (i === j) return LOCAL;
      const a = attachment[i];
      const b = attachment[j];
      if (a && b) return slower(a, b);
      return a ?? b ?? fallback;
    }),
  );
  for (const p of file.links.pairs ?? []) {
    const i = names.indexOf(p.a);
    const j = names.indexOf(p.b);
    for (const [name, k] of [
      [p.a, i],
      [p.b, j],
    ] as const) {
      if (k < 0)
        throw new ClusterFileError(
          `${where}: links.pairs names "${name}", which is not one of the devices (${names.join(', ')}).`,
        );
    }
    if (i === j)
      throw new ClusterFileError(`${where}: links.pairs links "${p.a}" to itself; a pair needs two different devices.`);
    links[i]![j] = links[j]![i] = toLink(p.link);
  }
  return checkCluster({ devices, links });
}
