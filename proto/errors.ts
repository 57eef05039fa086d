/** Base class of every error edgerelay raises on purpose; its message tells the user what to do. */
export class EdgeRelayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
