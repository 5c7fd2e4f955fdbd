import type { MessageStream, Pop3Client } from '../pop3';
import { Pop3Error, Pop3ErrorCode } from '../pop3';
import type { MessageRecord } from '../state/state-store';
import type { StoredMessage } from '../storage/message-sink';
import type { ListedMessage } from './identities';
import type { RetrievalLedger } from './retrieval-ledger';
import { MAX_SKIPPED_NAMED, toRunError } from './run-summary';
import type { SessionContext, SessionResult } from './session-context';

/** Uploads (store + record + DELE) running at once. */
export const MAX_UPLOADS_IN_FLIGHT = 4;
/**
 * Announced octets of uploads running at once (a single larger message still goes alone):
 * a multipart upload holds tens of MiB of buffers, so large messages go up one at a time
 * and a 512 MB Lambda is never at risk, while small ones still overlap.
 */
export const MAX_UPLOAD_OCTETS_IN_FLIGHT = 32 * 1024 * 1024;
/** RETR commands sent ahead of the message being read (hides the round trip). */
export const LOOKAHEAD_MESSAGES = 8;
/** Announced octets of RETRs sent ahead: bounds what must still be read if the run stops. */
export const LOOKAHEAD_OCTETS = 4 * 1024 * 1024;
/**
 * Fetches of one message that may end incomplete (its bytes could not be received whole:
 * see MESSAGE_INCOMPLETE) before it is given up and left on the server as skipped.
 */
export const MAX_INCOMPLETE_ATTEMPTS = 3;
/** Slack over maxMessageBytes for the engine's cap: LIST sizes are approximate. */
const SIZE_CAP_SLACK_OCTETS = 64 * 1024;
const DAY_MS = 86_400_000;

/** What the fetch phase reports per message, and the state it needs. */
export interface FetchContext {
  readonly client: Pop3Client;
  readonly ctx: SessionContext;
  readonly result: SessionResult;
  readonly ledger: RetrievalLedger;
  /** Records known for the queued messages (previous failed attempts). */
  readonly records: ReadonlyMap<string, MessageRecord>;
  /** Identities settled in this session. */
  readonly settled: Set<string>;
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
  const { ctx } = f;
  const inFlight = new Set<Promise<void>>();
  let inFlightOctets = 0;
  const issued: Issued[] = [];
  let next = 0;
  let aheadOctets = 0;
  let stopped = false;
  const stop = (): void => void (stopped = true);
  const report = new FailureReport(f.result);

  const issueAhead = async (): Promise<void> => {
    while (!stopped && next < queue.length && issued.length < LOOKAHEAD_MESSAGES && (issued.length === 0 || aheadOctets + queue[next]!.size <= LOOKAHEAD_OCTETS)) {
      const m = queue[next]!;
      if (m.size > ctx.mailbox.limits.maxMessageBytes) {
        next++;
        await recordSkipped(f, m, 'too-large');
        continue;
      }
      if (ctx.now() >= ctx.stopStartingAt || ctx.allowance.messages <= 0 || ctx.allowance.octets < m.size) return stop();
      next++;
      ctx.allowance.messages--;
      ctx.allowance.octets -= m.size;
      aheadOctets += m.size;
      issued.push({ m, reply: retrieve(f, m) });
    }
  };

  await issueAhead();
  while (issued.length > 0) {
    const { m, reply } = issued.shift()!;
    aheadOctets -= m.size;
    let stream: MessageStream;
    try {
      stream = await reply;
    } catch (err) {
      report.ofReply(err, m);
      if (isSessionFatal(err)) break;
      await issueAhead();
      continue;
    }
    // Large uploads hold buffers: start this one only when the uploads in flight leave room
    // (the server waits meanwhile, held back by TCP flow control).
    while (inFlight.size > 0 && inFlightOctets + m.size > MAX_UPLOAD_OCTETS_IN_FLIGHT) await Promise.race(inFlight);
    inFlightOctets += m.size;
    const tracked = settle(f, m, stream, queue.length, stop, report).finally(() => {
      inFlight.delete(tracked);
      inFlightOctets -= m.size;
    });
    inFlight.add(tracked);
    // The next reply is read only once this stream was consumed; meanwhile queue more RETRs.
    await issueAhead();
    if (inFlight.size >= MAX_UPLOADS_IN_FLIGHT) await Promise.race(inFlight);
  }
  // After a fatal session error, RETRs already sent are abandoned: their replies fail with
  // the same error (or, should one arrive, its stream is discarded).
  for (const { reply } of issued) reply.then((s) => s.destroy(), () => undefined);
  await Promise.all(inFlight);
  report.flush();
}

/** RETR with the LIST size (the engine checks what arrives against it). Observed at once. */
function retrieve(f: FetchContext, m: ListedMessage): Promise<MessageStream> {
  const reply = f.client.retr(m.number, { maxOctets: f.ctx.mailbox.limits.maxMessageBytes + SIZE_CAP_SLACK_OCTETS, expectedOctets: m.size });
  // Observed from the moment it is sent: when the link drops, every reply queued behind the
  // one being read rejects, long before this loop awaits it.
  reply.then(
    () => f.ledger.retrievedOne(m.number, m.uid),
    () => undefined,
  );
  return reply;
}

