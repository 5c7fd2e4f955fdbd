import type { MessageStream, Pop3Client } from '../pop3';
import { Pop3Error, Pop3ErrorCode } from '../pop3';
import type { MessageRecord } from '../state/state-store';
import type { StoredMessage } from '../storage/message-sink';
import { isFingerprintIdentity, type ListedMessage } from './identities';
import type { RetrievalLedger } from './retrieval-ledger';
import { MAX_SKIPPED_NAMED, toRunError } from './run-summary';
import type { SessionContext, SessionResult } from './session-context';
import { StoredRecordBatch } from './stored-record-batch';

/**
 * Messages between RETR and their durable record at once (stored, waiting for their batch
 * write, or being recorded). Deep for small mail: against real S3 a PUT takes tens of
 * milliseconds, and only many in flight keep the POP3 connection busy; a record batch
 * (25) fills from them.
 */
export const MAX_UPLOADS_IN_FLIGHT = 64;
/**
 * Announced octets of uploads running at once (a single larger message still goes alone):
 * the bound that adapts the overlap to message size. Small messages are held whole until
 * their PUT is done, so 64 of 10 KB hold 640 KB; a multipart upload holds its part
 * buffers, so large messages go up one or two at a time and a 512 MB Lambda is never at risk.
 */
export const MAX_UPLOAD_OCTETS_IN_FLIGHT = 32 * 1024 * 1024;
/** RETR commands sent ahead of the message being read (hides the round trip), at most... */
export const LOOKAHEAD_MESSAGES = 16;
/**
 * ...refilled once fewer than this many are left: at least this many stay ahead, and the
 * refill goes out as one write (a pipelining client writes the commands of one turn together).
 */
export const LOOKAHEAD_REFILL_BELOW = 8;
/** Announced octets of RETRs sent ahead: bounds what must still be read if the run stops. */
export const LOOKAHEAD_OCTETS = 4 * 1024 * 1024;
/**
 * Fetches of one message that may end incomplete (its bytes could not be received whole:
 * see MESSAGE_INCOMPLETE) before it is given up and left on the server as skipped.
 */
export const MAX_INCOMPLETE_ATTEMPTS = 3;
/** Slack over maxMessageBytes for the engine's cap: LIST sizes are approximate. */
const SIZE_CAP_SLACK_OCTETS = 64 * 1024;

/**
 * The most octets any RETR may deliver for a mailbox whose limit is `maxMessageBytes`: the
 * same for fetches and for reads that compare a message with what was stored, so a stored
 * message can always be read again.
 */
export function retrCapOctets(maxMessageBytes: number): number {
  return maxMessageBytes + SIZE_CAP_SLACK_OCTETS;
}
const DAY_MS = 86_400_000;

/** What the fetch phase reports per message, and the state it needs. */
export interface FetchContext {
  readonly client: Pop3Client;
  readonly ctx: SessionContext;
  readonly result: SessionResult;
  readonly ledger: RetrievalLedger;
  /** Records known for the queued messages (previous failed attempts). */
  readonly records: ReadonlyMap<string, MessageRecord>;
  /** Header fingerprints read ahead (message number -> fingerprint) for messages that may be skipped. */
  readonly fingerprints: ReadonlyMap<number, string>;
  /** Identities settled in this session. */
  readonly settled: Set<string>;
  /** Message numbers settled in this session (further copies of a message are told apart by number). */
  readonly settledNumbers: Set<number>;
  /** Called once a message is stored and recorded (retention applies to it then). */
  readonly afterRecorded: (m: ListedMessage, stored: StoredMessage) => void;
}

/**
 * Reports each failure once, against the message it belongs to. When a message kills the
 * session (an ambiguous end, an endless body), every reply queued behind it rejects with
 * the same error: that is the session's end, not a fault of those messages.
 */
class FailureReport {
  private readonly seen = new Set<unknown>();
  private readonly sessionEnds: unknown[] = [];

  constructor(private readonly result: SessionResult) {}

  /** A failure of message `m` itself: the POP3 cause when a store wrapped it. */
  ofMessage(err: unknown, m: ListedMessage): void {
    const root = pop3Cause(err) ?? err;
    this.seen.add(root);
    this.result.errors.push(toRunError(root, m.uid, m.number));
  }

  /** A reply that failed: its message's fault only if the session is still alive. */
  ofReply(err: unknown, m: ListedMessage): void {
    if (isSessionFatal(err)) this.sessionEnds.push(err);
    else this.result.errors.push(toRunError(err, m.uid, m.number));
  }

