import type { MailboxConfig } from '../config/mailbox-config';
import { isMailfetchError } from '../errors';
import { Pop3ErrorCode, type Pop3Client, type UidlListing } from '../pop3';
import type { MessageRecord } from '../state/state-store';
import type { StoredMessage } from '../storage/message-sink';
import { SyncError, SyncErrorCode } from './errors';
import { fetchAll, hasCode, isOwnFailure, isSessionFatal, type FetchContext } from './fetch-messages';
import { isFingerprintIdentity, tryTopFingerprint, watchTops, type ListedMessage } from './identities';
import { forEachLimited } from './for-each-limited';
import { listingHash } from './listing-hash';
import { readListing } from './read-listing';
import { RetrievalLedger } from './retrieval-ledger';
import { retentionConflict, retrievalRule, type RetrievalRule } from './retrieval-rule';
import { toRunError } from './run-summary';
import { emptySessionResult, type SessionContext, type SessionResult } from './session-context';
import { planSession, type SessionPlan } from './session-plan';
import { copyOrdinals, settleCopy, type CopyContext } from './settle-copy';
import { holdsRecordedMessage, type Holding } from './verify-message';
import type { DigestResult } from '../storage/message-digest';

export { LOOKAHEAD_MESSAGES, LOOKAHEAD_OCTETS, MAX_UPLOAD_OCTETS_IN_FLIGHT, MAX_UPLOADS_IN_FLIGHT } from './fetch-messages';
export type { SessionContext, SessionResult } from './session-context';

/**
 * One POP3 session of a mailbox run. Every ordering rule of the product lives here and in
 * the modules it calls:
 *
 *   UIDL+LIST -> plan (summary fast path, else full diff) -> for each new message in
 *   listing order: RETR (pipelined look-ahead) -> store object under its deterministic
 *   key -> record state (conditional write) -> DELE if retention says so -> ... -> QUIT
 *   (only if every retrieved message is stored) -> mark deletions confirmed -> summary.
 *
 * A DELE goes only to a message whose bytes are stored and recorded: one stored in this
 * session, or one proven (size, headers, content) to be the recorded one. Deletions only
 * happen at a successful QUIT, and a session that retrieved a message it could not store
 * ends without QUIT (servers such as Gmail hide retrieved mail at QUIT). So a crash
 * anywhere leaves at worst a stored, unrecorded object that the next run overwrites.
 */

/**
 * Records of messages that left the server without ever being stored (skipped, baselined,
 * failed) are kept this long, then expire (TTL). Records of stored messages stay as
 * tombstones (see StateStore.markDeleted).
 */
export const GONE_RECORD_RETENTION_DAYS = 30;
/** A summary hash no listing has (not hex): the next run must do a full diff. */
const UNCONFIRMED_DELETIONS = 'unconfirmed-deletions';
const DAY_MS = 86_400_000;

/** The messages of a plan sorted by what must happen to them. */
interface Work {
  readonly toSettle: ListedMessage[];
  /** Stored earlier, deletion owed: each is verified before its DELE. */
  readonly toDelete: ListedMessage[];
  /** Further messages with an identity already taken (same UIDL and headers). */
  readonly copies: ListedMessage[];
}

