import { randomUUID } from 'node:crypto';
import type { MailboxConfig } from '../config/mailbox-config';
import { isMailfetchError } from '../errors';
import { Pop3Error, Pop3ErrorCode, type Pop3Client } from '../pop3';
import type { EventPublisher } from '../events/event-publisher';
import type { OutboxStore } from '../state/outbox-store';
import type { LeaseHolder, StateStore } from '../state/state-store';
import type { MessageSink } from '../storage/message-sink';
import { SyncError, SyncErrorCode } from './errors';
import { EventOutbox } from './event-outbox';
import { settlesWithin } from './settles-within';
import { gatedState } from './gated-state';
import { skipUnchangedSummary } from './unchanged-summary';
import { emptySummary, MAX_SKIPPED_NAMED, noteServerPolicy, toRunError, type LeaseHeld, type RunSummary } from './run-summary';
import { runSession } from './run-session';
import type { SessionContext, SessionResult } from './session-context';

/** Sessions per run at most: Gmail hands out ~250 messages per session, so a backlog needs several. */
export const MAX_SESSIONS_PER_RUN = 20;
/** The lease outlives the longest run by this much, so a crashed run's lease expires soon after. */
export const LEASE_SLACK_MS = 60_000;
/** Re-sending earlier runs' events gets at most this share of the time before stopStartingAt. */
export const EVENT_DRAIN_SHARE = 0.25;

/** Where `Mail Stored` events go, and where those not yet published are kept. */
export interface RunMailboxEvents {
  readonly outbox: OutboxStore;
  readonly publisher: EventPublisher;
  /** The bucket the sink stores into (the events name it). */
  readonly bucket: string;
}

export interface RunMailboxDeps {
  readonly state: StateStore;
  readonly sink: MessageSink;
  /** Opens an authenticated POP3 session for the mailbox (credentials are the caller's business). */
  readonly openSession: (mailbox: MailboxConfig, signal: AbortSignal) => Promise<Pop3Client>;
  /** @default Date.now */
  readonly now?: () => number;
  /** Structured log sink; the mailbox id is added by the caller's logger. @default no logging */
  readonly log?: (event: string, fields?: Record<string, unknown>) => void;
  /** Called after each message is stored and recorded (progress displays). */
  readonly onStored?: (progress: { uid: string; size: number; newInSession: number }) => void;
  /** A `Mail Stored` event per stored message, at least once (event-outbox.ts). @default no events */
  readonly events?: RunMailboxEvents;
}

export interface RunMailboxOptions {
  readonly mailbox: MailboxConfig;
  /** Epoch ms by which the run must have finished (Lambda: now + remaining time). */
  readonly deadline: number;
  /**
   * Kept free before the deadline for the run's own ending (summary, lease release, upload
   * aborts): at deadline - safetyMargin the session is aborted, whatever the server does,
   * and no message is started in the half margin before that. @default 30 s
   */
  readonly safetyMarginMs?: number;
  /** `baseline` records everything on the server as seen without fetching it. @default 'fetch' */
  readonly mode?: 'fetch' | 'baseline';
  /** @default MAX_SESSIONS_PER_RUN */
  readonly maxSessions?: number;
  /** Lease owner id. @default a random UUID */
  readonly owner?: string;
  /** Who the lease names as its holder (shown to a run that finds the mailbox busy). @default none */
  readonly holder?: LeaseHolder;
  /**
   * An interruption (the command line's first Ctrl-C). Once aborted, no message and no
   * session is started; the messages in flight are stored and recorded and the session ends
   * as usual (QUIT only when every retrieved message is stored). Should that take longer
   * than `stopGraceMs`, the session is aborted as at the deadline. The lease is released and
   * the summary says `interrupted`. @default never
   */
  readonly stop?: AbortSignal;
  /** @default DEFAULT_STOP_GRACE_MS */
  readonly stopGraceMs?: number;
}

