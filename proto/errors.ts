/**
 * Base class of every error edgerelay raises on purpose; its message tells the user what to do.
 *
 * Each error carries a stable machine-readable `code` (in the style of the `ws` library's
 * 'WS_ERR_...' codes): match on `code`, not on the message, whose wording may change. Subclasses
 * set their own; 'EDGERELAY_ERROR' is only the fallback of the base class itself.
 */
export class EdgeRelayError extends Error {
  readonly code: string = 'EDGERELAY_ERROR';

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