export async function runSession(client: Pop3Client, ctx: SessionContext): Promise<SessionResult> {
  const policy = client.serverPolicy;
  const result = emptySessionResult(policy, ctx.now());
  const { mailbox, state } = ctx;
  const rule = retrievalRule(mailbox, policy);
  const conflict = retentionConflict(mailbox.retention, policy);
  if (conflict) result.warnings.push(conflict);
  const salt = retentionSalt(mailbox);
  const { listing, sizes } = await readListing(client, () => hadUidl(ctx));
  reportInvalid(listing, result);
  // From the first TOP on (planning reads headers): a message read by TOP counts as retrieved where TOP condemns it.
  const ledger = new RetrievalLedger();
  if (rule.topRemoves) watchTops(client, (n, reply) => void ledger.track(n, uidOf(listing, n), reply));
  const plan = await planSession(client, { mailbox, state, log: ctx.log, salt, now: ctx.now }, listing, sizes);
  result.fullDiff = plan.fullDiff;
  if (plan.fullDiff) result.expired = await expireGone(ctx, plan.messages, plan.records);
  result.listed = plan.messages.length + result.invalidUids;
  for (const numbers of listing?.duplicates.values() ?? []) result.duplicates += numbers.length - 1;
  if (result.duplicates > 0) ctx.log('duplicate-uidls', { duplicates: result.duplicates, uids: [...listing!.duplicates.keys()].slice(0, 20) });
  const work = sortWork(ctx, plan, rule);
  result.newCount = work.toSettle.length;
  await flagFingerprintIdentities(ctx, plan, salt);

  const settled = new Set<string>();
  const settledNumbers = new Set<number>();
  const storedNow = new Map<string, StoredMessage>();
  const deletions = new Deletions(client, result);
  const replacedNumbers = new Set<number>();
  const fetchContext: FetchContext = {
    client,
    ctx,
    result,
    ledger,
    records: plan.records,
    // Messages that will be skipped unread keep their header fingerprint in the record, so a
    // recycled or shared UIDL of the same size is still noticed later (messages skipped as
    // incomplete keep the one of the header block they sent). Read before any RETR is queued.
    fingerprints: ctx.mode === 'baseline' ? new Map() : await fingerprintsOf(client, work.toSettle.filter((m) => mayBeSkipped(m, mailbox))),
    settled,
    settledNumbers,
    afterRecorded: (m, stored) => {
      storedNow.set(m.identity, stored);
      if (mailbox.retention === 'delete') deletions.dele(m);
    },
  };
  try {
    if (ctx.mode === 'baseline') {
      await baseline(ctx, work, { settled, settledNumbers }, await fingerprintsOf(client, work.toSettle));
    } else {
      await fetchAll(fetchContext, work.toSettle);
      const copies: CopyContext = { records: plan.records, storedNow, dele: (m) => deletions.dele(m), copyOrdinal: copyOrdinals(plan.messages) };
      // Interrupted: copies and owed deletions (each a RETR to compare) wait for the next
      // run; unsettled, they keep the summary's prefix open, so it finds them again.
      for (const m of work.copies) if (!interrupted(ctx)) await settleCopy(fetchContext, copies, m);
      const replaced = interrupted(ctx) ? [] : await deleteOwed(client, ctx, plan, listing, work, ledger, deletions);
      for (const r of replaced) {
        replacedNumbers.add(r.m.number);
        await settleCopy(fetchContext, copies, r.m, r.digest);
      }
    }
  } catch (err) {
    // The connection or the state failed midway: what was done is kept and reported.
    if (!isMailfetchError(err)) throw err;
    result.errors.push(toRunError(err));
  }
  await deletions.settled();
  result.backlog = work.toSettle.filter((m) => !settled.has(m.identity)).length;
  const copyNumbers = new Set([...work.copies.map((m) => m.number), ...replacedNumbers]);
  return commit(client, ctx, plan, { result, ledger, settled, settledNumbers, copyNumbers, storedNow, deleted: deletions.deleted, salt, rule });
}

/** The UIDL of message `n` (for messages named in errors); '' without UIDL. */
function uidOf(listing: UidlListing | undefined, n: number): string {
  for (let i = 0; i < (listing?.length ?? 0); i++) if (listing!.numberAt(i) === n) return listing!.uidAt(i);
  return '';
}

function interrupted(ctx: SessionContext): boolean {
  return ctx.stop?.aborted === true;
}

function reportInvalid(listing: UidlListing | undefined, result: SessionResult): void {
  result.invalidUids = listing?.invalid.length ?? 0;
  for (const bad of listing?.invalid ?? []) {
    result.errors.push({ code: Pop3ErrorCode.INVALID_UID, message: `message ${bad.number}: ${bad.reason}; not fetched`, retryable: false, number: bad.number });
  }
}

/** New (or failed earlier, to retry), owed a deletion, or a further copy of a message. */
function sortWork(ctx: SessionContext, plan: SessionPlan, rule: RetrievalRule): Work {
  const work: Work = { toSettle: [], toDelete: [], copies: [] };
  // An entry whose identity was seen earlier in this listing is not fetched twice.
  // On the fast path the settled prefix holds identities too: a tail message resolved to
  // one of them (same UIDL and headers) is a copy to check, not that message.
  const seen = new Set(plan.messages.slice(0, plan.prefix).map((m) => m.identity));
  for (const m of plan.candidates) {
    if (seen.has(m.identity)) {
      work.copies.push(m);
      continue;
    }
    seen.add(m.identity);
    const rec = plan.records.get(m.identity);
    // Listed again after our QUIT confirmed its deletion: another copy of it.
    if (rec?.deletedAt) work.copies.push(m);
    else if (!rec || rec.status === 'failed' || rec.status === 'pending') work.toSettle.push(m);
    // Taken for a stored message by its headers alone: the content decides.
    else if (m.verify) work.copies.push(m);
    else if (deletionDue(ctx.mailbox, rec, ctx.now())) work.toDelete.push(m);
    // Stored, but still listed by a server that removes retrieved mail at QUIT: its session
    // never QUIT. Retrieved again and checked against the stored bytes, so this QUIT removes it.
    else if (rule.removedAtQuit && rec.status === 'stored') work.copies.push(m);
  }
  return work;
}

