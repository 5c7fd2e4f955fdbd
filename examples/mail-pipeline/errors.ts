/**
 * The pipeline's one error type. `code` says what went wrong in a word a log filter or an
 * alarm can key on; `retryable` says whether delivering the same event again may succeed
 * (Lambda retries a failed asynchronous invocation, then sends it to the dead-letter queue).
 */
export const MailPipelineErrorCode = {
  /** Not a `Mail Stored` event from mailfetch: the rule routed something it should not have. */
  UNSUPPORTED_EVENT: 'UNSUPPORTED_EVENT',
  /** A detail version this handler was not written for: update the handler. */
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  /** A detail field is missing or malformed (names every problem). */
  INVALID_DETAIL: 'INVALID_DETAIL',
  /** The object's bytes are not the ones the event describes: overwritten or replaced since. */
  STALE_OBJECT: 'STALE_OBJECT',
  /** The message is larger than the handler parses in memory. */
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  /** The message could not be read from S3 or its output written (access, network, throttling). */
  S3_FAILED: 'S3_FAILED',
  /** The handler's configuration (environment) is invalid. */
  INVALID_CONFIG: 'INVALID_CONFIG',
} as const;
export type MailPipelineErrorCode = (typeof MailPipelineErrorCode)[keyof typeof MailPipelineErrorCode];

/** Codes a later delivery of the same event may get past; the others need a human. */
const RETRYABLE: ReadonlySet<MailPipelineErrorCode> = new Set([MailPipelineErrorCode.S3_FAILED]);

export class MailPipelineError extends Error {
  override readonly name = 'MailPipelineError';
  readonly retryable: boolean;

  constructor(
    readonly code: MailPipelineErrorCode,
    message: string,
    options: { readonly cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = RETRYABLE.has(code);
  }
}
