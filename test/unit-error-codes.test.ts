import assert from 'node:assert/strict';
import net from 'node:net';
import { WebSocketServer } from 'ws';
import {
  DATA_PLANE_ERROR_CODES,
  DataPlaneError,
  EdgeRelayError,
  FrameError,
  decodeFrame,
  dial,
  encodeFrame,
} from '../proto/index.js';
import {
  DuplicateWaitError,
  ExitPolicyError,
  PendingReplies,
  STEP_REFUSED_CODES,
  StepRefusedError,
  parseExitPolicy,
} from '../device-agent/index.js';
import { PartialWaiter } from '../device-agent/executor/partial-waiter.js';
import { BackendUnavailableError, InputTooLongError } from '../coordinator/api/backend.js';
import { InvalidRequestError, TextTooLongError, UnsupportedMediaTypeError } from '../coordinator/api/http-errors.js';
import { parseBertConfig } from '../coordinator/checkpoint/config.js';
import { UnsupportedArchitectureError } from '../coordinator/checkpoint/errors.js';
import { DISPATCH_ERROR_CODES, DispatchError, Dispatcher } from '../coordinator/serving/dispatcher.js';
import pino from 'pino';

/**
 * Every error edgerelay raises on purpose is an EdgeRelayError with a stable `code` (as the `ws`
 * library's 'WS_ERR_...'): callers match on the code, not on the message. These trigger the paths
 * through public APIs and check the class, the exact code and that the message did not change.
 */