/**
 * The summary says "this mailbox keeps messages under fingerprint identities" before the
 * first such message is stored, not only at the end of a clean session: a session that
 * dies after storing one must not leave the next run (its UIDL unique again) blind to it.
 */
async function flagFingerprintIdentities(ctx: SessionContext, plan: SessionPlan, salt: string): Promise<void> {
  if (!plan.keys || plan.summary?.fingerprintIdentities || !plan.messages.some((m) => isFingerprintIdentity(m.identity))) return;
  const base = plan.summary ?? { count: 0, listingHash: listingHash([], 0, salt), updatedAt: new Date(ctx.now()).toISOString() };
  await ctx.state.putSummary(ctx.mailbox.id, { ...base, fingerprintIdentities: true });
}

/** DELEs of this session; each outcome is recorded, none is left unobserved. */
class Deletions {
  readonly deleted: ListedMessage[] = [];
  private readonly pending: Promise<void>[] = [];
  private readonly queued = new Set<number>();

  constructor(
    private readonly client: Pop3Client,
    private readonly result: SessionResult,
  ) {}

  dele(m: ListedMessage): void {
    if (this.queued.has(m.number)) return;
    this.queued.add(m.number);
    this.pending.push(
      this.client.dele(m.number).then(
        () => void this.deleted.push(m),
        (err: unknown) => void this.result.errors.push(toRunError(err, m.uid, m.number)),
      ),
    );
  }

  has(number: number): boolean {
    return this.queued.has(number);
  }

  async settled(): Promise<void> {
    await Promise.all(this.pending);
  }
}

/**
 * DELE for mail stored earlier whose deletion is owed (retention `delete` after a DELE that
 * did not take; `deleteAfterDays` once due). The message number must still hold the
 * recorded message: UIDLs can be recycled or shared, and a DELE to another message loses
 * it. Returns the messages found to be other mail under a recorded identity (the recorded
 * message left the server): they are settled like further copies.
 */
async function deleteOwed(client: Pop3Client, ctx: SessionContext, plan: SessionPlan, listing: UidlListing | undefined, work: Work, ledger: RetrievalLedger, deletions: Deletions): Promise<Replaced[]> {
  const owed: MessageRecord[] = work.toDelete.map((m) => plan.records.get(m.identity)!);
  if (typeof ctx.mailbox.retention === 'object') {
    const listed = new Set(plan.messages.map((m) => m.identity));
    owed.push(...(await ctx.state.listDueDeletions(ctx.mailbox.id, new Date(ctx.now()).toISOString())).filter((r) => listed.has(r.identity) || listed.has(r.uid)));
  }
  const done = new Set<string>();
  const replaced: Replaced[] = [];
  for (const rec of owed) {
    if (done.has(rec.identity)) continue;
    done.add(rec.identity);
    // Every listed message that may be this one: the one resolved to its identity, and any
    // other with its UIDL (an identity resolved in an earlier session may now be stale).
    const candidates = plan.messages.filter((m) => (m.identity === rec.identity || m.uid === rec.uid) && !deletions.has(m.number));
    const found = await findRecorded(client, ctx, rec, candidates, ledger);
    if (found.recorded) deletions.dele(found.recorded);
    else if (found.replaced) replaced.push(found.replaced);
    if (found.sessionEnd !== undefined) {
      await markReplaced(ctx, plan, listing, replaced);
      throw found.sessionEnd;
    }
  }
  await markReplaced(ctx, plan, listing, replaced);
  return replaced;
}

/** A listed message resolved to the identity of a recorded message it is not. */
interface Replaced {
  readonly m: ListedMessage;
  readonly rec: MessageRecord;
  readonly digest?: DigestResult;
}

/**
 * The candidate holding `rec`'s message, or the one resolved to its identity that is other
 * mail. A read that ends the session (`sessionEnd`) is returned to be thrown once what it
 * proved is recorded: a message over the cap is not the recorded one, stored under it.
 */
