import type { Frame, FrameOf } from '../../proto/frames.js';
import type { Plan__Output as Plan } from '../../proto/control.js';
import { DataPlaneServer } from '../../device-agent/data-plane/server.js';
import type { Link } from '../../proto/data-plane/link.js';
import { maxFrameBytesFor } from '../../proto/data-plane/limits.js';

/** A data-plane key for tests: any bytes work, both sides only need to agree. */
export const TEST_PLAN_KEY = new Uint8Array(32).fill(7);

/**
 * An in-process stand-in for an agent's data plane: a real listener on 127.0.0.1 that speaks the
 * challenge/hello handshake (DataPlaneServer), records every frame the coordinator sends and lets a
 * test answer on the same link. No agent process, no ONNX sessions.
 */
export class FakeAgentDataPlane {
  /** Every frame the coordinator sent after its hello, in arrival order. */
  readonly received: Frame[] = [];
  /** Authenticated links, in the order the coordinator dialed them. */
  readonly links: Link[] = [];
  private readonly queued = new Map<Frame['type'], Array<{ frame: Frame; link: Link }>>();
  private readonly waiters = new Map<Frame['type'], Array<(v: { frame: Frame; link: Link }) => void>>();

  private constructor(private readonly server: DataPlaneServer) {}

  /** Listens on a free port, admitting peers that prove `key` for any of `versions`. */
  static async start(versions: number[], key: Uint8Array = TEST_PLAN_KEY, hiddenSize = 8): Promise<FakeAgentDataPlane> {
    let self: FakeAgentDataPlane | undefined;
    const server = await DataPlaneServer.start({
      host: '127.0.0.1',
      port: 0,
      keys: (version) =>
        versions.includes(version) ? { key, maxFrameBytes: maxFrameBytesFor(hiddenSize) } : undefined,
      onFrame: (frame, link) => self!.onFrame(frame, link),
      onBadFrame: () => undefined,
      onRejected: () => undefined,
      onClosed: () => undefined,
    });
    self = new FakeAgentDataPlane(server);
    return self;
  }

  get address(): string {
    return `127.0.0.1:${this.server.port}`;
  }

  private onFrame(frame: Frame, link: Link): void {
    if (frame.type === 'hello') {
      this.links.push(link);
      return;
    }
    this.received.push(frame);
    const waiter = this.waiters.get(frame.type)?.shift();
    if (waiter) waiter({ frame, link });
    else this.queued.set(frame.type, [...(this.queued.get(frame.type) ?? []), { frame, link }]);
  }

  /** The next frame of `type` the coordinator sends (or one already received and not yet taken), with its link. */
  next<T extends Frame['type']>(type: T, timeoutMs = 5000): Promise<{ frame: FrameOf<T>; link: Link }> {
    const ready = this.queued.get(type)?.shift();
    if (ready) return Promise.resolve(ready as { frame: FrameOf<T>; link: Link });
    return new Promise((resolve, reject) => {
      const waiter = (v: { frame: Frame; link: Link }) => {
        clearTimeout(timer);
        resolve(v as { frame: FrameOf<T>; link: Link });
      };
      const timer = setTimeout(() => {
        const list = this.waiters.get(type) ?? [];
        list.splice(list.indexOf(waiter), 1);
        reject(new Error(`fake agent got no ${type} frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(type, [...(this.waiters.get(type) ?? []), waiter]);
    });
  }

  /** Drops every connection, as a crashed agent would. */
  dropLinks(): void {
    for (const l of this.links) l.socket.terminate();
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

/** A one-stage plan whose only stage is hosted by `host` at `address`. */
export function onePlan(version: number, address: string, host = 'agent-0'): Plan {
  return {
    version,
    modelId: 'unit-test-model',
    stages: [{ layerStart: 0, layerEnd: 2, host, members: [] }],
    endpoints: [{ agentId: host, dataAddress: address }],
    exit: null,
    numLabels: 2,
    exitLayers: [1],
    wireDtype: 'float32',
    numLayers: 2,
    hiddenSize: 8,
  };
}

/** An answer from the final classifier for `input`, with the given logits. */
export function resultFor(
  input: FrameOf<'stage-input'>,
  logits: number[],
  overrides: Partial<FrameOf<'result'>> = {},
): FrameOf<'result'> {
  return {
    type: 'result',
    requestId: input.requestId,
    planVersion: input.planVersion,
    exitLayer: 1,
    early: false,
    logits,
    trace: [],
    ...overrides,
  };
}
