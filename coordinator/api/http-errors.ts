import { EdgeRelayError } from '@edgerelay/proto';

/**
 * An error the HTTP API answers with a specific status. Its message goes to the client as
 * `{"error": message}` (the Hugging Face Inference API's error shape), so it must say what to fix.
 */
export class HttpApiError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_HTTP_API';
  /**
   * A stable machine-readable name for API clients, sent as `code` beside `error` where set (only
   * some errors have one; the others' `code` stays in this process).
   */
  readonly clientCode?: string;

  constructor(
    readonly status: number,
    message: string,
    /** Extra response headers, e.g. Allow or Retry-After. */
    readonly headers: Readonly<Record<string, string>> = {},
    /** Set on 503s: trying again later can succeed. */
    readonly retryable = false,
  ) {
    super(message);
  }
}

/** The request body or its parameters are not a valid classify request. */
export class InvalidRequestError extends HttpApiError {
  override readonly code: string = 'EDGERELAY_HTTP_INVALID_REQUEST';
  constructor(message: string) {
    super(400, message);
  }
}

/** The body is not declared as JSON. */
export class UnsupportedMediaTypeError extends HttpApiError {
  override readonly code = 'unsupported_media_type';
  override readonly clientCode = 'unsupported_media_type';
  constructor(given: string | undefined) {
    // Requiring JSON also makes a cross-origin browser POST need a CORS preflight, which the API never grants.
    super(
      415,
      `${given ? `Content-Type "${given.slice(0, 100)}" is not accepted` : 'the request has no Content-Type'}; ` +
        'send the body as JSON with "Content-Type: application/json" (curl: -H \'Content-Type: application/json\')',
    );
  }
}

/** A text is longer than the model's positions and parameters.truncation forbids cutting it. */
export class TextTooLongError extends HttpApiError {
  override readonly code = 'input_too_long';
  override readonly clientCode = 'input_too_long';
  constructor(index: number, tokens: number, maxTokens: number) {
    super(
      400,
      `inputs[${index}]: the text is ${tokens} tokens long ([CLS] and [SEP] included), over the model's ${maxTokens}-token limit; ` +
        'shorten it, or leave out parameters.truncation (or set it to "longest_first") to have it cut to fit',
    );
  }
}

/** The body is larger than the configured limit; raised before the whole body is read. */
export class PayloadTooLargeError extends HttpApiError {
  override readonly code: string = 'EDGERELAY_HTTP_PAYLOAD_TOO_LARGE';
  constructor(readonly limitBytes: number) {
    super(413, `request body is larger than the ${limitBytes}-byte limit`, { Connection: 'close' });
  }
}

/** The cluster cannot serve requests right now; Retry-After tells clients when to try again. */
export class ServiceUnavailableError extends HttpApiError {
  override readonly code: string = 'EDGERELAY_HTTP_SERVICE_UNAVAILABLE';
  constructor(message: string, retryAfterSeconds: number) {
    super(503, message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) }, true);
  }
}

/** The client went away (aborted, reset) before its body arrived; there is nobody to answer. */
export class ClientGoneError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_HTTP_CLIENT_GONE';
}

/** The API could not start: invalid limits, or its port could not be bound. */
export class HttpApiStartError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_HTTP_API_START';
}