async function findRecorded(
  client: Pop3Client,
  ctx: SessionContext,
  rec: MessageRecord,
  candidates: readonly ListedMessage[],
  ledger: RetrievalLedger,
): Promise<{ recorded?: ListedMessage; replaced?: Replaced; sessionEnd?: unknown }> {
  let replaced: Replaced | undefined;
  for (const m of candidates) {
    let holding: Holding;
    try {
      holding = await holdsRecordedMessage(client, m, rec, { ledger, maxOctets: ctx.mailbox.limits.maxMessageBytes });
    } catch (err) {
      if (!isOwnFailure(err, m)) throw err;
      // An -ERR to this RETR (locked, unreadable): unproven for now; the other owed DELEs go on.
      if (!isSessionFatal(err)) {
        ctx.log('delete-withheld', { uid: m.uid, number: m.number, reason: 'the check could not read it' });
        continue;
      }
      if (!hasCode(err, Pop3ErrorCode.MESSAGE_TOO_LARGE)) throw err;
      return { ...(m.identity === rec.identity ? { replaced: { m, rec } } : {}), sessionEnd: err };
    }
    if (holding.kind === 'recorded') return { recorded: m };
    ctx.log('delete-withheld', { uid: m.uid, number: m.number, reason: holding.kind === 'other' ? 'not the recorded message' : holding.reason });
    if (holding.kind === 'other' && m.identity === rec.identity) replaced = { m, rec, ...(holding.digest ? { digest: holding.digest } : {}) };
  }
  return replaced ? { replaced } : {};
}

/**
 * Messages under a recorded identity found to be other mail are settled as further copies
 * (stored as new mail). Where the UIDL is listed once, the recorded message left the server
 * (deleted elsewhere, its UIDL given to new mail): its record becomes a tombstone.
 */
async function markReplaced(ctx: SessionContext, plan: SessionPlan, listing: UidlListing | undefined, replaced: readonly Replaced[]): Promise<void> {
  const gone = replaced.filter((r) => listing?.duplicates.has(r.rec.uid) !== true);
  if (gone.length === 0) return;
  const nowIso = new Date(ctx.now()).toISOString();
  await ctx.state.markDeleted(ctx.mailbox.id, gone.map((r) => r.m.identity), nowIso);
  for (const { m, rec } of gone) plan.records.set(m.identity, { ...rec, deletedAt: nowIso });
}

interface Outcome {
  readonly result: SessionResult;
  readonly ledger: RetrievalLedger;
  readonly settled: ReadonlySet<string>;
  /** Message numbers settled in this session. */
  readonly settledNumbers: ReadonlySet<number>;
  /** Message numbers of the further copies (their identity's record is another message's). */
  readonly copyNumbers: ReadonlySet<number>;
  readonly storedNow: ReadonlyMap<string, StoredMessage>;
  readonly deleted: readonly ListedMessage[];
  readonly salt: string;
  readonly rule: RetrievalRule;
}

/**
 * Ends the session. QUIT only when every message the server sent is stored: otherwise a
 * server that hides or expires retrieved mail at QUIT would lose it, so the connection is
 * closed without QUIT (nothing changes on the server, DELEs included; the next run retries).
 */
async function commit(client: Pop3Client, ctx: SessionContext, plan: SessionPlan, o: Outcome): Promise<SessionResult> {
  const { result } = o;
  const unsafe = o.ledger.unsafe();
  if (unsafe.length > 0) {
    client.close();
    const named = unsafe.slice(0, 10).map((u) => `${u.uid || '(no UIDL)'} (#${u.number})`).join(', ');
    const err = new SyncError(SyncErrorCode.QUIT_WITHHELD, `session ended without QUIT: ${unsafe.length} retrieved message(s) not stored: ${named}; DELEs of this session were not applied, the next run continues`);
    result.errors.push(toRunError(err));
    result.complete = false;
    if (plan.keys) await writeSummary(ctx, plan, o, new Set());
    return result;
  }
  // From QUIT on, messages may vanish without this run learning it (the answer is lost,
  // the process dies, markDeleted fails). Past the summary's prefix they would vanish
  // unseen; so first the summary stops vouching for the listing: the next run does a full
  // diff, unless this one ends with a fresh summary.
  if (plan.keys && o.deleted.length > 0) {
    const { fingerprintIdentities } = plan.summary ?? {};
    const { auditedAt } = plan;
    await ctx.state.putSummary(ctx.mailbox.id, {
      count: 0,
      listingHash: UNCONFIRMED_DELETIONS,
      updatedAt: new Date(ctx.now()).toISOString(),
      ...(fingerprintIdentities ? { fingerprintIdentities } : {}),
      ...(auditedAt ? { auditedAt } : {}),
    });
  }
  try {
    await client.quit();
  } catch (err) {
    result.errors.push(toRunError(err));
    result.complete = false;
    return result; // deletions not confirmed; the summary stays as it was
  }
  if (o.deleted.length > 0) {
    await ctx.state.markDeleted(ctx.mailbox.id, o.deleted.map((m) => m.identity), new Date(ctx.now()).toISOString());
    result.deleted = o.deleted.length;
  }
  if (plan.keys) await writeSummary(ctx, plan, o, new Set(o.deleted.map((m) => m.number)));
  if (result.backlog > 0 || result.errors.some((e) => e.code !== Pop3ErrorCode.INVALID_UID)) result.complete = false;
  return result;
}

