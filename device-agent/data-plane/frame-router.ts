import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import type { Frame } from '@edgerelay/proto';
import type { StepAdmission } from '../executor/admission.js';
import type { LoadedPlan } from '../executor/loaded-plan.js';
import type { StageExecutor } from '../executor/stage-executor.js';
import type { AgentStats } from '../executor/stats.js';
import type { LinkProber } from '../link-probe.js';
import { measureLinks } from '../link-report.js';
import { fromWire } from '../runtime/index.js';
import type { CoordinatorLinks } from './coordinator-links.js';
import type { DataPlaneCounters, Link } from '@edgerelay/proto';

export interface FrameRouterParts {
  agentName: string;
  coordinatorLinks: CoordinatorLinks;
  admission: StepAdmission;
  executor: StageExecutor;
  /** The loaded plan a request names; throws when this agent does not run it (any more). */
  plan: (planVersion: number) => LoadedPlan;
  prober: LinkProber;
  stats: AgentStats;
  counters: DataPlaneCounters;
}

/** Hands every authenticated data-plane frame, from the coordinator or a peer, to the part that handles it. */
export class FrameRouter {
  constructor(private readonly parts: FrameRouterParts) {}

  route(frame: Frame, link: Link): void {
    const { admission, executor } = this.parts;
    switch (frame.type) {
      case 'hello':
        if (frame.role === 'coordinator') this.parts.coordinatorLinks.add(link);
        return;
      case 'stage-input':
        void admission.guard(
          frame.requestId,
          frame.planVersion,
          () => executor.runStage(frame, this.parts.plan(frame.planVersion)),
          (error) => this.parts.coordinatorLinks.send(error),
        );
        return;
      case 'scatter':
        void admission.guard(
          frame.requestId,
          frame.planVersion,
          async () => {
            link.send(await executor.runScatter(frame, this.parts.plan(frame.planVersion)));
          },
          (error) => link.send(error),
        );
        return;
      case 'seq-start':
        void admission.guard(
          frame.requestId,
          frame.planVersion,
          () => executor.seq.runMember(frame, this.parts.plan(frame.planVersion)),
          (error) => link.send(error),
        );
        return;
      case 'seq-rows':
        executor.seq.deliver(frame);
        return;
      case 'seq-cancel':
        executor.seq.cancel(frame);
        return;
      case 'partial':
        executor.waiter.deliver(`${frame.requestId}/${frame.layer}/${frame.part}`, fromWire(frame.partial));
        if (frame.scores) executor.waiter.deliver(`${frame.requestId}/${frame.layer}/scores`, fromWire(frame.scores));
        return;
      case 'error': {
        // A group member failed its share: the host stops waiting for that request.
        const err = new StepRefusedError(STEP_REFUSED_CODES.memberFailed, frame.message);
        executor.waiter.failRequest(frame.requestId, err);
        executor.seq.failRequest(frame.requestId, err);
        return;
      }
      case 'probe':
        link.send({ type: 'probe-echo', requestId: frame.requestId, seq: frame.seq });
        return;
      case 'probe-echo':
        this.parts.prober.echoed(frame);
        return;
      case 'probe-request':
        if (link.peer?.role === 'coordinator') {
          void measureLinks(this.parts.prober, this.parts.agentName, frame.requestId, frame.peers).then((report) =>
            link.send(report),
          );
        }
        return;
      case 'stats-request':
        link.send({
          type: 'stats',
          requestId: frame.requestId,
          agent: this.parts.agentName,
          ...this.parts.stats,
          bytesSent: this.parts.counters.bytesSent,
          stepsInFlight: this.parts.admission.inFlight,
        });
        return;
      default:
        return;
    }
  }
}
