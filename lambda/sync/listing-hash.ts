import { createHash } from 'node:crypto';

/**
 * SHA-256 over `salt` and the first `count` ids of a listing, in order. The salt names
 * what "settled" meant when the summary was written (the retention mode), so a change of
 * retention invalidates the summary and forces one full diff. A newline separates ids;
 * ids never contain one (UIDLs are 0x21..0x7E), so the encoding is unambiguous.
 */
export function listingHash(ids: readonly string[], count = ids.length, salt = ''): string {
  const h = createHash('sha256').update(salt, 'latin1').update('\n');
  for (let i = 0; i < count; i++) h.update(ids[i]!, 'latin1').update('\n');
  return h.digest('hex');
}

/**
 * How many ids at the start of the new listing are known to be settled, according to the
 * summary of the last run: its `count` when the listing still starts with exactly those
 * ids (only new mail was appended since), otherwise undefined (a full diff is needed).
 */
export function settledPrefix(ids: readonly string[], summary: { count: number; listingHash: string } | undefined, salt = ''): number | undefined {
  if (!summary || summary.count > ids.length) return undefined;
  return listingHash(ids, summary.count, salt) === summary.listingHash ? summary.count : undefined;
}