export const DEFAULT_SAFETY_MARGIN_MS = 30_000;
/**
 * How long the messages in flight get after an interruption: the look-ahead (at most 8
 * messages, 4 MiB) and the uploads take a second or two on a working link; a stalled
 * server or store is cut off after this.
 */
export const DEFAULT_STOP_GRACE_MS = 10_000;

/**
 * One run for one mailbox: lease -> sessions (each: list, plan, fetch, record, delete,
 * QUIT) while the server still has new mail and the time budget allows -> release.
 * Never throws for server, storage or state failures: they are reported in the summary
 * (status `error` when nothing could be done). Programming errors are thrown.
 */
export async function runMailbox(deps: RunMailboxDeps, options: RunMailboxOptions): Promise<RunSummary> {
  const now = deps.now ?? Date.now;
  const log = deps.log ?? ((): void => {});
  const { mailbox } = options;
  const started = now();
  const summary = emptySummary(mailbox.id);
  const owner = options.owner ?? randomUUID();
  const margin = options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
  const abortAt = options.deadline - margin;
  const stopStartingAt = abortAt - margin / 2;
  deps.state.resetCapacity();

  let leased: boolean;
  try {
    leased = await deps.state.acquireLease(mailbox.id, owner, started, options.deadline - started + LEASE_SLACK_MS, options.holder);
  } catch (err) {
    // DynamoDB failing on the very first call is a failed run, reported like any other.
    if (!isOperational(err)) throw err;
    summary.status = 'error';
    summary.complete = false;
    summary.errors.push(toRunError(err));
    log('lease-failed', { error: toRunError(err) });
    return finish(summary, deps.state, now, started);
  }
  if (!leased) {
    summary.status = 'busy';
    summary.complete = false;
    const heldBy = await leaseHeld(deps.state, mailbox.id);
    if (heldBy) summary.heldBy = heldBy;
    log('lease-busy', heldBy ? { heldBy } : {});
    return finish(summary, deps.state, now, started);
  }
  const events = deps.events ? eventOutbox(deps, deps.events, mailbox.id, now, log) : undefined;
  try {
    if (events) await events.drain(started + (stopStartingAt - started) * EVENT_DRAIN_SHARE);
    const allowance = { messages: mailbox.limits.maxMessagesPerRun, octets: mailbox.limits.maxBytesPerRun };
    const maxSessions = options.maxSessions ?? MAX_SESSIONS_PER_RUN;
    for (let n = 1; n <= maxSessions; n++) {
      const followUp = n > 1;
      if (options.stop?.aborted) {
        summary.complete = false;
        break;
      }
      let result: SessionResult;
      try {
        result = await boundedSession(options, { abortAt, giveUpAt: options.deadline - margin / 2, now, log }, (signal, isOpen) =>
          openAndRun(deps, signal, {
            mailbox,
            sessionAborted: signal,
            state: gatedState(skipUnchangedSummary(deps.state), isOpen),
            sink: deps.sink,
            now,
            stopStartingAt,
            ...(options.stop ? { stop: options.stop } : {}),
            allowance,
            mode: options.mode ?? 'fetch',
            log,
            ...(deps.onStored ? { onStored: deps.onStored } : {}),
            ...(events ? { events } : {}),
          }),
        );
      } catch (err) {
        // A follow-up session refused for login delay or lock ends the run quietly: the
        // previous session already fetched everything it was shown.
        if (followUp && err instanceof Pop3Error && (err.code === Pop3ErrorCode.LOGIN_DELAY || err.code === Pop3ErrorCode.IN_USE)) {
          log('follow-up-session-refused', { code: err.code });
          break;
        }
        if (!isOperational(err)) throw err;
        summary.errors.push(toRunError(err));
        summary.complete = false;
        if (!followUp) summary.status = 'error';
        break;
      }
      merge(summary, result, followUp);
      log('session-finished', { session: n, listed: result.listed, new: result.newCount, fetched: result.fetched, complete: result.complete });
      // Another session only when this one fetched mail, finished cleanly, and the server
      // allows quick re-logins; it shows whether the server holds back more (Gmail).
      const again = result.complete && result.fetched > 0 && !(result.loginDelaySeconds && result.loginDelaySeconds > 0) && options.mode !== 'baseline';
      if (!again) break;
      if (now() >= stopStartingAt || allowance.messages <= 0 || allowance.octets <= 0) {
        summary.complete = false;
        break;
      }
    }
  } finally {
    if (events) await eventsPublished(events, options.deadline - margin / 2 - now(), summary, log);
    await deps.state.releaseLease(mailbox.id, owner).catch((err: unknown) => log('lease-release-failed', { error: toRunError(err) }));
  }
  if (options.stop?.aborted) summary.interrupted = true;
  return finish(summary, deps.state, now, started);
}