/** One message: store -> record -> retention; failures are classified, never thrown. */
async function settle(f: FetchContext, m: ListedMessage, stream: MessageStream, queued: number, stop: () => void, report: FailureReport): Promise<void> {
  try {
    const { stored, fresh } = await storeAndRecord(f.ctx, m, stream, new Date(f.ctx.now()).toISOString());
    f.settled.add(m.identity);
    f.ledger.stored(m.number);
    if (fresh) {
      f.result.fetched++;
      f.result.bytes += stored.size;
      f.ctx.onStored?.({ uid: m.uid, size: stored.size, newInSession: queued });
    }
    // Stored and recorded either way: by this call, or already (another run; or this run's
    // own write, retried by the SDK after its response was lost). Retention applies now.
    f.afterRecorded(m, stored);
  } catch (err) {
    // The server sent more than LIST announced and more than the limit allows.
    if (hasCode(err, Pop3ErrorCode.MESSAGE_TOO_LARGE)) {
      report.ofMessage(err, m);
      return recordSkipped(f, m, 'too-large');
    }
    report.ofMessage(err, m);
    if (hasCode(err, Pop3ErrorCode.MESSAGE_INCOMPLETE)) return recordIncomplete(f, m);
    // Storage or state failing: start nothing new; what is in flight finishes.
    stop();
  }
}

/**
 * Store -> record. `fresh` is false when the record already existed (another run stored it
 * meanwhile, or the SDK retried our own write): the same key was overwritten with the same bytes.
 */
async function storeAndRecord(ctx: SessionContext, m: ListedMessage, body: MessageStream, firstSeenAt: string): Promise<{ stored: StoredMessage; fresh: boolean }> {
  const { mailbox } = ctx;
  let stored: StoredMessage;
  try {
    stored = await ctx.sink.store({ mailboxId: mailbox.id, identity: m.identity, uid: m.uid, body, sizeHint: m.size, firstSeenAt });
  } catch (err) {
    // The rest of the message must still be read off the connection (or the session given
    // up) before the next reply can be read: destroying the stream does that.
    body.destroy();
    throw err;
  }
  // The object is in S3: from here on the record must be written even if the session fails.
  const deleteAfter = typeof mailbox.retention === 'object' ? new Date(Date.parse(firstSeenAt) + mailbox.retention.deleteAfterDays * DAY_MS).toISOString() : undefined;
  const fresh = await ctx.state.putRecord(mailbox.id, {
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
    ...(deleteAfter ? { deleteAfter } : {}),
  });
  return { stored, fresh };
}

/** Leaves a message on the server for good, recorded as skipped and named in the summary. */
export async function recordSkipped(f: Pick<FetchContext, 'ctx' | 'result' | 'settled'>, m: ListedMessage, reason: string, attempts?: number): Promise<void> {
  const { ctx, result } = f;
  await ctx.state.putRecord(ctx.mailbox.id, {
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
  result.skipped++;
  if (result.skippedMessages.length < MAX_SKIPPED_NAMED) result.skippedMessages.push({ uid: m.uid, number: m.number, reason, size: m.size });
  ctx.log('message-skipped', { uid: m.uid, number: m.number, size: m.size, reason });
}

/**
 * The message's bytes could not be received whole (an ambiguous end on a bare-LF server,
 * or far fewer octets than LIST announced). Nothing was stored; the attempt is counted and
 * the next run tries again, until MAX_INCOMPLETE_ATTEMPTS leave it on the server as skipped.
 */
async function recordIncomplete(f: FetchContext, m: ListedMessage): Promise<void> {
  const attempts = (f.records.get(m.identity)?.attempts ?? 0) + 1;
  if (attempts >= MAX_INCOMPLETE_ATTEMPTS) return recordSkipped(f, m, 'incomplete', attempts);
  await f.ctx.state.putRecord(f.ctx.mailbox.id, {
    identity: m.identity,
    uid: m.uid,
    status: 'failed',
    size: m.size,
    listSize: m.size,
    skipReason: 'incomplete',
    attempts,
    firstSeenAt: new Date(f.ctx.now()).toISOString(),
  });
}

function hasCode(err: unknown, code: string): boolean {
  return (pop3Cause(err) ?? (err as { code?: unknown }))?.code === code;
}

/** The POP3 error behind a failure (the sink wraps the stream's error as SOURCE_FAILED). */
function pop3Cause(err: unknown): Pop3Error | undefined {
  if (err instanceof Pop3Error) return err;
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof Pop3Error ? cause : undefined;
}

function isSessionFatal(err: unknown): boolean {
  return err instanceof Pop3Error && err.code !== Pop3ErrorCode.SERVER_ERROR && err.code !== Pop3ErrorCode.SYS_TEMP;
}
