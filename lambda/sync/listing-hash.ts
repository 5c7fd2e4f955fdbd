import { createHash } from 'node:crypto';

/**
 * The part of a listing entry the summary vouches for: its UIDL and its LIST size. The
 * size is there so that a UIDL recycled for new mail of another size breaks the prefix.
 * A tab separates them; UIDLs never hold one (they are 0x21..0x7E).
 */
export function listingKey(uid: string, size: number): string {
  return `${uid}\t${size}`;
}

/**
 * SHA-256 over `salt` and the first `count` keys of a listing, in order. The salt names
 * what "settled" meant when the summary was written (the retention mode), so a change of
 * retention invalidates the summary and forces one full diff. A newline separates keys;
 * keys never contain one, so the encoding is unambiguous.
 */
export function listingHash(keys: readonly string[], count = keys.length, salt = ''): string {
  const h = createHash('sha256').update(salt, 'latin1').update('\n');
  // Keys go to the hash in batches: one call per key costs more than the hashing itself.
  for (let i = 0; i < count; i += KEYS_PER_UPDATE) h.update(`${keys.slice(i, Math.min(i + KEYS_PER_UPDATE, count)).join('\n')}\n`, 'latin1');
  return h.digest('hex');
}

/** Keys hashed per update call (about 30 KB of keys). */
const KEYS_PER_UPDATE = 1024;

/**
 * How many keys at the start of the new listing are known to be settled, according to the
 * summary of the last run: its `count` when the listing still starts with exactly those
 * keys (only new mail was appended since), otherwise undefined (a full diff is needed).
 */
export function settledPrefix(keys: readonly string[], summary: { count: number; listingHash: string } | undefined, salt = ''): number | undefined {
  if (!summary || summary.count > keys.length) return undefined;
  return listingHash(keys, summary.count, salt) === summary.listingHash ? summary.count : undefined;
}
