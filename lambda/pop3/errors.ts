import { MailfetchError } from '../errors';

/**
 * Typed errors of the POP3 engine. Every error carries a machine-readable `code` and a
 * `retryable` flag so callers can decide between "try next run" and "alarm a human".
 * Messages never contain credentials: commands are redacted before they are attached.
 */

export const Pop3ErrorCode = {
  /** Credentials rejected ([AUTH], or -ERR to PASS/APOP/AUTH without a code). */
  AUTH_FAILED: 'AUTH_FAILED',
  /**
   * The client cancelled a SASL exchange (`*`, RFC 5034): a challenge it could not answer, a
   * server proof that did not verify (SCRAM), or a server that would not stop challenging.
   */
  AUTH_CANCELLED: 'AUTH_CANCELLED',
  /** Mailbox locked by another session ([IN-USE]). */
  IN_USE: 'IN_USE',
  /** Logged in too soon after the last login ([LOGIN-DELAY]). */
  LOGIN_DELAY: 'LOGIN_DELAY',
  /** Transient server failure ([SYS/TEMP]). */
  SYS_TEMP: 'SYS_TEMP',
  /** Permanent server failure ([SYS/PERM]). */
  SYS_PERM: 'SYS_PERM',
  /** -ERR without a response code that tells more. */
  SERVER_ERROR: 'SERVER_ERROR',
  /** The server broke the protocol (garbage greeting, malformed listing, over-long line...). */
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  /** A line exceeded the configured maximum. */
  LINE_TOO_LONG: 'LINE_TOO_LONG',
  /** A unique-id was empty, too long, held forbidden bytes, or appeared twice. */
  INVALID_UID: 'INVALID_UID',
  /** A message exceeded the configured maximum size. */
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  /**
   * A message ended well short of the size LIST announced, or its end could not be told
   * apart from a line of the message. Nothing of it should be stored; a later run retries.
   */
  MESSAGE_INCOMPLETE: 'MESSAGE_INCOMPLETE',
  /** A multi-line reply (CAPA, UIDL, LIST...) exceeded its line or octet bound. */
  REPLY_TOO_LARGE: 'REPLY_TOO_LARGE',
  /** TLS handshake or certificate verification failed. */
  TLS_FAILED: 'TLS_FAILED',
  /** Credentials would go over an unencrypted link and the mailbox does not allow it. */
  PLAINTEXT_REFUSED: 'PLAINTEXT_REFUSED',
  /** A required capability (STLS, a SASL mechanism, UIDL, APOP timestamp) is missing. */
  UNSUPPORTED: 'UNSUPPORTED',
  /** TCP connect failed (refused, unreachable, DNS). */
  CONNECT_FAILED: 'CONNECT_FAILED',
  CONNECT_TIMEOUT: 'CONNECT_TIMEOUT',
  GREETING_TIMEOUT: 'GREETING_TIMEOUT',
  /** No byte arrived for too long while a reply was pending. */
  IDLE_TIMEOUT: 'IDLE_TIMEOUT',
  /** The session deadline passed or the caller's AbortSignal fired. */
  ABORTED: 'ABORTED',
  /**
   * The server closed the connection (or it reset) while a reply was pending, or the client
   * closed it rather than read on (the rest of an unwanted message was too long to discard).
   */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  /** The client was used wrongly (command after QUIT, second reader...). A bug, not a server fault. */
  USAGE: 'USAGE',
} as const;
export type Pop3ErrorCode = (typeof Pop3ErrorCode)[keyof typeof Pop3ErrorCode];

/** Codes whose cause is expected to go away by itself: the next scheduled run may succeed. */
const RETRYABLE: ReadonlySet<Pop3ErrorCode> = new Set<Pop3ErrorCode>([
  Pop3ErrorCode.IN_USE,
  Pop3ErrorCode.LOGIN_DELAY,
  Pop3ErrorCode.SYS_TEMP,
  Pop3ErrorCode.SERVER_ERROR,
  Pop3ErrorCode.CONNECT_FAILED,
  Pop3ErrorCode.CONNECT_TIMEOUT,
  Pop3ErrorCode.GREETING_TIMEOUT,
  Pop3ErrorCode.IDLE_TIMEOUT,
  Pop3ErrorCode.ABORTED,
  Pop3ErrorCode.CONNECTION_CLOSED,
  Pop3ErrorCode.MESSAGE_INCOMPLETE,
]);

export interface Pop3ErrorDetails {
  /** The command that got the failing reply, redacted (`PASS ***`). */
  readonly command?: string;
  /** RFC 2449/3206 response code from the reply, e.g. `IN-USE`, `SYS/TEMP`. */
  readonly responseCode?: string;
  /** The server's text after the status (printable ASCII only, truncated). */
  readonly serverText?: string;
  readonly cause?: unknown;
}

export class Pop3Error extends MailfetchError<Pop3ErrorCode> {
  override readonly name = 'Pop3Error';
  readonly command?: string;
  readonly responseCode?: string;
  readonly serverText?: string;

  constructor(code: Pop3ErrorCode, message: string, details: Pop3ErrorDetails = {}) {
    super(code, message, RETRYABLE.has(code), details.cause);
    if (details.command !== undefined) this.command = details.command;
    if (details.responseCode !== undefined) this.responseCode = details.responseCode;
    if (details.serverText !== undefined) this.serverText = details.serverText;
  }
}

export function isPop3Error(err: unknown, code?: Pop3ErrorCode): err is Pop3Error {
  return err instanceof Pop3Error && (code === undefined || err.code === code);
}

/** Server text is untrusted: keep printable ASCII and bound its length before it reaches logs. */
export function sanitizeServerText(text: Buffer | string, max = 200): string {
  const s = typeof text === 'string' ? text : text.toString('latin1');
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}
