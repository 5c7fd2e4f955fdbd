import { Pop3Error, Pop3ErrorCode, type Pop3Client, type UidlListing } from '../pop3';
import type { MessageRecord } from '../state/state-store';
import { headerFingerprint } from '../storage/header-block';

/** A message of this session's listing with the identity its state is kept under. */
export interface ListedMessage {
  /** Message number in this session. */
  readonly number: number;
  /** UIDL as listed ('' when the server has no UIDL). */
  readonly uid: string;
  /** State key: the UIDL, or a fingerprint identity for UIDLs shared by several messages. */
  readonly identity: string;
  /** Size announced by LIST. */
  readonly size: number;
  /** Header fingerprint, when this session read it (TOP). */
  readonly fingerprint?: string;
  /**
   * Taken for a stored message by its header fingerprint alone (its UIDL was shared, or its
   * size changed): its content must be checked before it counts as that message, since
   * another message with the same header block would otherwise never be fetched.
   */
  readonly verify?: boolean;
}

/** TOP output larger than this is not a header block: a hostile or broken server. */
const MAX_TOP_OCTETS = 256 * 1024;
/** Hex digits of the header fingerprint used in identities (128 bits). */
const FINGERPRINT_HEX_DIGITS = 32;

/**
 * Derived identities hold a space, which no UIDL can (UIDLs are 0x21..0x7E): so no UIDL,
 * however it is spelled, equals another message's derived identity.
 */
const DERIVED_SEPARATOR = ' ';
const FINGERPRINT_TAG = `${DERIVED_SEPARATOR}fp:`;
const CONTENT_TAG = `${DERIVED_SEPARATOR}sha:`;
const CHECK_TAG = `${DERIVED_SEPARATOR}check:`;
/** Hex digits of the content hash used in content identities (128 bits). */
const CONTENT_HEX_DIGITS = 32;

/**
 * Identity of a message told apart by its header block (shared UIDL, or no UIDL at all):
 * `<uid> fp:<fingerprint>` (` fp:<fingerprint>` without UIDL). With an empty fingerprint:
 * the common prefix of all fingerprint identities of `uid`.
 */
export function fingerprintIdentity(uid: string, fingerprint: string): string {
  return `${uid}${FINGERPRINT_TAG}${fingerprint.slice(0, FINGERPRINT_HEX_DIGITS)}`;
}

/**
 * Identity of a message that shares both UIDL and header fingerprint with another one but
 * has other bytes (popa3d derives UIDLs from headers): told apart by its content hash.
 */
export function contentIdentity(identity: string, sha256: string): string {
  return `${baseIdentity(identity)}${CONTENT_TAG}${sha256.slice(0, CONTENT_HEX_DIGITS)}`;
}

/**
 * Identity of the record that counts failed checks of a further copy of a stored message
 * whose content cannot be read whole (or is too large): `<identity> check:<LIST size>`.
 * It has no header fingerprint, so no listed message is ever resolved to it.
 */
export function copyCheckIdentity(identity: string, listSize: number): string {
  return `${baseIdentity(identity)}${CHECK_TAG}${listSize}`;
}

/** The identity without its content tag: what a content identity is derived from. */
export function baseIdentity(identity: string): string {
  const at = identity.indexOf(CONTENT_TAG);
  return at === -1 ? identity : identity.slice(0, at);
}

/** Sessions whose server answered TOP with -ERR (it announced no capabilities, so we tried). */
const topRefused = new WeakSet<Pop3Client>();
/** Sessions whose server removes messages read by TOP at QUIT, and who is told of each TOP. */
const topWatchers = new WeakMap<Pop3Client, (n: number, reply: Promise<unknown>) => void>();

/**
 * For a server that removes messages read by TOP at QUIT (RFC 2449 `EXPIRE 0`): optional
 * TOPs (checks that can do without the headers) are not sent at all, and every TOP an
 * identity needs is reported to `onTop` as it is sent, so the session counts it as a retrieval.
 */