function eventOutbox(deps: RunMailboxDeps, events: RunMailboxEvents, mailboxId: string, now: () => number, log: (event: string, fields?: Record<string, unknown>) => void): EventOutbox {
  return new EventOutbox({ ...events, state: deps.state, sink: deps.sink, mailboxId, now, log });
}

/**
 * Waits for the events still being published (while the lease keeps other runs off the
 * outbox), at most `withinMs`: what is not settled by then stays in the outbox, so a later
 * run sends it (again). Counts them into the summary.
 */
async function eventsPublished(events: EventOutbox, withinMs: number, summary: RunSummary, log: (event: string, fields?: Record<string, unknown>) => void): Promise<void> {
  if (!(await settlesWithin(events.idle(), withinMs))) log('events-still-publishing', { withinMs });
  summary.eventsPublished = events.tally.published;
  summary.eventsFailed = events.tally.failed;
  summary.eventsDropped = events.tally.dropped;
}

/** The lease that made this run busy, for the summary; undefined if it is gone or unreadable. */
async function leaseHeld(state: StateStore, mailboxId: string): Promise<LeaseHeld | undefined> {
  try {
    const lease = await state.getLease(mailboxId);
    if (lease === undefined) return undefined;
    return { owner: lease.owner, ...(lease.holder ? { holder: lease.holder.description } : {}), until: new Date(lease.expiresAtMs).toISOString() };
  } catch {
    return undefined; // the summary still says busy
  }
}

/** Opens a session and runs it; the connection is closed whatever happens (QUIT is the session's business). */
async function openAndRun(deps: RunMailboxDeps, signal: AbortSignal, ctx: SessionContext): Promise<SessionResult> {
  const client = await deps.openSession(ctx.mailbox, signal);
  try {
    return await runSession(client, ctx);
  } finally {
    client.close();
  }
}

/**
 * Runs one session under the run's deadline: at `abortAt` the session is aborted (the
 * connection is destroyed, so every pending read fails at once, whatever the server does),
 * and if the session has still not wound down by `giveUpAt` (a store call that hangs), the
 * run stops waiting for it, so that the summary and the lease release still happen in time.
 * An interruption (`options.stop`) brings both forward to the end of the stop grace period.
 */
