import { createHash } from 'node:crypto';
import type { MailboxConfig } from '../config/mailbox-config';
import { Pop3Error, Pop3ErrorCode, type ListEntry, type MessageStream, type Pop3Client, type UidlListing } from '../pop3';
import type { MessageRecord, StateStore } from '../state/state-store';
import type { MessageSink, StoredMessage } from '../storage/message-sink';
import { fingerprintAll, isFingerprintIdentity, reconcileIdentities, resolveIdentities, type ListedMessage } from './identities';
import { listingHash, settledPrefix } from './listing-hash';
import { toRunError, type RunError } from './run-summary';

/**
 * One POP3 session of a mailbox run. Every ordering rule of the product lives here:
 *
 *   UIDL+LIST -> plan (summary fast path, else full diff) -> for each new message in
 *   listing order: RETR (pipelined look-ahead) -> store object under its deterministic
 *   key -> record state (conditional write) -> DELE if retention says so -> ... -> QUIT
 *   -> mark deletions confirmed -> write the summary.
 *
 * A DELE is sent only after the object is stored and its record written, and deletions
 * only happen at a successful QUIT; so a crash anywhere leaves at worst a stored,
 * unrecorded object that the next run fetches again under the same key.
 */

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
/** Records whose messages left the server are kept this long, then expire (TTL). */
export const GONE_RECORD_RETENTION_DAYS = 30;
/** Slack over maxMessageBytes for the engine's cap: LIST sizes are approximate. */
const SIZE_CAP_SLACK_OCTETS = 64 * 1024;
/** A summary hash no listing has (not hex): the next run must do a full diff. */
const UNCONFIRMED_DELETIONS = 'unconfirmed-deletions';
const DAY_MS = 86_400_000;

export interface SessionContext {
  readonly mailbox: MailboxConfig;
  readonly state: StateStore;
  readonly sink: MessageSink;
  readonly now: () => number;
  /** Epoch ms after which no new message is started. */
  readonly stopStartingAt: number;
  /** What this run may still fetch. */
  readonly allowance: { messages: number; octets: number };
  /** `baseline`: record everything listed as seen, fetch nothing. */
  readonly mode: 'fetch' | 'baseline';
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
  /** Called after each message is stored and recorded (progress displays). */
  readonly onStored?: (progress: { uid: string; size: number; newInSession: number }) => void;
}

export interface SessionResult {
  listed: number;
  newCount: number;
  fetched: number;
  bytes: number;
  skipped: number;
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
  errors: RunError[];
}