export function watchTops(client: Pop3Client, onTop: (n: number, reply: Promise<unknown>) => void): void {
  topWatchers.set(client, onTop);
}

/**
 * Whether TOP may be used: announced in CAPA, or worth a try when the server has no CAPA
 * (popa3d answers TOP without announcing anything) and has not refused it yet; never where
 * a TOP would condemn the message (see watchTops).
 */
export function mayTop(client: Pop3Client): boolean {
  if (topWatchers.has(client)) return false;
  const caps = client.capabilities;
  if (caps?.top) return true;
  return (caps === undefined || caps.lines.length === 0) && !topRefused.has(client);
}

/**
 * The header fingerprint of message `n` for an optional check: undefined when TOP cannot
 * be used (refused once, the session remembers it). Other failures are thrown.
 */
export async function tryTopFingerprint(client: Pop3Client, n: number): Promise<string | undefined> {
  if (!mayTop(client)) return undefined;
  try {
    return await topFingerprint(client, n);
  } catch (err) {
    if (!(err instanceof Pop3Error) || err.code !== Pop3ErrorCode.SERVER_ERROR) throw err;
    topRefused.add(client);
    return undefined;
  }
}

/** Fingerprint of message `n`'s header block, read with TOP n 0. */
export async function topFingerprint(client: Pop3Client, n: number): Promise<string> {
  const reply = client.top(n, 0, MAX_TOP_OCTETS);
  topWatchers.get(client)?.(n, reply);
  const stream = await reply;
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return headerFingerprint(Buffer.concat(parts));
}

/** What resolving shared UIDLs needs from the state. */
export interface ResolveLookups {
  /** The record kept under a plain UIDL, if any. */
  readonly recordOf: (uid: string) => Promise<MessageRecord | undefined>;
  /** Which of these identities have a record. */
  readonly existing: (identities: readonly string[]) => Promise<ReadonlySet<string>>;
}

/**
 * Gives every valid listing entry its identity. A UIDL listed once is its own identity.
 * A UIDL listed several times (popa3d derives UIDLs from a few headers, so distinct
 * messages can share one) is resolved per message by its header fingerprint: one message
 * keeps the plain UIDL (see plainFingerprint), the others get fingerprint identities. Only
 * UIDLs in `relevant` are resolved (TOP costs a round trip each).
 */
export async function resolveIdentities(
  client: Pop3Client,
  listing: UidlListing,
  sizes: ReadonlyMap<number, number>,
  relevant: ReadonlySet<string>,
  lookups: ResolveLookups,
): Promise<ListedMessage[]> {
  const fingerprints = new Map<number, string>();
  const plain = new Map<string, string | undefined>();
  for (const [uid, numbers] of listing.duplicates) {
    if (!relevant.has(uid)) continue;
    const fps = await Promise.all(numbers.map((n) => topFingerprint(client, n)));
    numbers.forEach((n, i) => fingerprints.set(n, fps[i]!));
    plain.set(uid, await plainFingerprint(uid, fps, lookups));
  }
  const out = new Array<ListedMessage>(listing.length);
  for (let i = 0; i < listing.length; i++) {
    const number = listing.numberAt(i);
    const uid = listing.uidAt(i);
    const fingerprint = fingerprints.get(number);
    const size = sizes.get(number) ?? 0;
    // Every copy of the message under the plain UIDL maps to it (and is then a copy to
    // check, not a second object); other messages sharing the UIDL get their own identity.
    if (fingerprint === undefined) out[i] = { number, uid, identity: uid, size };
    else out[i] = { number, uid, identity: fingerprint === plain.get(uid) ? uid : fingerprintIdentity(uid, fingerprint), size, fingerprint };
  }
  return out;
}

/**
 * The header fingerprint whose messages keep the plain UIDL as identity. With a record
 * under the plain UIDL: its message's. Without one: the oldest message's that has no
 * fingerprint identity record of its own; for a UIDL that was unique until now, that is the
 * message it named, so a copy stored under the plain UIDL by a run that died before its
 * record is stored under the same key again, not under a second one.
 */