  /**
   * Once every message settled: the session's end, unless a message already reported it
   * (its store may settle after the replies behind it were seen to fail).
   */
  flush(): void {
    const shown = new Set(this.result.errors.map((e) => `${e.code}\n${e.message}`));
    for (const err of this.sessionEnds) {
      const e = toRunError(err);
      if (this.seen.has(err) || shown.has(`${e.code}\n${e.message}`)) continue;
      shown.add(`${e.code}\n${e.message}`);
      this.result.errors.push(e);
    }
  }
}

interface Issued {
  readonly m: ListedMessage;
  readonly reply: Promise<MessageStream>;
}

/**
 * Streams the new messages into the sink, in listing order, with RETRs pipelined ahead
 * and several uploads overlapping the download of the next message.
 */
export async function fetchAll(f: FetchContext, queue: readonly ListedMessage[]): Promise<void> {
  await new Fetcher(f, queue).run();
}

/** One pass over a queue of messages; see fetchAll. */
class Fetcher {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly batch: StoredRecordBatch;
  /** What each message in flight holds: LIST's figure until more arrived (a server may announce less than it sends). */
  private readonly holding = new Map<Promise<void>, { readonly announced: number; readonly stream: MessageStream }>();
  private readonly issued: Issued[] = [];
  private next = 0;
  private aheadOctets = 0;
  private stopped = false;
  private readonly report: FailureReport;
  /** Waiting for any upload in flight to settle (see uploadSettled). */
  private readonly settledWaiters: (() => void)[] = [];

  constructor(
    private readonly f: FetchContext,
    private readonly queue: readonly ListedMessage[],
  ) {
    this.report = new FailureReport(f.result);
    this.batch = new StoredRecordBatch({
      state: f.ctx.state,
      mailboxId: f.ctx.mailbox.id,
      inFlight: () => this.inFlight.size,
      ...(f.ctx.sessionAborted ? { signal: f.ctx.sessionAborted } : {}),
      ...(f.ctx.events ? { events: f.ctx.events } : {}),
    });
  }

  async run(): Promise<void> {
    try {
      await this.issueAhead();
      while (this.issued.length > 0) {
        const { m, reply } = this.issued.shift()!;
        this.aheadOctets -= m.size;
        let stream: MessageStream;
        try {
          stream = await reply;
        } catch (err) {
          this.report.ofReply(err, m);
          if (isSessionFatal(err)) break;
          await this.issueAhead();
          continue;
        }
        await this.start(m, stream);
        // The next reply is read only once this stream was consumed; meanwhile queue more RETRs.
        await this.issueAhead();
        if (this.inFlight.size >= MAX_UPLOADS_IN_FLIGHT) await this.uploadSettled();
      }
    } finally {
      // Whatever ended the loop (a fatal reply, a state failure), RETRs already sent are
      // abandoned (their streams discarded), and the uploads in flight are waited for:
      // the session must not go on to QUIT while any of them is undecided.
      for (const { reply } of this.issued.splice(0)) reply.then((s) => s.destroy(), () => undefined);
      await Promise.all(this.inFlight);
      this.report.flush();
    }
  }

  /** Sends RETRs ahead while the look-ahead bounds, the time budget and the limits allow. */
  private async issueAhead(): Promise<void> {
    const { ctx } = this.f;
    if (this.issued.length >= LOOKAHEAD_REFILL_BELOW) return;
    while (!this.stopped && this.next < this.queue.length && this.issued.length < LOOKAHEAD_MESSAGES) {
      const m = this.queue[this.next]!;
      if (this.issued.length > 0 && this.aheadOctets + m.size > LOOKAHEAD_OCTETS) return;
      if (m.size > ctx.mailbox.limits.maxMessageBytes) {
        this.next++;
        await recordSkipped(this.f, m, 'too-large');
        continue;
      }
      if (ctx.now() >= ctx.stopStartingAt || ctx.stop?.aborted === true || ctx.allowance.messages <= 0 || ctx.allowance.octets < m.size) {
        this.stopped = true;
        return;
      }
      this.next++;
      ctx.allowance.messages--;
      ctx.allowance.octets -= m.size;
      this.aheadOctets += m.size;
      this.issued.push({ m, reply: retrieve(this.f, m) });
    }
  }

  /** Starts storing one message; large uploads wait until those in flight leave room. */
  private async start(m: ListedMessage, stream: MessageStream): Promise<void> {
    // Large uploads hold buffers (the server waits meanwhile, held back by TCP flow control).
    while (this.inFlight.size > 0 && this.heldOctets() + m.size > MAX_UPLOAD_OCTETS_IN_FLIGHT) await this.uploadSettled();
    const stop = (): void => void (this.stopped = true);
    // settle() never rejects: every failure is reported inside it.
    const tracked = settle(this.f, m, stream, { queued: this.queue.length, stop, report: this.report, batch: this.batch }).finally(() => {
      this.inFlight.delete(tracked);
      this.holding.delete(tracked);
      // The ones left may all be waiting for the record batch now.
      this.batch.poke();
      const waiters = this.settledWaiters.splice(0);
      for (const wake of waiters) wake();
    });
    this.inFlight.add(tracked);
    this.holding.set(tracked, { announced: m.size, stream });
  }