export async function runSession(client: Pop3Client, ctx: SessionContext): Promise<SessionResult> {
  const result: SessionResult = {
    listed: 0,
    newCount: 0,
    fetched: 0,
    bytes: 0,
    skipped: 0,
    deleted: 0,
    duplicates: 0,
    invalidUids: 0,
    expired: 0,
    fullDiff: false,
    backlog: 0,
    complete: true,
    loginDelaySeconds: client.capabilities?.loginDelaySeconds,
    errors: [],
  };
  const { mailbox, state } = ctx;

  const { listing, sizes } = await readListing(client);
  const ids = listing ? listing.entries.map((e) => e.uid) : undefined;
  result.invalidUids = listing?.invalid.length ?? 0;
  for (const bad of listing?.invalid ?? []) {
    result.errors.push({ code: Pop3ErrorCode.INVALID_UID, message: `message ${bad.number}: ${bad.reason}; not fetched`, retryable: false });
  }

  // ---- plan: which listed messages are not settled yet ---------------------------------
  const summary = ids ? await state.getSummary(mailbox.id) : undefined;
  const prefix = ids ? settledPrefix(ids, summary, retentionSalt(mailbox)) : undefined;
  let messages: ListedMessage[];
  let records: Map<string, MessageRecord>;
  let candidates: ListedMessage[];
  const sharedUids = new Set(listing?.duplicates.keys() ?? []);
  if (listing && prefix !== undefined) {
    // Fast path: only the appended tail can be new. Reads O(tail).
    const tailUids = new Set(listing.entries.slice(prefix).map((e) => e.uid));
    const relevant = new Set([...sharedUids].filter((u) => tailUids.has(u)));
    messages = await resolveIdentities(client, listing, sizes, relevant, async (uid) => (await state.getRecords(mailbox.id, [uid])).get(uid)?.headerFingerprint);
    records = await state.getRecords(mailbox.id, unique(messages.slice(prefix).map((m) => m.identity)));
    candidates = await reconcileIdentities(messages.slice(prefix), {
      client,
      records,
      sharedUids,
      fastPath: true,
      hasFingerprintIdentities: summary?.fingerprintIdentities === true,
      byPrefix: (p) => state.listRecordsByIdentityPrefix(mailbox.id, p),
      lookup: async (id) => (await state.getRecords(mailbox.id, [id])).get(id),
    });
    messages = [...messages.slice(0, prefix), ...candidates];
  } else {
    // Full diff: the listing changed other than by appending (or there is no UIDL). Reads O(mailbox).
    result.fullDiff = true;
    records = new Map();
    for await (const r of state.listRecords(mailbox.id)) records.set(r.identity, r);
    messages = listing
      ? await resolveIdentities(client, listing, sizes, sharedUids, async (uid) => records.get(uid)?.headerFingerprint)
      : await fingerprintAll(client, sizes);
    const all = [...records.values()];
    messages = await reconcileIdentities(messages, {
      client,
      records,
      sharedUids,
      fastPath: false,
      hasFingerprintIdentities: all.some((r) => isFingerprintIdentity(r.identity)),
      byPrefix: async (p) => all.filter((r) => r.identity.startsWith(p)),
      lookup: async () => undefined,
    });
    candidates = messages;
    result.expired = await expireGone(ctx, messages, records);
  }
  result.listed = messages.length + result.invalidUids;

  // Reported: listing entries whose UIDL repeats an earlier one's.
  for (const numbers of listing?.duplicates.values() ?? []) result.duplicates += numbers.length - 1;
  // Handled: an entry whose identity was seen earlier in this listing is not fetched twice.
  const seen = new Set<string>();
  const toSettle: ListedMessage[] = [];
  const toDelete: ListedMessage[] = [];
  /** Further copies of a message (same identity); deleted with it once proven identical. */
  const copies: ListedMessage[] = [];
  for (const m of candidates) {
    if (seen.has(m.identity)) {
      copies.push(m);
      continue;
    }
    seen.add(m.identity);
    const rec = records.get(m.identity);
    // Listed again after our QUIT confirmed its deletion: another copy of it.
    if (rec?.deletedAt) copies.push(m);
    else if (!rec) toSettle.push(m);
    // Stored and recorded earlier, deletion due but never confirmed: delete now.
    else if (deletionDue(mailbox, rec, ctx.now())) toDelete.push(m);
  }
  if (result.duplicates > 0) ctx.log('duplicate-uidls', { duplicates: result.duplicates, uids: [...listing!.duplicates.keys()].slice(0, 20) });
  result.newCount = toSettle.length;

  // ---- settle: fetch (or baseline) in listing order -----------------------------------
  const settled = new Set<string>();
  /** identity -> SHA-256 of what this session stored (or found recorded). */
  const storedNow = new Map<string, string>();
  const deleted: ListedMessage[] = [];
  const dele = (m: ListedMessage): Promise<void> =>
    client.dele(m.number).then(
      () => void deleted.push(m),
      (err: unknown) => void result.errors.push(toRunError(err, m.uid)),
    );
  const deletions: Promise<void>[] = toDelete.map(dele);

  if (ctx.mode === 'baseline') {
    await baseline(ctx, toSettle, settled, result);
  } else {
    await fetchAll(client, ctx, toSettle, settled, result, (m, sha256) => {
      storedNow.set(m.identity, sha256);
      if (mailbox.retention === 'delete') deletions.push(dele(m));
    });
    if (mailbox.retention === 'delete') {
      for (const m of copies) {
        const expected = storedNow.get(m.identity) ?? records.get(m.identity)?.sha256;
        if (expected !== undefined && (await contentHash(client, m).catch(() => undefined)) === expected) deletions.push(dele(m));
        else ctx.log('copy-kept', { uid: m.uid, reason: expected === undefined ? 'original not stored' : 'content differs' });
      }
    }
  }

  // deleteAfterDays: delete what is due. Reads O(due).
  if (typeof mailbox.retention === 'object') {
    const byIdentity = new Map(messages.map((m) => [m.identity, m]));
    const queued = new Set(toDelete.map((m) => m.number));
    for (const due of await state.listDueDeletions(mailbox.id, new Date(ctx.now()).toISOString())) {
      const m = byIdentity.get(due.identity);
      if (m && !queued.has(m.number)) deletions.push(dele(m));
    }
  }
  await Promise.all(deletions);
  result.backlog = toSettle.filter((m) => !settled.has(m.identity)).length;

  // ---- commit: QUIT makes the server apply the DELEs ----------------------------------
  // From QUIT on, messages may vanish without this run learning it (the answer is lost,
  // the process dies, markDeleted fails). Past the summary's prefix they would vanish
  // unseen: the next listing looks unchanged to the fast path, and their records would
  // never be marked deleted or expire. So first the summary stops vouching for the
  // listing: the next run does a full diff, unless this one ends with a fresh summary.
  if (ids && deleted.length > 0) {
    await state.putSummary(mailbox.id, { count: 0, listingHash: UNCONFIRMED_DELETIONS, updatedAt: new Date(ctx.now()).toISOString() });
  }
  try {
    await client.quit();
  } catch (err) {
    result.errors.push(toRunError(err));
    result.complete = false;
    return result; // deletions not confirmed; the summary stays as it was
  }
  if (deleted.length > 0) {
    await state.markDeleted(mailbox.id, deleted.map((m) => m.identity), new Date(ctx.now()).toISOString(), GONE_RECORD_RETENTION_DAYS);
    result.deleted = deleted.length;
  }
  if (ids) {
    const fingerprintIdentities = summary?.fingerprintIdentities === true || messages.some((m) => isFingerprintIdentity(m.identity)) || [...records.keys()].some(isFingerprintIdentity);
    await writeSummary(ctx, messages, prefix ?? 0, records, settled, storedNow, new Set(deleted.map((m) => m.number)), ids, fingerprintIdentities);
  }
  if (result.backlog > 0 || result.errors.some((e) => e.code !== Pop3ErrorCode.INVALID_UID)) result.complete = false;
  return result;
}

