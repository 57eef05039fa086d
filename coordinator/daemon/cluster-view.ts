import type { Plan__Output as Plan } from '@edgerelay/proto';
import { planAgents } from '@edgerelay/device-agent';
import type { AgentRecord, AgentRegistry } from '../cluster/registry.js';
import type { AgentState, RecentRequest, RecentSummary } from '../metrics/index.js';

/** The cluster as `GET /v1/cluster` reports it: what `edgerelay status` and the cluster page show. */
export interface ClusterView {
  model: { id: string; numLayers: number; numHeads: number; hiddenSize: number; exitLayers: number[] };
  planVersion: number | null;
  exitPolicy: string;
  wireDtype: string;
  agents: AgentView[];
  stages: {
    index: number;
    /** Encoder layers [start, end), 0-based. */
    layers: [number, number];
    host: string;
    members: { agent: string; heads: number[]; ffnColumns: number }[];
  }[];
  links: { from: string; to: string; bandwidthMbps: number; latencyMs: number }[];
  recent: RecentSummary;
  /** Newest first. */
  requests: RecentRequest[];
}

export interface AgentView {
  id: string;
  state: AgentState;
  dataAddress: string;
  device: { cores: number; cpuModel: string; gflops: number; memoryTotalMB: number; platform: string; arch: string };
  loadAverage: number;
  memoryFreeMB: number;
  /** How long ago the last heartbeat arrived; null for an agent that is gone. */
  lastSeenMsAgo: number | null;
  /** The plan's layers this agent holds, as stage host or group member. */
  roles: string[];
  loadError?: string;
  /** Why a down agent left (no heartbeat, its stream closed, it shut down). */
  downReason?: string;
}

/** An agent that left: shown as down (with its last known figures) until it comes back. */
export interface DepartedAgent {
  id: string;
  reason: string;
  atMs: number;
  last?: AgentView;
}

const MB = 1 << 20;

function roles(plan: Plan | undefined, id: string): string[] {
  if (!plan) return [];
  const out: string[] = [];
  plan.stages.forEach((s, i) => {
    const layers = `layers ${s.layerStart}-${s.layerEnd - 1}`;
    if (s.host === id) out.push(`stage ${i} host (${layers})`);
    const share = s.members.find((m) => m.agentId === id);
    if (share && s.host !== id)
      out.push(`stage ${i} member: ${share.heads.length} heads, ${share.ffnColumns.length} FFN columns`);
  });
  return out;
}

function stateOf(a: AgentRecord, plan: Plan | undefined, inPlan: Set<string>): AgentState {
  if (!inPlan.has(a.id)) return 'standby';
  return plan && a.readyVersion >= plan.version ? 'serving' : 'loading';
}

/** Every connected agent's state, and the plan's agents that are gone as 'down'. */
export function agentStates(registry: AgentRegistry, plan: Plan | undefined): { id: string; state: AgentState }[] {
  const inPlan = new Set(plan ? planAgents(plan) : []);
  const connected = registry.connected();
  const here = new Set(connected.map((a) => a.id));
  return [
    ...connected.map((a) => ({ id: a.id, state: stateOf(a, plan, inPlan) })),
    ...[...inPlan].filter((id) => !here.has(id)).map((id) => ({ id, state: 'down' as const })),
  ];
}

function agentView(a: AgentRecord, plan: Plan | undefined, inPlan: Set<string>, now: number): AgentView {
  const c = a.capabilities;
  const state = stateOf(a, plan, inPlan);
  return {
    id: a.id,
    state,
    dataAddress: a.dataAddress,
    device: {
      cores: c.cores,
      cpuModel: c.cpuModel,
      gflops: c.gflops,
      memoryTotalMB: Math.round(Number(c.memoryTotalBytes) / MB),
      platform: c.platform,
      arch: c.arch,
    },
    loadAverage: a.load?.loadAverage ?? c.loadAverage,
    memoryFreeMB: Math.round((a.load?.memoryFreeBytes ?? Number(c.memoryFreeBytes)) / MB),
    lastSeenMsAgo: now - a.lastSeenMs,
    roles: roles(plan, a.id),
    ...(a.loadError && plan && a.loadError.version === plan.version && { loadError: a.loadError.message }),
  };
}

export function clusterView(parts: {
  registry: AgentRegistry;
  plan: Plan | undefined;
  model: ClusterView['model'];
  measuredLinks: ReadonlyMap<string, { bandwidthBytesPerSec: number; latencyMs: number }>;
  recent: { summary(): RecentSummary; list(limit?: number): RecentRequest[] };
  departed?: Iterable<DepartedAgent>;
  recentLimit?: number;
}): ClusterView {
  const { plan, registry } = parts;
  const now = Date.now();
  const inPlan = new Set(plan ? planAgents(plan) : []);
  const connected = registry.connected();
  const agents = connected.map((a) => agentView(a, plan, inPlan, now));
  const here = new Set(connected.map((a) => a.id));
  const departed = new Map([...(parts.departed ?? [])].map((d) => [d.id, d]));
  for (const id of new Set([...inPlan, ...departed.keys()])) {
    if (here.has(id)) continue;
    const gone = departed.get(id);
    agents.push({
      ...(gone?.last ?? emptyAgent(id)),
      state: 'down',
      lastSeenMsAgo: null,
      roles: roles(plan, id),
      ...(gone && { downReason: `${gone.reason} (${Math.round((now - gone.atMs) / 1000)} s ago)` }),
    });
  }
  return {
    model: parts.model,
    planVersion: plan?.version ?? null,
    exitPolicy:
      plan?.exit?.policy || (plan?.exit?.maxProbThreshold ? `max-prob=${plan.exit.maxProbThreshold}` : 'none'),
    wireDtype: plan?.wireDtype || 'float32',
    agents: agents.sort((a, b) => a.id.localeCompare(b.id)),
    stages: (plan?.stages ?? []).map((s, index) => ({
      index,
      layers: [s.layerStart, s.layerEnd],
      host: s.host,
      members: s.members.map((m) => ({ agent: m.agentId, heads: m.heads, ffnColumns: m.ffnColumns.length })),
    })),
    links: [...parts.measuredLinks].map(([key, l]) => {
      const [from = '', to = ''] = key.split('|');
      return { from, to, bandwidthMbps: (l.bandwidthBytesPerSec * 8) / 1e6, latencyMs: l.latencyMs };
    }),
    recent: parts.recent.summary(),
    requests: parts.recent.list(parts.recentLimit ?? 20),
  };
}

function emptyAgent(id: string): AgentView {
  return {
    id,
    state: 'down',
    dataAddress: '',
    device: { cores: 0, cpuModel: '', gflops: 0, memoryTotalMB: 0, platform: '', arch: '' },
    loadAverage: 0,
    memoryFreeMB: 0,
    lastSeenMsAgo: null,
    roles: [],
  };
}