  /**
   * Resolves once an upload in flight settles. (Promise.race over the set would leave a
   * reaction on each of up to 64 promises at every wait: thousands per run.)
   */
  private uploadSettled(): Promise<void> {
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /**
   * Octets the messages in flight hold, counted by what arrived where that is more than
   * LIST announced: memory stays bounded by what the server sends, not by what it claims.
   */
  private heldOctets(): number {
    let held = 0;
    for (const { announced, stream } of this.holding.values()) held += Math.max(announced, stream.octets);
    return held;
  }
}

/**
 * RETR with the LIST size (the engine checks what arrives against it). The message counts
 * as retrieved from the moment the command is issued (a pipelined RETR may be answered
 * and acted upon by the server before this session reads the reply); only an -ERR reply
 * takes that back. The promise is observed at once: when the link drops, every reply
 * queued behind the one being read rejects, long before the fetch loop awaits it.
 */
function retrieve(f: FetchContext, m: ListedMessage): Promise<MessageStream> {
  return f.ledger.track(m.number, m.uid, f.client.retr(m.number, { maxOctets: retrCapOctets(f.ctx.mailbox.limits.maxMessageBytes), expectedOctets: m.size }));
}

/** What settle needs from the fetch pass. */
interface SettleOptions {
  /** Messages queued in this session (for progress). */
  readonly queued: number;
  /** Start nothing new (storage or state failing). */
  readonly stop: () => void;
  readonly report: FailureReport;
  readonly batch: StoredRecordBatch;
}

/** One message: store -> record -> retention. Never rejects: failures are classified and reported. */
async function settle(f: FetchContext, m: ListedMessage, stream: MessageStream, o: SettleOptions): Promise<void> {
  const { report, stop } = o;
  try {
    const stored = await storeAndRecord(f.ctx, m, stream, f.records.get(m.identity), o.batch);
    f.settled.add(m.identity);
    f.settledNumbers.add(m.number);
    f.ledger.stored(m.number);
    f.result.fetched++;
    f.result.bytes += stored.size;
    f.ctx.onStored?.({ uid: m.uid, size: stored.size, newInSession: o.queued });
    // Stored and recorded: retention applies now.
    f.afterRecorded(m, stored);
  } catch (err) {
    report.ofMessage(err, m);
    try {
      // The server sent more than LIST announced and more than the limit allows.
      if (hasCode(err, Pop3ErrorCode.MESSAGE_TOO_LARGE)) return await recordSkipped(f, m, 'too-large');
      // Its header block may have arrived whole: then its record can tell it from another message with its UIDL.
      const fingerprint = m.fingerprint ?? (err as { headerFingerprint?: string }).headerFingerprint;
      if (hasCode(err, Pop3ErrorCode.MESSAGE_INCOMPLETE)) return await recordIncomplete(f, fingerprint ? { ...m, fingerprint } : m);
    } catch (recordErr) {
      f.result.errors.push(toRunError(recordErr, m.uid, m.number));
    }
    // Storage or state failing: start nothing new; what is in flight finishes.
    stop();
  }
}

/**
 * (pending record ->) store -> record, the record in a batch write: resolves once it is
 * durable. A record that another run wrote meanwhile is overwritten: it named the same key,
 * which was overwritten with the same bytes.
 */
async function storeAndRecord(ctx: SessionContext, m: ListedMessage, body: MessageStream, previous: MessageRecord | undefined, batch: StoredRecordBatch): Promise<StoredMessage> {
  const { mailbox } = ctx;
  const firstSeenAt = new Date(ctx.now()).toISOString();
  let stored: StoredMessage;
  try {
    if (isFingerprintIdentity(m.identity)) await recordPending(ctx, m, previous, firstSeenAt);
    stored = await ctx.sink.store({ mailboxId: mailbox.id, identity: m.identity, uid: m.uid, body, sizeHint: m.size, firstSeenAt });
  } catch (err) {
    // The rest of the message must still be read off the connection (or the session given
    // up) before the next reply can be read: destroying the stream does that.
    body.destroy();
    throw err;
  }
  // The object is in S3: from here on the record must be written even if the session fails.
  const record: { -readonly [K in keyof MessageRecord]: MessageRecord[K] } = {
    identity: m.identity,
    uid: m.uid,
    status: 'stored',
    objectKey: stored.key,
    size: stored.size,
    listSize: m.size,
    sha256: stored.sha256,
    headerFingerprint: stored.headerFingerprint,
    firstSeenAt,
    storedAt: new Date(ctx.now()).toISOString(),
  };
  // Assigned, not spread: this runs once per message, mostly before the JIT optimises it.
  if (stored.bodySha256) record.bodySha256 = stored.bodySha256;
  if (typeof mailbox.retention === 'object') record.deleteAfter = new Date(Date.parse(firstSeenAt) + mailbox.retention.deleteAfterDays * DAY_MS).toISOString();
  await batch.write(record, stored.headerBlock);
  return stored;
}

/**
 * Which identity a message gets when its UIDL is shared depends on the listing, and the
 * listing changes: the record of a derived identity exists before its object may, so a run
 * that dies between store and record leaves a record that resolves the message to the same
 * identity next time (the same key is overwritten), not to a second one.
 */
async function recordPending(ctx: SessionContext, m: ListedMessage, previous: MessageRecord | undefined, firstSeenAt: string): Promise<void> {
  await ctx.state.putRecord(ctx.mailbox.id, {
    identity: m.identity,
    uid: m.uid,
    status: 'pending',
    size: m.size,
    listSize: m.size,
    firstSeenAt,
    ...(m.fingerprint ? { headerFingerprint: m.fingerprint } : {}),
    ...(previous?.attempts ? { attempts: previous.attempts } : {}),
  });
}

/** Leaves a message on the server for good, recorded as skipped and named in the summary. */
export async function recordSkipped(f: Pick<FetchContext, 'ctx' | 'result' | 'settled' | 'settledNumbers' | 'fingerprints'>, m: ListedMessage, reason: string, attempts?: number): Promise<void> {
  const { ctx, result } = f;
  const headerFingerprint = f.fingerprints.get(m.number) ?? m.fingerprint;
  await ctx.state.putRecord(ctx.mailbox.id, {
    ...(headerFingerprint ? { headerFingerprint } : {}),
    identity: m.identity,
    uid: m.uid,
    status: 'skipped',
    size: m.size,
    listSize: m.size,
    skipReason: reason,
    firstSeenAt: new Date(ctx.now()).toISOString(),
    ...(attempts === undefined ? {} : { attempts }),
  });
  f.settled.add(m.identity);
  f.settledNumbers.add(m.number);
  result.skipped++;
  if (result.skippedMessages.length < MAX_SKIPPED_NAMED) result.skippedMessages.push({ uid: m.uid, number: m.number, reason, size: m.size });
  ctx.log('message-skipped', { uid: m.uid, number: m.number, size: m.size, reason });
}

/**
 * The message's bytes could not be received whole (an ambiguous end on a bare-LF server,
 * or far fewer octets than LIST announced). Nothing was stored; the attempt is counted and
 * the next run tries again, until MAX_INCOMPLETE_ATTEMPTS leave it on the server as skipped.
 */
export async function recordIncomplete(f: FetchContext, m: ListedMessage, previous = f.records.get(m.identity)): Promise<void> {
  const attempts = (previous?.attempts ?? 0) + 1;
  if (attempts >= MAX_INCOMPLETE_ATTEMPTS) return recordSkipped(f, m, 'incomplete', attempts);
  const headerFingerprint = f.fingerprints.get(m.number) ?? m.fingerprint;
  await f.ctx.state.putRecord(f.ctx.mailbox.id, {
    identity: m.identity,
    uid: m.uid,
    status: 'failed',
    size: m.size,
    listSize: m.size,
    skipReason: 'incomplete',
    attempts,
    firstSeenAt: new Date(f.ctx.now()).toISOString(),
    ...(headerFingerprint ? { headerFingerprint } : {}),
  });
}

/** Whether `err` is the failure of message `m`'s own RETR (not the end of the session before it). */
export function isOwnFailure(err: unknown, m: Pick<ListedMessage, 'number'>): boolean {
  const command = err instanceof Pop3Error ? err.command : (err as { cause?: { command?: unknown } })?.cause?.command;
  return command === `RETR ${m.number}`;
}

export function hasCode(err: unknown, code: string): boolean {
  return (pop3Cause(err) ?? (err as { code?: unknown }))?.code === code;
}

/** The POP3 error behind a failure (the sink wraps the stream's error as SOURCE_FAILED). */
function pop3Cause(err: unknown): Pop3Error | undefined {
  if (err instanceof Pop3Error) return err;
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof Pop3Error ? cause : undefined;
}

/** An -ERR answers one command: the session stays in sync. Anything else ends it. */
const COMMAND_REFUSED: ReadonlySet<string> = new Set([Pop3ErrorCode.SERVER_ERROR, Pop3ErrorCode.SYS_TEMP, Pop3ErrorCode.SYS_PERM]);

export function isSessionFatal(err: unknown): boolean {
  return err instanceof Pop3Error && !COMMAND_REFUSED.has(err.code);
}