async function plainFingerprint(uid: string, fps: readonly string[], lookups: ResolveLookups): Promise<string | undefined> {
  const rec = await lookups.recordOf(uid);
  if (rec) return rec.headerFingerprint;
  const own = await lookups.existing(fps.map((fp) => fingerprintIdentity(uid, fp)));
  return fps.find((fp) => !own.has(fingerprintIdentity(uid, fp)));
}

/** For servers without UIDL: every message is identified by its header fingerprint. */
export async function fingerprintAll(client: Pop3Client, sizes: ReadonlyMap<number, number>): Promise<ListedMessage[]> {
  const numbers = [...sizes.keys()].sort((a, b) => a - b);
  const fps = await Promise.all(numbers.map((n) => topFingerprint(client, n)));
  return numbers.map((n, i) => ({ number: n, uid: '', identity: fingerprintIdentity('', fps[i]!), size: sizes.get(n)!, fingerprint: fps[i]! }));
}

export interface ReconcileOptions {
  readonly client: Pop3Client;
  /** Records known so far (identity -> record); records found here are added to it. */
  readonly records: Map<string, MessageRecord>;
  /** UIDLs listed more than once (already resolved by resolveIdentities). */
  readonly sharedUids: ReadonlySet<string>;
  /**
   * Whether the record kept under a candidate's plain UIDL may belong to another message
   * (the server may have recycled the UIDL): then the header fingerprint decides.
   */
  readonly suspect: (m: ListedMessage, rec: MessageRecord) => boolean;
  /** Whether this mailbox ever kept messages under fingerprint identities. */
  readonly hasFingerprintIdentities: boolean;
  /** Records of derived identities of a UIDL (fast path: a query; full diff: from `records`). */
  readonly derivedOf: (uid: string) => Promise<readonly MessageRecord[]>;
  /** Looks up one identity not in `records` (undefined when every record is in `records`). */
  readonly lookup: ((identity: string) => Promise<MessageRecord | undefined>) | undefined;
}

/**
 * Matches candidates whose UIDL is listed once against what the state holds, for servers
 * whose UIDLs are not unique over time (popa3d derives them from a few headers; others
 * recycle the UIDLs of deleted mail):
 *
 * - no record under the plain UIDL, but the mailbox has fingerprint identities: the message
 *   may have been stored while its UIDL was shared; if a record of this UIDL has the same
 *   header fingerprint, that is its identity (no second fetch);
 * - a record under the plain UIDL that may belong to another message (`suspect`): if the
 *   LIST size or the header fingerprint differs, the server reused the UIDL and this is a
 *   new message with its own identity (not lost).
 *
 * RFC-conforming servers never reuse UIDLs; for them this costs nothing in steady state.
 */
export async function reconcileIdentities(candidates: readonly ListedMessage[], o: ReconcileOptions): Promise<ListedMessage[]> {
  const out: ListedMessage[] = [];
  for (const m of candidates) {
    // Without UIDL every message is told apart by its headers alone, in every full diff:
    // checking each one's content would read the whole mailbox every run.
    if (m.uid === '') out.push(m);
    else if (m.identity !== m.uid || o.sharedUids.has(m.uid)) out.push(verifyStored(m, o));
    else if (o.records.has(m.uid)) out.push(await checkRecorded(m, o.records.get(m.uid)!, o));
    else out.push(await findFingerprintRecord(m, o));
  }
  return out;
}

/**
 * A message of a shared UIDL, or one under a fingerprint identity, resolved by its headers
 * to a settled message. Another message can have the same header block (popa3d then gives
 * it the same UIDL): where its LIST size differs, or it is listed where new mail is
 * (`suspect`), its content decides (`verify`). Skipped and baselined messages have no
 * content to compare: only another size makes it another message.
 */
