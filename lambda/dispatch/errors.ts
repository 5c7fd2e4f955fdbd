import { MailfetchError } from '../errors';

/** Typed errors of the dispatcher: a tick that throws is retried by the next one. */
export const DispatchErrorCode = {
  /** The registry could not be read (DynamoDB refused, throttled or was unreachable). */
  REGISTRY_UNREADABLE: 'REGISTRY_UNREADABLE',
  /** Messages could not be queued after retries: their mailboxes run at their next slot. */
  SEND_FAILED: 'SEND_FAILED',
  /** The dispatch cursor could not be read or written. */
  CURSOR_FAILED: 'CURSOR_FAILED',
  /** The dispatcher's environment is incomplete. */
  MISCONFIGURED: 'MISCONFIGURED',
} as const;
export type DispatchErrorCode = (typeof DispatchErrorCode)[keyof typeof DispatchErrorCode];

export class DispatchError extends MailfetchError<DispatchErrorCode> {
  override readonly name = 'DispatchError';

  constructor(code: DispatchErrorCode, message: string, cause?: unknown) {
    super(code, message, code !== DispatchErrorCode.MISCONFIGURED, cause);
  }
}