/** UIDL and LIST, sent together (one round trip when pipelining). No UIDL -> undefined listing. */
async function readListing(client: Pop3Client): Promise<{ listing: UidlListing | undefined; sizes: Map<number, number> }> {
  const uidl = client.uidl().catch((err: unknown) => {
    if (err instanceof Pop3Error && err.code === Pop3ErrorCode.SERVER_ERROR) return undefined;
    throw err;
  });
  const list = client.list();
  const [listing, entries] = await Promise.all([uidl, list]);
  if (!listing && client.capabilities?.top === false && (client.capabilities?.lines.length ?? 0) > 0) {
    throw new Pop3Error(Pop3ErrorCode.UNSUPPORTED, 'the server supports neither UIDL nor TOP: messages cannot be tracked');
  }
  return { listing, sizes: new Map(entries.map((e: ListEntry) => [e.number, e.size])) };
}

/**
 * Streams the new messages into the sink, in listing order, with RETRs pipelined ahead
 * and several uploads overlapping the download of the next message.
 */
async function fetchAll(
  client: Pop3Client,
  ctx: SessionContext,
  queue: readonly ListedMessage[],
  settled: Set<string>,
  result: SessionResult,
  afterRecorded: (m: ListedMessage, sha256: string) => void,
): Promise<void> {
  const limits = ctx.mailbox.limits;
  const inFlight = new Set<Promise<void>>();
  let inFlightOctets = 0;
  const issued: { m: ListedMessage; reply: Promise<MessageStream> }[] = [];
  let next = 0;
  let aheadOctets = 0;
  let stopped = false;

  /** Whether message `m` may be started now: time budget and per-run limits. */
  const admit = (m: ListedMessage): boolean => {
    if (ctx.now() >= ctx.stopStartingAt || ctx.allowance.messages <= 0 || ctx.allowance.octets < m.size) stopped = true;
    return !stopped;
  };

  const issueAhead = async (): Promise<void> => {
    while (!stopped && next < queue.length && issued.length < LOOKAHEAD_MESSAGES && (issued.length === 0 || aheadOctets + queue[next]!.size <= LOOKAHEAD_OCTETS)) {
      const m = queue[next]!;
      if (m.size > limits.maxMessageBytes) {
        next++;
        await recordSkipped(ctx, m, 'too-large', settled, result);
        continue;
      }
      if (!admit(m)) return;
      next++;
      ctx.allowance.messages--;
      ctx.allowance.octets -= m.size;
      aheadOctets += m.size;
      issued.push({ m, reply: client.retr(m.number, limits.maxMessageBytes + SIZE_CAP_SLACK_OCTETS) });
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
      result.errors.push(toRunError(err, m.uid));
      if (isSessionFatal(err)) break;
      await issueAhead();
      continue;
    }
    // Large uploads hold buffers: start this one only when the uploads in flight leave room
    // (the server waits meanwhile, held back by TCP flow control).
    while (inFlight.size > 0 && inFlightOctets + m.size > MAX_UPLOAD_OCTETS_IN_FLIGHT) await Promise.race(inFlight);
    const firstSeenAt = new Date(ctx.now()).toISOString();
    inFlightOctets += m.size;
    const job = storeAndRecord(ctx, m, stream, firstSeenAt).then(
      ({ stored, fresh }) => {
        settled.add(m.identity);
        if (fresh) {
          result.fetched++;
          result.bytes += stored.size;
          ctx.onStored?.({ uid: m.uid, size: stored.size, newInSession: queue.length });
        }
        // Stored and recorded either way: by this call, or already (another run; or this
        // run's own write, retried by the SDK after its response was lost). Retention
        // applies to it now; skipping it here left it on the server for good.
        afterRecorded(m, stored.sha256);
      },
      (err: unknown) => {
        // The server sent more than LIST announced and more than the limit allows.
        if (isTooLarge(err)) return recordSkipped(ctx, m, 'too-large', settled, result);
        result.errors.push(toRunError(err, m.uid));
        // Storage or state failing: start nothing new; what is in flight finishes.
        stopped = true;
        return undefined;
      },
    );
    const tracked = job.finally(() => {
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
  const now = ctx.now();
  const deleteAfter = typeof mailbox.retention === 'object' ? new Date(Date.parse(firstSeenAt) + mailbox.retention.deleteAfterDays * DAY_MS).toISOString() : undefined;
  const fresh = await ctx.state.putRecord(mailbox.id, {
    identity: m.identity,
    uid: m.uid,
    status: 'stored',
    objectKey: stored.key,
    size: stored.size,
    sha256: stored.sha256,
    headerFingerprint: stored.headerFingerprint,
    firstSeenAt,
    storedAt: new Date(now).toISOString(),
    ...(deleteAfter ? { deleteAfter } : {}),
  });
  return { stored, fresh };
}

/** SHA-256 (hex) of message `m` as the server sends it now (to prove a copy identical). */
async function contentHash(client: Pop3Client, m: ListedMessage): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await client.retr(m.number)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function recordSkipped(ctx: SessionContext, m: ListedMessage, reason: string, settled: Set<string>, result: SessionResult): Promise<void> {
  await ctx.state.putRecord(ctx.mailbox.id, {
    identity: m.identity,
    uid: m.uid,
    status: 'skipped',
    size: m.size,
    skipReason: reason,
    firstSeenAt: new Date(ctx.now()).toISOString(),
  });
  settled.add(m.identity);
  result.skipped++;
  ctx.log('message-skipped', { uid: m.uid, size: m.size, reason });
}

/** Records every unsettled listed message as seen, without fetching (operator "baseline"). */
async function baseline(ctx: SessionContext, queue: readonly ListedMessage[], settled: Set<string>, _result: SessionResult): Promise<void> {
  const nowIso = new Date(ctx.now()).toISOString();
  await forEachLimited(queue, 16, async (m) => {
    await ctx.state.putRecord(ctx.mailbox.id, { identity: m.identity, uid: m.uid, status: 'baseline', size: m.size, firstSeenAt: nowIso });
    settled.add(m.identity);
  });
}

/** Garbage collection in a full diff: records of messages that left the server expire. */
async function expireGone(ctx: SessionContext, messages: readonly ListedMessage[], records: ReadonlyMap<string, MessageRecord>): Promise<number> {
  const listed = new Set(messages.map((m) => m.identity));
  const gone = [...records.values()].filter((r) => !listed.has(r.identity) && !r.deletedAt).map((r) => r.identity);
  if (gone.length > 0) await ctx.state.expireRecords(ctx.mailbox.id, gone, new Date(ctx.now()).toISOString(), GONE_RECORD_RETENTION_DAYS);
  return gone.length;
}

/**
 * The summary covers the longest prefix of the listing as it is after this session's
 * deletions in which every message is settled; the next run reads only what follows.
 */
async function writeSummary(
  ctx: SessionContext,
  messages: readonly ListedMessage[],
  knownPrefix: number,
  records: ReadonlyMap<string, MessageRecord>,
  settled: ReadonlySet<string>,
  storedNow: ReadonlyMap<string, string>,
  deletedNumbers: ReadonlySet<number>,
  ids: readonly string[],
  fingerprintIdentities: boolean,
): Promise<void> {
  const { mailbox } = ctx;
  const remaining: string[] = [];
  let count = 0;
  let open = true;
  // `messages` and `ids` are the same listing entries in the same order.
  for (let i = 0; i < ids.length; i++) {
    const m = messages[i]!;
    if (deletedNumbers.has(m.number)) continue;
    remaining.push(ids[i]!);
    // Settled, and nothing left to do for it: a stored message that retention wants gone
    // (and that is still listed) keeps the prefix open, so the next run retries its DELE.
    const rec = records.get(m.identity);
    const owesDelete =
      mailbox.retention === 'delete'
        ? storedNow.has(m.identity) || rec?.status === 'stored'
        : typeof mailbox.retention === 'object' && rec?.status === 'stored' && rec.deleteAfter === undefined && !rec.deletedAt;
    const done = i < knownPrefix || ((rec !== undefined || settled.has(m.identity)) && !owesDelete);
    if (open && done) count = remaining.length;
    else open = false;
  }
  await ctx.state.putSummary(mailbox.id, {
    count,
    listingHash: listingHash(remaining, count, retentionSalt(mailbox)),
    updatedAt: new Date(ctx.now()).toISOString(),
    ...(fingerprintIdentities ? { fingerprintIdentities } : {}),
  });
}

/** What "settled" means depends on retention: part of the summary hash (see listingHash). */
function retentionSalt(mailbox: MailboxConfig): string {
  const r = mailbox.retention;
  return typeof r === 'object' ? `retention:after-days` : `retention:${r}`;
}

/**
 * Whether a recorded message is due for DELE now. Only `stored` messages are ever deleted:
 * skipped and baselined ones are not in the bucket. Records with `deleteAfter` are found
 * through the pending-delete index instead; this covers records from before a switch to
 * `deleteAfterDays` (due by their first-seen time).
 */
function deletionDue(mailbox: MailboxConfig, rec: MessageRecord, nowMs: number): boolean {
  if (rec.status !== 'stored' || rec.deletedAt) return false;
  const r = mailbox.retention;
  if (r === 'delete') return true;
  if (r === 'keep' || rec.deleteAfter !== undefined) return false;
  return Date.parse(rec.firstSeenAt) + r.deleteAfterDays * DAY_MS <= nowMs;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function isTooLarge(err: unknown): boolean {
  const cause = (err as { cause?: unknown })?.cause;
  return (err instanceof Pop3Error && err.code === Pop3ErrorCode.MESSAGE_TOO_LARGE) || (cause instanceof Pop3Error && cause.code === Pop3ErrorCode.MESSAGE_TOO_LARGE);
}

function isSessionFatal(err: unknown): boolean {
  return err instanceof Pop3Error && err.code !== Pop3ErrorCode.SERVER_ERROR && err.code !== Pop3ErrorCode.SYS_TEMP;
}

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  });
  await Promise.all(workers);
}
