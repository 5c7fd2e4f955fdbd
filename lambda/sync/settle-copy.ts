import type { MessageRecord } from '../state/state-store';
import { sameContent, type DigestResult } from '../storage/message-digest';
import type { StoredMessage } from '../storage/message-sink';
import { Pop3ErrorCode } from '../pop3';
import { MAX_INCOMPLETE_ATTEMPTS, fetchAll, hasCode, isOwnFailure, isSessionFatal, recordIncomplete, recordSkipped, type FetchContext } from './fetch-messages';
import { contentIdentity, copyCheckIdentity, fingerprintIdentity, type ListedMessage } from './identities';
import { MAX_SKIPPED_NAMED, toRunError } from './run-summary';
import { contentDigest } from './verify-message';

/** What settling the further copies of a session needs besides the fetch context. */
export interface CopyContext {
  /** Records known for the session's messages (identity -> record). */
  readonly records: ReadonlyMap<string, MessageRecord>;
  /** Messages stored in this session (identity -> what was stored). */
  readonly storedNow: ReadonlyMap<string, StoredMessage>;
  /** Queues a DELE of a message proven to be stored (retention `delete`). */
  readonly dele: (m: ListedMessage) => void;
  /** 0 for the first further copy of an identity in this listing, 1 for the next, ... */
  readonly copyOrdinal: (m: ListedMessage) => number;
}

/**
 * Listing-order ordinals of further copies, per identity (see CopyContext.copyOrdinal),
 * over the whole listing: the first message of an identity is the recorded one.
 */
export function copyOrdinals(messages: readonly ListedMessage[]): (m: ListedMessage) => number {
  const byNumber = new Map<number, number>();
  const seen = new Map<string, number>();
  for (const m of [...messages].sort((a, b) => a.number - b.number)) {
    const n = seen.get(m.identity) ?? 0;
    byNumber.set(m.number, n - 1);
    seen.set(m.identity, n + 1);
  }
  return (m) => byNumber.get(m.number) ?? 0;
}

type Original = Pick<MessageRecord, 'sha256' | 'bodySha256' | 'headerFingerprint'>;

/**
 * A listed message whose identity is taken by another (same UIDL and headers: popa3d, the
 * same mail delivered twice, a recycled UIDL), or that was matched to a stored message by
 * its headers alone (`verify`). The same content: it is settled by the stored original
 * (and deleted with it). Other content: a message of its own, stored under a content
 * identity. Settled or given up, it is added to `settledNumbers`; otherwise the next run
 * tries again.
 */
export async function settleCopy(f: FetchContext, c: CopyContext, m: ListedMessage, read?: DigestResult): Promise<void> {
  const rec = c.records.get(m.identity);
  const original: Original | undefined = c.storedNow.get(m.identity) ?? (rec?.status === 'stored' ? rec : undefined);
  if (original === undefined) return settleUnread(f, c, m, rec);
  const digest = read ?? (await checkedRead(f, c, m));
  if (digest === undefined) return;
  if (sameContent(digest, original, { headersSuffice: true })) {
    settled(f, c, m);
    // The server rewrote fields of its own (the size changed): compare against the new size from now on.
    if (m.verify && rec !== undefined && rec.listSize !== m.size) await f.ctx.state.noteListSize(f.ctx.mailbox.id, m.identity, m.size);
    return;
  }
  await settleDifferent(f, c, m, digest, original);
}

/** The copy's content, unless it was given up on (counted under its check identity). */
async function checkedRead(f: FetchContext, c: CopyContext, m: ListedMessage): Promise<DigestResult | undefined> {
  const checkId = copyCheckIdentity(m.identity, m.size);
  const check = await recordOf(f, c, checkId);
  // Given up on earlier (too large, or never received whole): left on the server and named
  // in the summary. The record names no message, only the identity and size, so another copy
  // of that size may have taken its place: read again once a day (an audit lists it).
  if (check?.status === 'skipped' && !retryDue(check, f.ctx.now())) {
    reportSkipped(f, m, check.skipReason ?? 'given up');
    return undefined;
  }
  return readCopy(f, m, checkId, check);
}

/**
 * A copy with other content: stored already or stored now, under the identity a later
 * listing resolves it to: its fingerprint identity when its header block differs from the
 * original's (a recycled UIDL), else its content identity.
 */
async function settleDifferent(f: FetchContext, c: CopyContext, m: ListedMessage, digest: DigestResult, original?: Original): Promise<void> {
  const otherHeaders = m.uid !== '' && original?.headerFingerprint !== undefined && digest.headerFingerprint !== undefined && digest.headerFingerprint !== original.headerFingerprint;
  let identity = otherHeaders ? fingerprintIdentity(m.uid, digest.headerFingerprint!) : contentIdentity(m.identity, digest.sha256);
  let known = c.storedNow.get(identity) ?? (await recordOf(f, c, identity));
  const isStored = (k: typeof known): boolean => k !== undefined && (!('status' in k) || k.status === 'stored');
  if (otherHeaders && isStored(known) && !sameContent(digest, known!)) {
    // Its fingerprint identity holds a header twin with other content: told apart by content.
    identity = contentIdentity(identity, digest.sha256);
    known = c.storedNow.get(identity) ?? (await recordOf(f, c, identity));
  }
  if (isStored(known) && sameContent(digest, known!)) return settled(f, c, m);
  f.ctx.log('copy-differs', { uid: m.uid, number: m.number });
  await fetchAll(f, [{ ...m, identity, fingerprint: digest.headerFingerprint }]);
}

