import type { MailboxConfig } from '../config/mailbox-config';
import { Pop3Error, Pop3ErrorCode, type Pop3Client, type UidlListing } from '../pop3';
import type { MailboxSummary, MessageRecord, StateStore } from '../state/state-store';
import { derivedPrefix, fingerprintAll, isFingerprintIdentity, reconcileIdentities, resolveIdentities, tryTopFingerprint, type ListedMessage } from './identities';
import { forEachLimited } from './for-each-limited';
import { listingHash, listingKey, settledPrefix } from './listing-hash';

/** What one session must look at, and what the state already knows about it. */
export interface SessionPlan {
  /** Every valid listed message with its identity, in listing order. */
  readonly messages: ListedMessage[];
  /** The messages after the settled prefix (every message in a full diff). */
  readonly candidates: ListedMessage[];
  /** Records known for the messages looked at (identity -> record). */
  readonly records: Map<string, MessageRecord>;
  /** Listing entries at the start that the last summary vouched for (0 in a full diff). */
  readonly prefix: number;
  readonly fullDiff: boolean;
  /** A header audit: recorded messages' sizes and headers were compared (see HEADER_AUDIT_INTERVAL_MS). */
  readonly audit: boolean;
  /** The audit time the summary carries from this session on. */
  readonly auditedAt: string | undefined;
  readonly summary: MailboxSummary | undefined;
  /** Listing keys (UIDL and LIST size) of the valid entries; undefined without UIDL. */
  readonly keys: readonly string[] | undefined;
}

export interface PlanContext {
  readonly mailbox: MailboxConfig;
  readonly state: StateStore;
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
  /** Salt of the summary hash (what "settled" means under the retention mode). */
  readonly salt: string;
  readonly now: () => number;
}

/**
 * How often a mailbox's listing is audited: every recorded message still listed gets its
 * LIST size and header fingerprint (TOP n 0) compared with its record. Between audits, the
 * summary's prefix is trusted on the word of its last message (one TOP), and a full diff
 * checks until the first message that is not the recorded one (O(log n) TOPs); mail under a
 * recycled UIDL that sits before a known message (the same mail delivered again later) is
 * found by the next audit. A day of TOPs costs a few KiB per kept message.
 */
export const HEADER_AUDIT_INTERVAL_MS = 24 * 60 * 60 * 1000;
/** TOPs of an audit queued at once (pipelined where the server allows). */
const AUDIT_TOPS_IN_FLIGHT = 16;
/**
 * Recorded messages one audit compares at most (a window that moves on each day): keeps an
 * audit to seconds on a server without PIPELINING (~20 ms a TOP), whatever the mailbox size.
 */
export const AUDIT_MAX_MESSAGES = 2000;

/**
 * Plans a session: the summary fast path when the listing only had mail appended since the
 * last run (reads O(new)), else a full diff against every record (reads O(mailbox)).
 */
export async function planSession(client: Pop3Client, ctx: PlanContext, listing: UidlListing | undefined, sizes: ReadonlyMap<number, number>): Promise<SessionPlan> {
  const keys = listing && listingKeys(listing, sizes);
  const summary = keys ? await ctx.state.getSummary(ctx.mailbox.id) : undefined;
  if (keys !== undefined && auditDue(summary, ctx.now())) {
    // Noted before it starts: an audit that dies (a broken server, the deadline) is not
    // repeated by every run, and a session with a backlog does not audit again.
    const auditedAt = new Date(ctx.now()).toISOString();
    const base = summary ?? { count: 0, listingHash: listingHash([], 0, ctx.salt), updatedAt: auditedAt };
    await ctx.state.putSummary(ctx.mailbox.id, { ...base, auditedAt });
    return fullDiff(client, ctx, listing, sizes, { summary, keys, audit: auditedAt });
  }
  let prefix = keys ? settledPrefix(keys, summary, ctx.salt) : undefined;
  if (listing && prefix !== undefined && prefix > 0 && summary?.lastFingerprint !== undefined) {
    // Same keys, but is it the same mail? If the last settled message is, all before it are.
    const fp = await tryTopFingerprint(client, listing.numberAt(prefix - 1));
    if (fp !== undefined && fp !== summary.lastFingerprint) {
      ctx.log('listing-prefix-replaced', { at: prefix, uid: listing.uidAt(prefix - 1) });
      prefix = undefined;
    }
  }
  if (listing && keys && prefix !== undefined) return fastPath(client, ctx, listing, sizes, { summary, prefix, keys });
  return fullDiff(client, ctx, listing, sizes, { summary, keys, audit: undefined });
}