function verifyStored(m: ListedMessage, o: ReconcileOptions): ListedMessage {
  const rec = o.records.get(m.identity);
  if (rec === undefined) return m;
  const sizeChanged = rec.listSize !== undefined && rec.listSize !== m.size;
  const check = rec.status === 'stored' ? sizeChanged || o.suspect(m, rec) : (rec.status === 'skipped' || rec.status === 'baseline') && sizeChanged;
  return check ? { ...m, verify: true } : m;
}

/**
 * A candidate whose plain UIDL has a record: the same message, or a new one under a
 * recycled UIDL. With a recorded fingerprint the headers decide (a LIST size may change
 * when a server rewrites its own header fields, or estimates sizes; then the content is
 * checked, see `verify`); without one (skipped and baselined messages) a changed size does.
 */
async function checkRecorded(m: ListedMessage, rec: MessageRecord, o: ReconcileOptions): Promise<ListedMessage> {
  const sizeChanged = rec.listSize !== undefined && rec.listSize !== m.size;
  // A UIDL that was ever shared: its plain record may be another message's, wherever it is listed.
  const wasShared = async (): Promise<boolean> => o.hasFingerprintIdentities && (await o.derivedOf(m.uid)).length > 0;
  if (!sizeChanged && !o.suspect(m, rec) && !(await wasShared())) return m;
  if (!sizeChanged && rec.headerFingerprint === undefined) return m;
  // Without TOP (none, refused, or it would condemn the message: EXPIRE 0) the headers stay
  // unknown: a changed size is settled by content, as when the headers match (a RETR in
  // this session); an unchanged one leaves the record standing.
  const fp = await tryTopFingerprint(o.client, m.number);
  if (fp === undefined) return sizeChanged ? { ...m, verify: true } : m;
  // The same headers: the same message, or one with the same header block (its content decides).
  // Skipped and baselined messages have no content to compare: another size makes it another message.
  const check = rec.status === 'stored' || (sizeChanged && (rec.status === 'skipped' || rec.status === 'baseline'));
  if (fp === rec.headerFingerprint) return { ...m, fingerprint: fp, ...(check ? { verify: true } : {}) };
  const identity = fingerprintIdentity(m.uid, fp);
  const own = o.records.get(identity) ?? (o.lookup ? await o.lookup(identity) : undefined);
  if (own) o.records.set(identity, own);
  return verifyStored({ ...m, identity, fingerprint: fp }, o);
}

/**
 * A candidate without a record: it may have been stored (or be being stored: `pending`)
 * under a fingerprint identity while its UIDL was shared. A stored message matched by its
 * headers alone is only taken for that message once its content is checked (`verify`).
 */
async function findFingerprintRecord(m: ListedMessage, o: ReconcileOptions): Promise<ListedMessage> {
  if (!o.hasFingerprintIdentities) return m;
  const kept = (await o.derivedOf(m.uid)).filter((r) => r.identity.startsWith(fingerprintIdentity(m.uid, '')));
  const fp = kept.length > 0 ? await tryTopFingerprint(o.client, m.number) : undefined;
  if (fp === undefined) return m;
  // The message kept under its fingerprint identity; else one kept under a content identity
  // (their original left, and its record expired). Records of copy checks carry no fingerprint.
  const match = kept.find((r) => r.headerFingerprint === fp && r.identity === fingerprintIdentity(m.uid, fp)) ?? kept.find((r) => r.headerFingerprint === fp && r.status === 'stored');
  if (!match) return { ...m, fingerprint: fp };
  o.records.set(match.identity, match);
  return { ...m, identity: match.identity, fingerprint: fp, ...(match.status === 'stored' ? { verify: true } : {}) };
}

/** The prefix every derived identity of `uid` starts with. */
export function derivedPrefix(uid: string): string {
  return `${uid}${DERIVED_SEPARATOR}`;
}

/** Whether an identity is derived (fingerprint or content identity), not a plain UIDL. */
export function isFingerprintIdentity(identity: string): boolean {
  return identity.includes(DERIVED_SEPARATOR);
}
