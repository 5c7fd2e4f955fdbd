/**
 * The base of every typed error in mailfetch: a machine-readable `code`, a retry verdict
 * (will the next scheduled run likely succeed?) and the `cause`. Each layer defines its
 * own codes and subclass (Pop3Error, StateStoreError, StorageError, CredentialError).
 */
export abstract class MailfetchError<C extends string = string> extends Error {
  readonly code: C;
  readonly retryable: boolean;

  protected constructor(code: C, message: string, retryable: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.retryable = retryable;
  }
}

/** Errors that describe the world (servers, network, credentials, AWS), not a bug in this code. */
export function isMailfetchError(err: unknown): err is MailfetchError {
  return err instanceof MailfetchError;
}

/**
 * What a read of a stream destroyed before its end rejects with: the error Node's own stream
 * helpers (async iteration, finished) give, so callers tell it apart by its code.
 */
export function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