/** Runs `f` (sync or async) and returns what it threw or rejected with. */
async function caught(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

function assertCode(err: unknown, cls: abstract new (...args: never[]) => Error, code: string, message?: RegExp) {
  assert.ok(err instanceof EdgeRelayError, `not an EdgeRelayError: ${String(err)}`);
  assert.ok(err instanceof cls, `not a ${cls.name}: ${err.name}`);
  assert.equal(err.code, code);
  assert.equal(err.name, cls.name);
  if (message) assert.match(err.message, message);
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A WebSocket server on loopback that handles each connection with `onConnection`. */
async function wsServer(onConnection: (socket: import('ws').WebSocket) => void): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', onConnection);
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  return wss;
}

const addressOf = (wss: WebSocketServer) => `127.0.0.1:${(wss.address() as net.AddressInfo).port}`;
const KEY = { planVersion: 1, key: new Uint8Array(32).fill(7) };
const dialTo = (address: string, timeoutMs = 2000) =>
  dial(
    address,
    { role: 'coordinator', from: 'test' },
    KEY,
    () => undefined,
    () => undefined,
    { timeoutMs },
  );

describe('error codes (unit)', function () {
  describe('proto', function () {
    it('the base class itself has the fallback code EDGERELAY_ERROR', function () {
      const base = new EdgeRelayError('x');
      assert.equal(base.code, 'EDGERELAY_ERROR');
      assert.equal(base.name, 'EdgeRelayError');
    });

    it('decodeFrame of garbage throws FrameError EDGERELAY_BAD_FRAME', function () {
      assertCode(
        (() => {
          try {
            decodeFrame(Buffer.from([0xc1, 0xff, 0x00]));
          } catch (err) {
            return err;
          }
        })(),
        FrameError,
        'EDGERELAY_BAD_FRAME',
        /^not a msgpack frame: /,
      );
      const invalid = (() => {
        try {
          decodeFrame(encodeFrame({ type: 'nonsense' } as never));
        } catch (err) {
          return err;
        }
      })();
      assertCode(invalid, FrameError, 'EDGERELAY_BAD_FRAME', /^invalid frame: /);
    });

    it('dialing a closed port fails with EDGERELAY_DATA_PLANE_UNREACHABLE', async function () {
      const address = `127.0.0.1:${await closedPort()}`;
      const err = await caught(() => dialTo(address));
      assertCode(err, DataPlaneError, DATA_PLANE_ERROR_CODES.unreachable, /^cannot reach data plane at 127\.0\.0\.1:/);
      assert.equal((err as DataPlaneError).code, 'EDGERELAY_DATA_PLANE_UNREACHABLE');
    });

    it('a data plane that never sends its challenge fails with EDGERELAY_DATA_PLANE_HANDSHAKE_TIMEOUT', async function () {
      const wss = await wsServer(() => undefined);
      try {
        const err = await caught(() => dialTo(addressOf(wss), 150));
        assertCode(
          err,
          DataPlaneError,
          'EDGERELAY_DATA_PLANE_HANDSHAKE_TIMEOUT',
          /^data plane at .* sent no challenge within 150 ms$/,
        );
      } finally {
        for (const c of wss.clients) c.terminate();
        await new Promise((resolve) => wss.close(resolve));
      }
    });

    it('a data plane that hangs up during the handshake fails with EDGERELAY_DATA_PLANE_CLOSED', async function () {
      const wss = await wsServer((socket) => socket.close(1008, 'go away'));
      try {
        const err = await caught(() => dialTo(addressOf(wss)));
        assertCode(
          err,
          DataPlaneError,
          'EDGERELAY_DATA_PLANE_CLOSED',
          /^data plane at .* closed the connection \(1008\)$/,
        );
      } finally {
        await new Promise((resolve) => wss.close(resolve));
      }
    });
  });

  describe('device-agent', function () {
    it('PartialWaiter refuses a duplicate request id with EDGERELAY_STEP_DUPLICATE_REQUEST_ID', async function () {
      const waiter = new PartialWaiter();
      const key = PartialWaiter.key('r1', 0, 'attention');
      const first = waiter.expect(key, 2, 10_000);
      const err = await caught(() => waiter.expect(key, 2, 10_000));
      assertCode(
        err,
        StepRefusedError,
        STEP_REFUSED_CODES.duplicateRequestId,
        /already gathering .*duplicate request id/,
      );
      assert.equal((err as StepRefusedError).code, 'EDGERELAY_STEP_DUPLICATE_REQUEST_ID');
      waiter.failAll(new StepRefusedError(STEP_REFUSED_CODES.agentStopping, 'agent stopping'));
      const stopped = await caught(() => first);
      assertCode(stopped, StepRefusedError, 'EDGERELAY_STEP_AGENT_STOPPING', /^agent stopping$/);
    });

    it('PartialWaiter times out with EDGERELAY_STEP_GROUP_TIMEOUT', async function () {
      const waiter = new PartialWaiter();
      const err = await caught(() => waiter.expect(PartialWaiter.key('r2', 3, 'ffn'), 1, 20));
      assertCode(
        err,
        StepRefusedError,
        'EDGERELAY_STEP_GROUP_TIMEOUT',
        /^group members did not answer r2\/3\/ffn within 20 ms$/,
      );
    });

    it('PendingReplies keeps its EDGERELAY_DUPLICATE_WAIT', async function () {
      const replies = new PendingReplies<string, number>();
      const first = replies.wait('k', 10_000, () => new Error('timeout'));
      assertCode(
        await caught(() => replies.wait('k', 10_000, () => new Error('timeout'))),
        DuplicateWaitError,
        'EDGERELAY_DUPLICATE_WAIT',
      );
      replies.deliver('k', 1);
      assert.equal(await first, 1);
    });

    it('parseExitPolicy of garbage throws ExitPolicyError EDGERELAY_EXIT_POLICY', async function () {
      assertCode(
        await caught(() => parseExitPolicy('garbage!')),
        ExitPolicyError,
        'EDGERELAY_EXIT_POLICY',
        /^Invalid exit policy "garbage!"/,
      );
    });
  });

  describe('coordinator', function () {
    it('the dispatcher asks no agent before a plan is active: EDGERELAY_DISPATCH_NO_PLAN', async function () {
      const dispatcher = new Dispatcher('coordinator', pino({ level: 'silent' }), { maxInFlight: 8 });
      try {
        assertCode(
          await caught(() => dispatcher.agentStats('a1', '127.0.0.1:1')),
          DispatchError,
          DISPATCH_ERROR_CODES.noPlan,
          /^no active plan to authenticate with$/,
        );
      } finally {
        dispatcher.close();
      }
    });

    it('backend errors are EdgeRelayErrors with codes', function () {
      assertCode(
        new BackendUnavailableError('no plan yet', 3),
        BackendUnavailableError,
        'EDGERELAY_BACKEND_UNAVAILABLE',
      );
      assertCode(new InputTooLongError(0, 600, 512), InputTooLongError, 'EDGERELAY_INPUT_TOO_LONG', /600 tokens long/);
    });

    it('HTTP errors keep their client-facing codes; the others send none', function () {
      const media = new UnsupportedMediaTypeError('text/plain');
      assertCode(media, UnsupportedMediaTypeError, 'unsupported_media_type');
      assert.equal(media.clientCode, 'unsupported_media_type');
      const long = new TextTooLongError(0, 600, 512);
      assertCode(long, TextTooLongError, 'input_too_long');
      assert.equal(long.clientCode, 'input_too_long');
      const invalid = new InvalidRequestError('inputs must be a string');
      assertCode(invalid, InvalidRequestError, 'EDGERELAY_HTTP_INVALID_REQUEST');
      assert.equal(invalid.clientCode, undefined);
    });

    it('checkpoint config errors carry their subclass code', async function () {
      assertCode(
        await caught(() => parseBertConfig({ model_type: 'bert', hidden_act: 'swish' }, 'x/config.json')),
        UnsupportedArchitectureError,
        'EDGERELAY_UNSUPPORTED_ARCHITECTURE',
        /hidden_act "swish"/,
      );
    });
  });
});