/**
 * The original was not stored: not yet (failed, pending, or not reached in this session:
 * the next run retries), or never (skipped or baselined, so there are no bytes to compare
 * with). Copies that were there when the baseline was taken are baselined with it; later
 * ones are new mail. Any other copy is read to find its content identity, unless it is too
 * large to fetch: then it is recorded as skipped under its check identity, and named.
 */
async function settleUnread(f: FetchContext, c: CopyContext, m: ListedMessage, rec: MessageRecord | undefined): Promise<void> {
  if (rec?.status !== 'skipped' && rec?.status !== 'baseline') return void f.ctx.log('copy-kept', { uid: m.uid, number: m.number, reason: 'original not stored' });
  const sameSize = rec.listSize === undefined || rec.listSize === m.size;
  const baselined = sameSize && (rec.baselineCopies === undefined || c.copyOrdinal(m) < rec.baselineCopies);
  if (rec.status === 'baseline' && baselined) return void f.settledNumbers.add(m.number);
  // One too large to fetch is given up under its check identity (uid and size), not left
  // under the original's record: a recycled UIDL's new message may be another size.
  const digest = await checkedRead(f, c, m);
  if (digest !== undefined) await settleDifferent(f, c, m, digest);
}

/**
 * Reads a copy's content. A copy that cannot be read whole is counted under its check
 * identity like any incomplete message (and given up after as many attempts), and one that
 * is too large is given up at once: a copy retrieved and never stored would otherwise hold
 * back every session's QUIT for good. Undefined when it was not read.
 */
async function readCopy(f: FetchContext, m: ListedMessage, checkId: string, check: MessageRecord | undefined): Promise<DigestResult | undefined> {
  const maxOctets = f.ctx.mailbox.limits.maxMessageBytes;
  const asCheck: ListedMessage = { number: m.number, uid: m.uid, identity: checkId, size: m.size };
  if (m.size > maxOctets) {
    await recordSkipped(f, asCheck, 'too-large');
    return undefined;
  }
  try {
    return await contentDigest(f.client, m, f.ledger, maxOctets);
  } catch (err) {
    // A session that ended earlier fails every later command with its own cause: not this copy's.
    if (!isOwnFailure(err, m)) throw err;
    if (hasCode(err, Pop3ErrorCode.MESSAGE_TOO_LARGE)) await recordSkipped(f, asCheck, 'too-large');
    else if (hasCode(err, Pop3ErrorCode.MESSAGE_INCOMPLETE)) await recordIncomplete(f, asCheck, check);
    // A fatal one ends the session, which reports it. After an -ERR to this RETR the copy
    // waits for the next run, and the other copies (and owed DELEs) go on.
    if (isSessionFatal(err)) throw err;
    f.result.errors.push(toRunError(err, m.uid, m.number));
    return undefined;
  }
}

/**
 * A given-up copy check is tried again after this long, doubling with each failed retry
 * (at most MAX_RETRY_DOUBLINGS times): the copy may have been replaced by another message
 * of that size by then, and a retry that fails again costs a session without QUIT.
 */
export const GIVEN_UP_COPY_RETRY_MS = 24 * 60 * 60 * 1000;
const MAX_RETRY_DOUBLINGS = 5;

function retryDue(check: MessageRecord, nowMs: number): boolean {
  const failedRetries = Math.max(0, (check.attempts ?? MAX_INCOMPLETE_ATTEMPTS) - MAX_INCOMPLETE_ATTEMPTS);
  const wait = GIVEN_UP_COPY_RETRY_MS * 2 ** Math.min(failedRetries, MAX_RETRY_DOUBLINGS);
  return !(nowMs - Date.parse(check.firstSeenAt) < wait);
}

/** A copy left on the server unread: settled for this session, and named as skipped. */
function reportSkipped(f: FetchContext, m: ListedMessage, reason: string): void {
  f.settledNumbers.add(m.number);
  f.result.skipped++;
  if (f.result.skippedMessages.length < MAX_SKIPPED_NAMED) f.result.skippedMessages.push({ uid: m.uid, number: m.number, reason, size: m.size });
}


function settled(f: FetchContext, c: CopyContext, m: ListedMessage): void {
  f.ledger.stored(m.number);
  f.settledNumbers.add(m.number);
  if (f.ctx.mailbox.retention === 'delete') c.dele(m);
}

async function recordOf(f: FetchContext, c: CopyContext, identity: string): Promise<MessageRecord | undefined> {
  return c.records.get(identity) ?? (await f.ctx.state.getRecords(f.ctx.mailbox.id, [identity])).get(identity);
}
