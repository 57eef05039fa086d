import type pino from 'pino';
import type { FrameOf } from '@edgerelay/proto';
import type { Link } from '@edgerelay/proto';

/** Frames an agent sends the coordinator unasked: answers of a request, or its failure. */
export type CoordinatorFrame = FrameOf<'result'> | FrameOf<'error'> | FrameOf<'interim'>;

/** The data-plane links the coordinator opened to this agent; answers leave on any open one. */
export class CoordinatorLinks {
  private readonly links = new Set<Link>();

  constructor(private readonly logger: pino.Logger) {}

  add(link: Link): void {
    this.links.add(link);
  }

  delete(link: Link): void {
    this.links.delete(link);
  }

  send(frame: CoordinatorFrame): void {
    // Any open coordinator link will do: the coordinator matches answers by request id.
    for (const link of this.links) if (link.send(frame)) return;
    this.logger.warn({ type: frame.type }, 'no coordinator link to send an answer on');
  }
}