/** The listing key of every valid entry, in listing order. */
function listingKeys(listing: UidlListing, sizes: ReadonlyMap<number, number>): string[] {
  const keys = new Array<string>(listing.length);
  for (let i = 0; i < listing.length; i++) keys[i] = listingKey(listing.uidAt(i), sizes.get(listing.numberAt(i)) ?? 0);
  return keys;
}

function auditDue(summary: MailboxSummary | undefined, nowMs: number): boolean {
  const last = summary?.auditedAt === undefined ? Number.NaN : Date.parse(summary.auditedAt);
  return !(nowMs - last < HEADER_AUDIT_INTERVAL_MS);
}

/** Only the appended tail can be new. Reads O(tail). */
async function fastPath(
  client: Pop3Client,
  ctx: PlanContext,
  listing: UidlListing,
  sizes: ReadonlyMap<number, number>,
  p: { summary: MailboxSummary | undefined; prefix: number; keys: readonly string[] },
): Promise<SessionPlan> {
  const { state, mailbox } = ctx;
  const sharedUids = new Set(listing.duplicates.keys());
  const tailUids = new Set<string>();
  for (let i = p.prefix; i < listing.length; i++) tailUids.add(listing.uidAt(i));
  const relevant = new Set([...sharedUids].filter((u) => tailUids.has(u)));
  const lookup = async (id: string): Promise<MessageRecord | undefined> => (await state.getRecords(mailbox.id, [id])).get(id);
  let messages = await resolveIdentities(client, listing, sizes, relevant, {
    recordOf: lookup,
    existing: async (ids) => new Set((await state.getRecords(mailbox.id, ids)).keys()),
  });
  const records = await state.getRecords(mailbox.id, unique(messages.slice(p.prefix).map((m) => m.identity)));
  const tail = messages.slice(p.prefix);
  const boundary = await lastKnownMessage(client, tail, records);
  const candidates = await reconcileIdentities(tail, {
    client,
    records,
    sharedUids,
    // As in a full diff (below), over the tail: the prefix is proven already.
    suspect: (m, rec) => m.number > boundary || rec.deletedAt !== undefined,
    hasFingerprintIdentities: p.summary?.fingerprintIdentities === true,
    derivedOf: (uid) => state.listRecordsByIdentityPrefix(mailbox.id, derivedPrefix(uid)),
    lookup,
  });
  messages = [...messages.slice(0, p.prefix), ...candidates];
  return { messages, candidates, records, prefix: p.prefix, fullDiff: false, audit: false, auditedAt: p.summary?.auditedAt, summary: p.summary, keys: p.keys };
}

/** The listing changed other than by appending (or there is no UIDL). Reads O(mailbox). */
async function fullDiff(
  client: Pop3Client,
  ctx: PlanContext,
  listing: UidlListing | undefined,
  sizes: ReadonlyMap<number, number>,
  p: { summary: MailboxSummary | undefined; keys: readonly string[] | undefined; audit: string | undefined },
): Promise<SessionPlan> {
  const records = new Map<string, MessageRecord>();
  for await (const r of ctx.state.listRecords(ctx.mailbox.id)) records.set(r.identity, r);
  const sharedUids = new Set(listing?.duplicates.keys() ?? []);
  let messages = listing
    ? await resolveIdentities(client, listing, sizes, sharedUids, {
        recordOf: async (uid) => records.get(uid),
        existing: async (ids) => new Set(ids.filter((id) => records.has(id))),
      })
    : await fingerprintAll(client, sizes);
  const notRecorded = p.audit ? await unknownMessages(client, messages, records, Date.parse(p.audit)) : new Set<number>();
  const boundary = await lastKnownMessage(client, messages, records);
  const derived = derivedByUid(records.values());
  messages = await reconcileIdentities(messages, {
    client,
    records,
    sharedUids,
    // Mail is appended: past the last message proven to be the recorded one, a recorded
    // UIDL can only be a recycled one (an audit proves each one). A UIDL whose message left
    // the server is suspect too.
    suspect: (m, rec) => m.number > boundary || notRecorded.has(m.number) || rec.deletedAt !== undefined,
    hasFingerprintIdentities: derived.size > 0,
    derivedOf: async (uid) => derived.get(uid) ?? [],
    lookup: undefined,
  });
  return { messages, candidates: messages, records, prefix: 0, fullDiff: true, audit: p.audit !== undefined, auditedAt: p.audit ?? p.summary?.auditedAt, summary: p.summary, keys: p.keys };
}

