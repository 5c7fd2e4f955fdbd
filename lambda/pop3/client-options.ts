import type { TlsMode, TlsOptions } from './connect';
import { POP3_PORT, POP3S_PORT } from './constants';

/** Options of a POP3 session (Pop3Client.connect) and of one message; every limit defaults to a constant in constants.ts. */

/** A line of the protocol conversation, for debugging. Secrets are already redacted. */
export interface TraceEvent {
  readonly direction: 'client' | 'server';
  readonly line: string;
}

export interface Pop3ConnectOptions {
  readonly host: string;
  /** @default 995 with implicit TLS, 110 otherwise */
  readonly port?: number;
  /** @default 'implicit' */
  readonly tls?: TlsMode;
  readonly tlsOptions?: TlsOptions;
  /** Local address to connect from. @default chosen by the OS */
  readonly localAddress?: string;
  /** @default CONNECT_TIMEOUT_MS (15 s) */
  readonly connectTimeoutMs?: number;
  /** @default GREETING_TIMEOUT_MS (30 s) */
  readonly greetingTimeoutMs?: number;
  /** @default IDLE_TIMEOUT_MS (60 s) */
  readonly idleTimeoutMs?: number;
  /** Whole-session deadline, counted from connect. @default SESSION_TIMEOUT_MS (15 min) */
  readonly sessionTimeoutMs?: number;
  /** Aborts the session (the socket is destroyed, pending calls fail with ABORTED). */
  readonly signal?: AbortSignal;
  /** @default MAX_LINE_OCTETS (8192) */
  readonly maxLineOctets?: number;
  /** @default MAX_MESSAGE_OCTETS (100 MiB) */
  readonly maxMessageOctets?: number;
  /** A UIDL or LIST reply larger than this fails with REPLY_TOO_LARGE. @default MAX_LISTING_OCTETS (83 MB) */
  readonly maxListingOctets?: number;
  /**
   * Use PIPELINING when the server announces it. `false` forces lock-step for servers
   * that announce it but break under it.
   * @default true
   */
  readonly pipelining?: boolean;
  /** Receives every protocol line except message bodies, with secrets redacted. */
  readonly trace?: (event: TraceEvent) => void;
  /**
   * Secrets (passwords, tokens) to remove from everything the server says and from every
   * trace line and error, in every form they could come back in (raw, latin1, base64 at
   * any offset): see secret-scrubber.ts. A password given to `Pop3Client#userPass`
   * and every blob sent while authenticating are added automatically; `openSession` adds
   * the password and access token. Secrets of any length count.
   * @default none
   */
  readonly secrets?: readonly string[];
  /**
   * Discarding the rest of an unwanted message (over the size limit, or destroyed by its
   * consumer) may take this long; then the session ends instead.
   * @default DRAIN_TIMEOUT_MS (30 s)
   */
  readonly drainTimeoutMs?: number;
  /** ...and read at most this many octets. @default MAX_DRAIN_OCTETS (64 MiB) */
  readonly maxDrainOctets?: number;
  /** QUIT's reply may take this long; the connection is closed either way. @default QUIT_TIMEOUT_MS (5 s) */
  readonly quitTimeoutMs?: number;
}

/** Per-message options of `Pop3Client#retr` and `Pop3Client#top`. */
export interface MessageOptions {
  /** @default the session's maxMessageOctets */
  readonly maxOctets?: number;
  /**
   * The size LIST announced. The message is then checked against it: one that ends well
   * short of it, or at an ambiguous terminator before it, fails with MESSAGE_INCOMPLETE
   * instead of ending (see message-completeness.ts). An ambiguous terminator at or past it
   * is accepted only once a reply is seen to follow it (a NOOP may be sent: reply-boundary.ts).
   * @default unknown: an ambiguous terminator fails the message
   */
  readonly expectedOctets?: number;
}

/** The port a session connects to: the configured one, else 995 with implicit TLS and 110 otherwise. */
export function portOf(options: Pick<Pop3ConnectOptions, 'port' | 'tls'>): number {
  return options.port ?? ((options.tls ?? 'implicit') === 'implicit' ? POP3S_PORT : POP3_PORT);
}
