import type { MailboxConfig } from '../config/mailbox-config';
import type { StateStore } from '../state/state-store';
import type { MessageSink } from '../storage/message-sink';
import type { ServerPolicy } from '../pop3';
import type { EventOutbox } from './event-outbox';
import type { RunError, RunWarning, SkippedMessage } from './run-summary';

/** What one session of a run works with. */
export interface SessionContext {
  readonly mailbox: MailboxConfig;
  readonly state: StateStore;
  readonly sink: MessageSink;
  readonly now: () => number;
  /** Epoch ms after which no new message is started. */
  readonly stopStartingAt: number;
  /** Once aborted (an interruption), no new message is started either. @default never */
  readonly stop?: AbortSignal;
  /**
   * Aborted when the run stops the session (its deadline, or the end of a stop's grace
   * period): writes that are only safe while the run holds the lease are not sent after it.
   * @default never
   */
  readonly sessionAborted?: AbortSignal;
  /** What this run may still fetch. */
  readonly allowance: { messages: number; octets: number };
  /** `baseline`: record everything listed as seen, fetch nothing. */
  readonly mode: 'fetch' | 'baseline';
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
  /** Called after each message is stored and recorded (progress displays). */
  readonly onStored?: (progress: { uid: string; size: number; newInSession: number }) => void;
  /** The run's `Mail Stored` events, when they are on. @default none */
  readonly events?: EventOutbox;
}

export interface SessionResult {
  listed: number;
  newCount: number;
  fetched: number;
  bytes: number;
  skipped: number;
  skippedMessages: SkippedMessage[];
  deleted: number;
  duplicates: number;
  invalidUids: number;
  expired: number;
  fullDiff: boolean;
  /** New messages not settled in this session. */
  backlog: number;
  /** True when every new message was settled and QUIT succeeded. */
  complete: boolean;
  loginDelaySeconds: number | undefined;
  /** What the server announced about itself (EXPIRE, LOGIN-DELAY). */
  policy: ServerPolicy;
  /** Epoch ms when the session was logged in (at the latest): LOGIN-DELAY counts from it. */
  loggedInAt: number;
  errors: RunError[];
  warnings: RunWarning[];
}

export function emptySessionResult(policy: ServerPolicy, loggedInAt: number): SessionResult {
  return {
    listed: 0,
    newCount: 0,
    fetched: 0,
    bytes: 0,
    skipped: 0,
    skippedMessages: [],
    deleted: 0,
    duplicates: 0,
    invalidUids: 0,
    expired: 0,
    fullDiff: false,
    backlog: 0,
    complete: true,
    loginDelaySeconds: policy.loginDelaySeconds,
    policy,
    loggedInAt,
    errors: [],
    warnings: [],
  };
}
