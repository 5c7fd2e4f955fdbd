import { MailfetchError } from '../errors';

/** Typed errors of the run orchestration (decisions about a session, not one layer's failure). */
export const SyncErrorCode = {
  /**
   * The server announced UIDL (or is known to have it) but answered -ERR to it: a busy
   * index. Falling back to header fingerprints would give every message a second identity
   * (a second object), so the session ends and the next run tries again.
   */
  UIDL_UNAVAILABLE: 'UIDL_UNAVAILABLE',
  /** The session ended without QUIT on purpose: a retrieved message is not stored. */
  QUIT_WITHHELD: 'QUIT_WITHHELD',
  /** The run's internal deadline (Lambda deadline minus the safety margin) passed. */
  DEADLINE: 'DEADLINE',
  /**
   * The run was interrupted (the command line's Ctrl-C) and its messages in flight did not
   * finish within the grace period: the session was cut off as at the deadline.
   */
  INTERRUPTED: 'INTERRUPTED',
} as const;
export type SyncErrorCode = (typeof SyncErrorCode)[keyof typeof SyncErrorCode];

const RETRYABLE: ReadonlySet<SyncErrorCode> = new Set<SyncErrorCode>([SyncErrorCode.UIDL_UNAVAILABLE, SyncErrorCode.QUIT_WITHHELD, SyncErrorCode.DEADLINE, SyncErrorCode.INTERRUPTED]);

export class SyncError extends MailfetchError<SyncErrorCode> {
  override readonly name = 'SyncError';

  constructor(code: SyncErrorCode, message: string, cause?: unknown) {
    super(code, message, RETRYABLE.has(code), cause);
  }
}
