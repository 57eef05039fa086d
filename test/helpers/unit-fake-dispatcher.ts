import type { FrameOf } from '../../proto/frames.js';
import type { Dispatcher } from '../../coordinator/serving/dispatcher.js';

export interface FakePlan {
  version: number;
  exit: { maxProbThreshold: number; policy: string } | null;
}

/** What one submit does: answer with logits, or throw. */
export type Script = (call: SubmitCall) => FrameOf<'result'> | Error;

export interface SubmitCall {
  ids: number[];
  policy: string;
  timeoutMs: number;
  /** The plan active when the request was submitted. */
  planVersion: number;
}

/**
 * The part of Dispatcher that ClusterBackend uses (activePlan, servable, submit, waitForPlanAfter),
 * scripted per call. `invalidate` and `activate` change the plan the way the real dispatcher does:
 * an invalidated plan is not servable; a plan waiter wakes when a newer plan is activated.
 */
export class FakeDispatcher {
  activePlan: FakePlan | undefined;
  servable = false;
  readonly calls: SubmitCall[] = [];
  readonly waits: Array<{ version: number; timeoutMs: number }> = [];
  /** Called when a request waits for a plan newer than the unservable one: e.g. activate the next plan. */
  onWait: ((version: number) => void) | undefined;
  private planWaiters: Array<{ version: number; wake: () => void }> = [];

  constructor(private readonly script: Script) {}

  activate(plan: FakePlan): void {
    this.activePlan = plan;
    this.servable = true;
    for (const w of this.planWaiters.filter((w) => plan.version > w.version)) w.wake();
  }

  invalidate(): void {
    this.servable = false;
  }

  async submit(ids: BigInt64Array, policy: string, timeoutMs: number): Promise<FrameOf<'result'>> {
    const call = { ids: Array.from(ids, Number), policy, timeoutMs, planVersion: this.activePlan?.version ?? -1 };
    this.calls.push(call);
    const outcome = this.script(call);
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }

  waitForPlanAfter(version: number, timeoutMs: number): Promise<void> {
    this.waits.push({ version, timeoutMs });
    if (this.activePlan && this.activePlan.version > version && this.servable) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        version,
        wake: () => {
          clearTimeout(timer);
          this.planWaiters = this.planWaiters.filter((w) => w !== entry);
          resolve();
        },
      };
      const timer = setTimeout(entry.wake, Math.max(0, timeoutMs));
      this.planWaiters.push(entry);
      this.onWait?.(version);
    });
  }

  /** For ClusterBackend's constructor, which is typed with the class. */
  asDispatcher(): Dispatcher {
    return this as unknown as Dispatcher;
  }
}

export function result(logits: number[], overrides: Partial<FrameOf<'result'>> = {}): FrameOf<'result'> {
  return {
    type: 'result',
    requestId: 'r',
    planVersion: 1,
    exitLayer: 5,
    early: false,
    logits,
    trace: [],
    ...overrides,
  };
}
