/** One error of a run, as reported in the summary and the JSON output. */
export interface RunError {
  /** Machine-readable code (POP3, storage, state or credential error code). */
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  /** The message it concerns, when it concerns one: its UIDL ... */
  readonly uid?: string;
  /** ... and its message number in that session. */
  readonly number?: number;
}

/** Nothing failed, but the user does not get what they configured (the server overrules it). */
export interface RunWarning {
  readonly code: string;
  readonly message: string;
}

/** The server's LOGIN-DELAY (RFC 2449) as the run's last session learnt it. */
export interface LoginDelay {
  readonly seconds: number;
  /** ISO time before which the server refuses (or penalises) the next login. */
  readonly nextLoginAt: string;
}

/** A message this run decided not to fetch (it stays on the server). */
export interface SkippedMessage {
  readonly uid: string;
  /** Message number in the session that skipped it. */
  readonly number: number;
  /** `too-large`, or `incomplete` (its bytes could not be received whole, attempts used up). */
  readonly reason: string;
  /** Size announced by LIST. */
  readonly size: number;
}

/** The lease that made a run `busy`, as read right after. */
export interface LeaseHeld {
  /** The holder's run id. */
  readonly owner: string;
  /** Who holds it, when the lease says (see LeaseHolder). */
  readonly holder?: string;
  /** ISO time at which it expires by itself. */
  readonly until: string;
}

/** Skipped messages named in one summary at most (the count is always exact). */
export const MAX_SKIPPED_NAMED = 100;

/** The result of one mailbox run: logged as one line, returned by the handler and the CLI. */
export interface RunSummary {
  readonly mailbox: string;
  /** `busy`: another run held the lease; `error`: the run failed before or while fetching. */
  status: 'ok' | 'busy' | 'error';
  /** Messages in the server's listing when the run started (first session). */
  listed: number;
  /** Messages not yet recorded when the run looked (first session). */
  new: number;
  fetched: number;
  /** Octets stored. */
  bytes: number;
  /** Messages recorded as skipped (too large, or incomplete too often) in this run. */
  skipped: number;
  /** The skipped messages, named (the first MAX_SKIPPED_NAMED). */
  skippedMessages: SkippedMessage[];
  /** Messages deleted on the server (confirmed by QUIT). */
  deleted: number;
  /** Listing entries whose UIDL repeats an earlier entry's (each distinct message is still stored once). */
  duplicates: number;
  /** Listing entries with an unsafe UIDL (not tracked, reported). */
  invalidUids: number;
  /** Messages still new at the end (backlog for the next run). */
  backlog: number;
  /** False when the run stopped early (time budget, limits, errors): the next run continues. */
  complete: boolean;
  sessions: number;
  /** Whether the state diff had to read every record (the listing changed other than by appending). */
  fullDiff: boolean;
  /** Records whose messages left the server and were set to expire. */
  expired: number;
  readUnits: number;
  writeUnits: number;
  /** `Mail Stored` events published by this run (re-sent ones of earlier runs included). */
  eventsPublished: number;
  /** Events EventBridge did not take: kept in the outbox, re-sent by a later run. */
  eventsFailed: number;
  /** Outbox entries of messages that were never durably stored (fetched again, with a new entry). */
  eventsDropped: number;
  durationMs: number;
  errors: RunError[];
  /** Status `busy`: who holds the lease and until when (absent when it could not be read, or was gone). */
  heldBy?: LeaseHeld;
  /** The run was asked to stop (RunMailboxOptions.stop) before it ended: it started nothing more. */
  interrupted?: boolean;
  /** Each kind once; absent when there are none (see RunWarning). */
  warnings?: RunWarning[];
  /** The server announced a LOGIN-DELAY: no run should log in before `nextLoginAt` (the dispatcher waits). */
  loginDelay?: LoginDelay;
}

export function emptySummary(mailbox: string): RunSummary {
  return {
    mailbox,
    status: 'ok',
    listed: 0,
    new: 0,
    fetched: 0,
    bytes: 0,
    skipped: 0,
    skippedMessages: [],
    deleted: 0,
    duplicates: 0,
    invalidUids: 0,
    backlog: 0,
    complete: true,
    sessions: 0,
    fullDiff: false,
    expired: 0,
    readUnits: 0,
    writeUnits: 0,
    eventsPublished: 0,
    eventsFailed: 0,
    eventsDropped: 0,
    durationMs: 0,
    errors: [],
  };
}

/**
 * What a session learnt about the server, added to the run's summary (merged after each
 * session): its warnings once per code, and the login delay counted from its login.
 */
export function noteServerPolicy(summary: RunSummary, session: { readonly warnings: readonly RunWarning[]; readonly loginDelaySeconds: number | undefined; readonly loggedInAt: number }): void {
  for (const w of session.warnings) {
    if (summary.warnings?.some((known) => known.code === w.code)) continue;
    (summary.warnings ??= []).push(w);
  }
  const seconds = session.loginDelaySeconds;
  if (seconds !== undefined && seconds > 0) summary.loginDelay = { seconds, nextLoginAt: new Date(session.loggedInAt + seconds * 1000).toISOString() };
}

/** Turns any thrown value into a RunError without leaking anything but code and message. */
export function toRunError(err: unknown, uid?: string, number?: number): RunError {
  const e = err as { code?: unknown; message?: unknown; retryable?: unknown };
  const code = typeof e?.code === 'string' ? e.code : 'INTERNAL';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return { code, message, retryable: e?.retryable === true, ...(uid === undefined ? {} : { uid }), ...(number === undefined ? {} : { number }) };
}