async function boundedSession(
  options: RunMailboxOptions,
  t: { abortAt: number; giveUpAt: number; now: () => number; log: (event: string, fields?: Record<string, unknown>) => void },
  run: (signal: AbortSignal, isOpen: () => boolean) => Promise<SessionResult>,
): Promise<SessionResult> {
  const controller = new AbortController();
  const deadlineError = new SyncError(SyncErrorCode.DEADLINE, `the run stopped the session at its deadline (Lambda time left minus the ${options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS} ms safety margin)`);
  let open = true;
  let cutOff: SyncError = deadlineError;
  const timers = { abort: undefined as NodeJS.Timeout | undefined, giveUp: undefined as NodeJS.Timeout | undefined };
  let giveUp: (err: SyncError) => void = () => undefined;
  const givenUp = new Promise<never>((_, reject) => {
    giveUp = (err) => {
      open = false;
      t.log('session-abandoned', { reason: `still winding down at the ${err.code === SyncErrorCode.INTERRUPTED ? 'end of the stop grace period' : 'deadline'}` });
      reject(err);
    };
  });
  givenUp.catch(() => undefined);
  const schedule = (abortInMs: number, giveUpInMs: number, err: SyncError): void => {
    clearTimeout(timers.abort);
    clearTimeout(timers.giveUp);
    cutOff = err;
    timers.abort = setTimeout(() => controller.abort(err), Math.max(0, abortInMs));
    timers.giveUp = setTimeout(() => giveUp(err), Math.max(0, giveUpInMs));
  };
  schedule(t.abortAt - t.now(), t.giveUpAt - t.now(), deadlineError);
  const onStop = (): void => interruptSession(options, t, schedule);
  if (options.stop?.aborted) onStop();
  else options.stop?.addEventListener('abort', onStop, { once: true });
  const session = run(controller.signal, () => open);
  // Observed at once: if the run gives up on it, its late failure must not go unhandled.
  session.catch(() => undefined);
  try {
    const result = await Promise.race([session, givenUp]);
    // Named once, plainly: the errors the abort caused inside the session say less.
    if (controller.signal.aborted) result.errors.push(toRunError(cutOff));
    return result;
  } finally {
    options.stop?.removeEventListener('abort', onStop);
    clearTimeout(timers.abort);
    clearTimeout(timers.giveUp);
  }
}

/** After an interruption the session gets the stop grace period, unless the deadline comes first. */
function interruptSession(
  options: RunMailboxOptions,
  t: { abortAt: number; giveUpAt: number; now: () => number; log: (event: string, fields?: Record<string, unknown>) => void },
  schedule: (abortInMs: number, giveUpInMs: number, err: SyncError) => void,
): void {
  const graceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  const nowMs = t.now();
  t.log('run-interrupted', { graceMs });
  if (nowMs + graceMs >= t.abortAt) return; // the deadline is nearer: it stays in charge
  const err = new SyncError(
    SyncErrorCode.INTERRUPTED,
    `interrupted: the messages in flight did not finish within ${graceMs} ms, so the session was cut off without QUIT; nothing retrieved is lost, the next run continues`,
  );
  schedule(graceMs, graceMs + Math.min(graceMs / 2, t.giveUpAt - t.abortAt), err);
}

function merge(summary: RunSummary, r: SessionResult, followUp: boolean): void {
  summary.sessions++;
  // `listed` and `new` describe the mailbox as the run found it; follow-up sessions only
  // add what the server held back (Gmail batches).
  if (!followUp) {
    summary.listed = r.listed;
    summary.new = r.newCount;
    summary.invalidUids = r.invalidUids;
  } else {
    summary.new += r.newCount;
  }
  summary.fetched += r.fetched;
  summary.bytes += r.bytes;
  summary.skipped += r.skipped;
  for (const m of r.skippedMessages) if (summary.skippedMessages.length < MAX_SKIPPED_NAMED) summary.skippedMessages.push(m);
  summary.deleted += r.deleted;
  summary.duplicates = Math.max(summary.duplicates, r.duplicates);
  summary.expired += r.expired;
  summary.fullDiff ||= r.fullDiff;
  summary.backlog = r.backlog;
  summary.complete = r.complete;
  // A follow-up session lists the same unusable UIDLs again: name each once.
  const known = new Set(summary.errors.filter((e) => e.code === Pop3ErrorCode.INVALID_UID).map((e) => e.message));
  summary.errors.push(...r.errors.filter((e) => e.code !== Pop3ErrorCode.INVALID_UID || !known.has(e.message)));
  noteServerPolicy(summary, r);
}

function finish(summary: RunSummary, state: StateStore, now: () => number, started: number): RunSummary {
  const capacity = state.consumedCapacity();
  summary.readUnits = capacity.readUnits;
  summary.writeUnits = capacity.writeUnits;
  summary.durationMs = now() - started;
  return summary;
}

/** Errors that describe the world (servers, network, credentials, AWS), not a bug in this code. */
function isOperational(err: unknown): boolean {
  return isMailfetchError(err) && !(err instanceof Pop3Error && err.code === Pop3ErrorCode.USAGE);
}
