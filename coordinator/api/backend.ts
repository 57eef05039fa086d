import type { Hop } from '@edgerelay/proto';
import { EdgeRelayError } from '@edgerelay/proto';
import type { TextInput } from '../tokenizer/index.js';

export interface LabelScore {
  label: string;
  score: number;
}

/** What the cluster answered for one text. */
export interface ClassificationOutcome {
  /** Every label with its probability, highest first. */
  scores: LabelScore[];
  /** Raw logits of the classifier that answered, by label index. */
  logits: number[];
  /** 1-based encoder layer whose classifier answered. */
  exitLayer: number;
  /** true when an early-exit head answered before the final classifier. */
  early: boolean;
  /**
   * true when the request could not finish (an agent failed and no new plan could serve it in time)
   * and the answer is the last exit head it reached, below the threshold.
   */
  degraded?: boolean;
  /** Agents that took part, in the order the request visited them (group members included). */
  agents: string[];
  /** Wall time inside the coordinator, from accepting the text to the answer. */
  totalMs: number;
  /** Per-stage breakdown reported by the agents. */
  hops: Hop[];
  /** Wordpiece tokens cut from the end of the text to fit the model's positions; 0 or absent when it fit. */
  truncatedTokens?: number;
  /** Token pruning: the share of the text's real tokens the layers it ran kept, on average. */
  tokensKept?: number;
  /** Parameter-shared models: the ODE steps the text ran with, when the request or deployment chose them. */
  odeSteps?: number;
  /** dact policies: the halting signal the answering agent used ('trained' units or the 'entropy' stand-in). */
  halting?: 'trained' | 'entropy';
}

export interface ClassifyOptions {
  /** Max-probability early-exit threshold for these texts, overriding the deployment's; 0 disables exits. */
  exitThreshold?: number;
  /** An exit-policy spec ("entropy=0.2", "patience=2", "dact", "none") for these texts; wins over exitThreshold. */
  exitPolicy?: string;
  /** Parameter-shared models: apply the shared layer K times (step size L/K), overriding the deployment's. */
  odeSteps?: number;
  /** A token-pruning schedule ("keep=…"), "calibrated" (the deployment's) or "none"; default: the deployment's. */
  tokenPruning?: string;
  /**
   * false: refuse a text longer than the model's positions (InputTooLongError) instead of cutting it.
   * Default true, cutting wordpieces from the end and reporting how many in truncatedTokens.
   */
  truncate?: boolean;
}

/** What GET /healthz reports beyond readiness. */
export interface BackendHealth {
  /** Version of the active plan; null while none is deployed. */
  planVersion: number | null;
  /** Agents connected to the coordinator now (heartbeating), whether or not the plan uses them. */
  agentsConnected: number;
}

/** The coordinator side the HTTP API talks to; the API knows nothing about plans or agents. */
export interface ClassifierBackend {
  /** true once a plan is deployed and requests can be served. */
  isReady(): boolean;
  /** One outcome per input, in order; an input is a text or a sentence pair. */
  classify(texts: readonly TextInput[], options: ClassifyOptions): Promise<ClassificationOutcome[]>;
  /** Cluster state for /healthz; backends without one report readiness only. */
  health?(): BackendHealth;
}

/** Errors a backend raises that the API maps to HTTP statuses. */
export class BackendUnavailableError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_BACKEND_UNAVAILABLE';
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
  ) {
    super(message);
  }
}

/** A text is longer than the model's positions and the request asked not to truncate it. */
export class InputTooLongError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_INPUT_TOO_LONG';
  constructor(
    /** Position of the text in the request's inputs. */
    readonly index: number,
    /** Its length in tokens, [CLS] and [SEP] included. */
    readonly tokens: number,
    readonly maxTokens: number,
  ) {
    super(`text ${index} is ${tokens} tokens long, over the model's ${maxTokens}-token limit`);
  }
}