/**
 * The message number of the last listed message that is provably the one recorded under
 * its identity (its LIST size and header fingerprint match), or 0 (none can be proven). Servers keep mail in arrival order and
 * append new mail, so the messages that are still the recorded ones form a prefix of the
 * listing: one TOP when nothing was recycled, a binary search (O(log n) TOPs) otherwise.
 */
async function lastKnownMessage(client: Pop3Client, messages: readonly ListedMessage[], records: ReadonlyMap<string, MessageRecord>): Promise<number> {
  const checkable = messages.filter((m) => records.get(m.identity)?.headerFingerprint !== undefined);
  const isKnown = async (i: number): Promise<boolean> => {
    const m = checkable[i]!;
    const rec = records.get(m.identity)!;
    if (rec.listSize !== undefined && rec.listSize !== m.size) return false;
    const fp = m.fingerprint ?? (await tryTopFingerprint(client, m.number));
    // Without TOP the headers cannot be compared: trust the records (sizes still checked).
    return fp === undefined || fp === rec.headerFingerprint;
  };
  if (checkable.length === 0) return 0;
  if (await isKnown(checkable.length - 1)) return checkable[checkable.length - 1]!.number;
  // Invariant: every index < lo is known, every index >= hi is not.
  let lo = 0;
  let hi = checkable.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (await isKnown(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : checkable[lo - 1]!.number;
}

/**
 * The audit: numbers of listed messages whose LIST size or header fingerprint differs from
 * their record, over a window of at most AUDIT_MAX_MESSAGES recorded messages that moves
 * on each day. A TOP that fails is not a finding (the message stays as it was judged).
 */
async function unknownMessages(client: Pop3Client, messages: readonly ListedMessage[], records: ReadonlyMap<string, MessageRecord>, nowMs: number): Promise<Set<number>> {
  const recorded = messages.filter((m) => {
    const rec = records.get(m.identity);
    return rec !== undefined && rec.deletedAt === undefined && (rec.headerFingerprint !== undefined || rec.listSize !== undefined);
  });
  const start = recorded.length <= AUDIT_MAX_MESSAGES ? 0 : (Math.floor(nowMs / HEADER_AUDIT_INTERVAL_MS) * AUDIT_MAX_MESSAGES) % recorded.length;
  const window = [...recorded, ...recorded].slice(start, start + Math.min(AUDIT_MAX_MESSAGES, recorded.length));
  const out = new Set<number>();
  await forEachLimited(window, AUDIT_TOPS_IN_FLIGHT, async (m) => {
    const rec = records.get(m.identity)!;
    if (rec.listSize !== undefined && rec.listSize !== m.size) return void out.add(m.number);
    if (rec.headerFingerprint === undefined) return;
    const fp = m.fingerprint ?? (await auditTop(client, m.number));
    if (fp !== undefined && fp !== rec.headerFingerprint) out.add(m.number);
  });
  return out;
}

/** TOP for the audit: a reply over the TOP cap (a header block without an end) is no finding. */
async function auditTop(client: Pop3Client, n: number): Promise<string | undefined> {
  try {
    return await tryTopFingerprint(client, n);
  } catch (err) {
    if (err instanceof Pop3Error && err.code === Pop3ErrorCode.MESSAGE_TOO_LARGE) return undefined;
    throw err;
  }
}

/** Records of derived identities, by UIDL. */
function derivedByUid(records: Iterable<MessageRecord>): Map<string, MessageRecord[]> {
  const out = new Map<string, MessageRecord[]>();
  for (const r of records) {
    if (!isFingerprintIdentity(r.identity)) continue;
    const list = out.get(r.uid) ?? [];
    list.push(r);
    out.set(r.uid, list);
  }
  return out;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