/**
 * Records every unsettled listed message as seen, without fetching (operator "baseline"),
 * with its LIST size and header fingerprint: a UIDL recycled later is then still noticed.
 * Further copies present now are counted on their identity's record: copies that arrive
 * later are new mail.
 */
async function baseline(ctx: SessionContext, work: Work, done: { settled: Set<string>; settledNumbers: Set<number> }, fingerprints: ReadonlyMap<number, string>): Promise<void> {
  const nowIso = new Date(ctx.now()).toISOString();
  const copies = new Map<string, number>();
  for (const m of work.copies) copies.set(m.identity, (copies.get(m.identity) ?? 0) + 1);
  await forEachLimited(work.toSettle, 16, async (m) => {
    const headerFingerprint = fingerprints.get(m.number);
    await ctx.state.putRecord(ctx.mailbox.id, {
      identity: m.identity,
      uid: m.uid,
      status: 'baseline',
      size: m.size,
      listSize: m.size,
      firstSeenAt: nowIso,
      baselineCopies: copies.get(m.identity) ?? 0,
      ...(headerFingerprint ? { headerFingerprint } : {}),
    });
    done.settled.add(m.identity);
    done.settledNumbers.add(m.number);
  });
  // Copies of messages recorded earlier are settled as in a fetch (by the next run).
  for (const m of work.copies) if (done.settled.has(m.identity)) done.settledNumbers.add(m.number);
}

function mayBeSkipped(m: ListedMessage, mailbox: MailboxConfig): boolean {
  return m.fingerprint === undefined && m.size > mailbox.limits.maxMessageBytes;
}

