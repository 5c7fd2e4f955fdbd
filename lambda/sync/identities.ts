import type { Pop3Client, UidlListing } from '../pop3';
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
}

/** TOP output larger than this is not a header block: a hostile or broken server. */
const MAX_TOP_OCTETS = 256 * 1024;
/** Hex digits of the header fingerprint used in identities (128 bits). */
const FINGERPRINT_HEX_DIGITS = 32;

/** Identity of a message told apart by its header block (shared UIDL, or no UIDL at all). */
export function fingerprintIdentity(uid: string, fingerprint: string): string {
  const fp = fingerprint.slice(0, FINGERPRINT_HEX_DIGITS);
  return uid === '' ? `fp~${fp}` : `${uid}~fp~${fp}`;
}

/** Fingerprint of message `n`'s header block, read with TOP n 0. */
export async function topFingerprint(client: Pop3Client, n: number): Promise<string> {
  const stream = await client.top(n, 0, MAX_TOP_OCTETS);
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return headerFingerprint(Buffer.concat(parts));
}

/**
 * Gives every valid listing entry its identity. A UIDL listed once is its own identity.
 * A UIDL listed several times (popa3d derives UIDLs from a few headers, so distinct
 * messages can share one) is resolved per message by its header fingerprint: the
 * occurrence whose fingerprint matches the record already kept under the plain UIDL keeps
 * that identity (so it is never fetched a second time); the others get fingerprint
 * identities. Only UIDLs in `relevant` are resolved (TOP costs a round trip each).
 */
export async function resolveIdentities(
  client: Pop3Client,
  listing: UidlListing,
  sizes: ReadonlyMap<number, number>,
  relevant: ReadonlySet<string>,
  recordedFingerprint: (uid: string) => Promise<string | undefined>,
): Promise<ListedMessage[]> {
  const fingerprints = new Map<number, string>();
  const recorded = new Map<string, string | undefined>();
  for (const [uid, numbers] of listing.duplicates) {
    if (!relevant.has(uid)) continue;
    const fps = await Promise.all(numbers.map((n) => topFingerprint(client, n)));
    numbers.forEach((n, i) => fingerprints.set(n, fps[i]!));
    recorded.set(uid, await recordedFingerprint(uid));
  }
  return listing.entries.map((e) => {
    const fp = fingerprints.get(e.number);
    // Every copy of the message already kept under the plain UIDL maps to it (and is then a
    // duplicate, not a second object); other messages sharing the UIDL get their own identity.
    const identity = fp === undefined || fp === recorded.get(e.uid) ? e.uid : fingerprintIdentity(e.uid, fp);
    return { number: e.number, uid: e.uid, identity, size: sizes.get(e.number) ?? 0 };
  });
}

/** For servers without UIDL: every message is identified by its header fingerprint. */
export async function fingerprintAll(client: Pop3Client, sizes: ReadonlyMap<number, number>): Promise<ListedMessage[]> {
  const numbers = [...sizes.keys()].sort((a, b) => a - b);
  const fps = await Promise.all(numbers.map((n) => topFingerprint(client, n)));
  return numbers.map((n, i) => ({ number: n, uid: '', identity: fingerprintIdentity('', fps[i]!), size: sizes.get(n)! }));
}
