import type { ClassificationOutcome, LabelScore } from './backend.js';

/** Labels by descending score, cut to topK; copies so the backend's arrays are never mutated. */
export function rankScores(scores: readonly LabelScore[], topK?: number): LabelScore[] {
  const ranked = scores.map(({ label, score }) => ({ label, score })).sort((a, b) => b.score - a.score);
  return topK === undefined ? ranked : ranked.slice(0, topK);
}

/** The Hugging Face response: one list of {label, score} per input text. */
export function hfResults(outcomes: readonly ClassificationOutcome[], topK?: number): LabelScore[][] {
  return outcomes.map((o) => rankScores(o.scores, topK));
}

/** The `details: true` body: results plus how each text travelled through the cluster. */
export function detailedBody(outcomes: readonly ClassificationOutcome[], topK?: number) {
  return {
    results: hfResults(outcomes, topK),
    details: outcomes.map(
      ({ exitLayer, early, agents, totalMs, hops, logits, degraded, truncatedTokens = 0, halting }) => ({
        exitLayer,
        early,
        degraded: !!degraded,
        truncated: truncatedTokens > 0,
        tokensDropped: truncatedTokens,
        agents,
        totalMs,
        hops,
        logits,
        ...(halting && { halting }),
      }),
    ),
  };
}

// Agent ids are free-form strings; header values must be visible ASCII, and ',' and '>' are our separators.
function headerSafe(value: string): string {
  return value.replace(/[^\x21-\x7e]|[%,>;"]/g, (c) => encodeURIComponent(c));
}

// JSON escapes for non-ASCII keep the value valid JSON and losslessly decodable.
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

// Server-Timing metric names are HTTP tokens.
function timingName(value: string): string {
  return value.replace(/[^A-Za-z0-9!#$%&'*+.^_`|~-]/g, '_');
}

function ms(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** `total;dur=12.3, stage0-agent;dur=4.1, ...` for one text, readable in browser dev tools. */
export function serverTiming(outcome: ClassificationOutcome): string {
  const hops = outcome.hops.map((hop) => `stage${hop.stage}-${timingName(hop.agent)};dur=${ms(hop.computeMs)}`);
  return [`total;dur=${ms(outcome.totalMs)}`, ...hops].join(', ');
}

/** The x-edgerelay-* headers that tell a client where and how early each text was answered. */
export function outcomeHeaders(outcomes: readonly ClassificationOutcome[], requestMs: number): Record<string, string> {
  const first = outcomes[0];
  return {
    'x-edgerelay-exit-layer': outcomes.map((o) => o.exitLayer).join(','),
    'x-edgerelay-early-exit': outcomes.map((o) => String(o.early)).join(','),
    // true where later stages failed and the answer is the last exit head reached, below threshold.
    'x-edgerelay-degraded': outcomes.map((o) => String(!!o.degraded)).join(','),
    // How many of the texts were cut to fit the model's positions (details say which, and by how much).
    'x-edgerelay-truncated': String(outcomes.filter((o) => (o.truncatedTokens ?? 0) > 0).length),
    'x-edgerelay-agents':
      outcomes.length === 1 ? first!.agents.map(headerSafe).join('>') : asciiJson(outcomes.map((o) => o.agents)),
    ...(first && { 'server-timing': serverTiming(first) }),
    'x-edgerelay-request-ms': ms(requestMs),
  };
}