/** Header fingerprints (TOP n 0) of these messages, where the server answers TOP. */
async function fingerprintsOf(client: Pop3Client, messages: readonly ListedMessage[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  await forEachLimited(messages, 16, async (m) => {
    const fp = await tryTopFingerprint(client, m.number);
    if (fp !== undefined) out.set(m.number, fp);
  });
  return out;
}

/**
 * Whether this mailbox was ever listed with UIDLs: a summary exists, or a record under a
 * plain UIDL does (a run that died before its summary still stored mail under UIDLs).
 */
async function hadUidl(ctx: SessionContext): Promise<boolean> {
  if ((await ctx.state.getSummary(ctx.mailbox.id)) !== undefined) return true;
  for await (const r of ctx.state.listRecords(ctx.mailbox.id)) if (!isFingerprintIdentity(r.identity)) return true;
  return false;
}

/**
 * Garbage collection in a full diff: records of messages that left the server. Those of
 * stored messages (and pending ones, whose object may exist) become tombstones; the others
 * expire. A derived identity (a copy told apart by headers or content) whose UIDL is still
 * listed may still be there: listed messages resolve to the plain UIDL until read.
 */
async function expireGone(ctx: SessionContext, messages: readonly ListedMessage[], records: ReadonlyMap<string, MessageRecord>): Promise<number> {
  const listed = new Set(messages.map((m) => m.identity));
  const listedUids = new Set(messages.map((m) => m.uid));
  const gone = [...records.values()].filter((r) => !listed.has(r.identity) && !r.deletedAt && !(r.uid !== '' && isFingerprintIdentity(r.identity) && listedUids.has(r.uid)));
  const mayHaveObject = (r: MessageRecord): boolean => r.status === 'stored' || r.status === 'pending';
  // Tombstones of earlier versions were written with a TTL: made permanent here, once each.
  const expiringTombstones = [...records.values()].filter((r) => r.deletedAt !== undefined && r.expiresAt !== undefined && mayHaveObject(r));
  const kept = [...gone.filter(mayHaveObject), ...expiringTombstones].map((r) => r.identity);
  const expiring = gone.filter((r) => !mayHaveObject(r)).map((r) => r.identity);
  const nowIso = new Date(ctx.now()).toISOString();
  if (kept.length > 0) await ctx.state.markDeleted(ctx.mailbox.id, kept, nowIso);
  if (expiring.length > 0) await ctx.state.expireRecords(ctx.mailbox.id, expiring, nowIso, GONE_RECORD_RETENTION_DAYS);
  return gone.length;
}

/**
 * The summary covers the longest prefix of the listing as it is after this session's
 * deletions in which every message is settled; the next run reads only what follows.
 */
async function writeSummary(ctx: SessionContext, plan: SessionPlan, o: Outcome, deletedNumbers: ReadonlySet<number>): Promise<void> {
  const { mailbox } = ctx;
  const keys = plan.keys!;
  const remaining: string[] = [];
  let count = 0;
  let last: { m: ListedMessage; index: number } | undefined;
  // `plan.messages` and `keys` are the same listing entries in the same order.
  for (let i = 0; i < keys.length; i++) {
    const m = plan.messages[i]!;
    if (deletedNumbers.has(m.number)) continue;
    remaining.push(keys[i]!);
    if (count === remaining.length - 1 && isDone(ctx, plan, o, m, i)) {
      count = remaining.length;
      last = { m, index: i };
    }
  }
  const lastFingerprint = last ? await fingerprintOf(ctx, plan, o, last) : undefined;
  const { auditedAt } = plan;
  const fingerprintIdentities =
    plan.summary?.fingerprintIdentities === true || plan.messages.some((m) => isFingerprintIdentity(m.identity)) || [...plan.records.keys()].some(isFingerprintIdentity);
  await ctx.state.putSummary(mailbox.id, {
    count,
    listingHash: listingHash(remaining, count, o.salt),
    updatedAt: new Date(ctx.now()).toISOString(),
    ...(fingerprintIdentities ? { fingerprintIdentities } : {}),
    ...(lastFingerprint ? { lastFingerprint } : {}),
    ...(auditedAt ? { auditedAt } : {}),
  });
}

/**
 * Settled, and nothing left to do for it: a stored message that retention wants gone
 * (and that is still listed) keeps the prefix open, so the next run retries its DELE.
 */
function isDone(ctx: SessionContext, plan: SessionPlan, o: Outcome, m: ListedMessage, index: number): boolean {
  const rec = plan.records.get(m.identity);
  // Still listed by a server that removes retrieved mail at QUIT: not removed yet (see sortWork).
  const owesHiding = o.rule.removedAtQuit && (rec?.status === 'stored' || o.storedNow.has(m.identity));
  const retention = ctx.mailbox.retention;
  // A further copy: its identity's record belongs to the message it was compared with. Still
  // listed under retention `delete`, its DELE did not take (or it was left): checked again.
  // (A message found to replace a recorded one may lie in the vouched prefix.)
  if (o.copyNumbers.has(m.number)) return o.settledNumbers.has(m.number) && !owesHiding && retention !== 'delete';
  if (index < plan.prefix) return true;
  const owesDelete =
    retention === 'delete'
      ? o.storedNow.has(m.identity) || rec?.status === 'stored'
      : typeof retention === 'object' && rec?.status === 'stored' && rec.deleteAfter === undefined && !rec.deletedAt;
  const recorded = (rec !== undefined && rec.status !== 'failed' && rec.status !== 'pending') || o.settled.has(m.identity);
  return recorded && !owesDelete && !owesHiding;
}

/** Header fingerprint of the summary's last message (undefined when not known: no check then). */
async function fingerprintOf(ctx: SessionContext, plan: SessionPlan, o: Outcome, last: { m: ListedMessage; index: number }): Promise<string | undefined> {
  const { m, index } = last;
  if (index === plan.prefix - 1 && plan.summary?.lastFingerprint && o.deleted.every((d) => d.number > m.number)) return plan.summary.lastFingerprint;
  const known = o.storedNow.get(m.identity)?.headerFingerprint ?? plan.records.get(m.identity)?.headerFingerprint;
  if (known) return known;
  return (await ctx.state.getRecords(ctx.mailbox.id, [m.identity])).get(m.identity)?.headerFingerprint;
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
