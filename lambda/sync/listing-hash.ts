import { createHash } from 'node:crypto';

/**
 * SHA-256 over the first `count` ids of a listing, in order. A newline separates ids;
 * ids never contain one (UIDLs are 0x21..0x7E), so the encoding is unambiguous.
 */
export function listingHash(ids: readonly string[], count = ids.length): string {
  const h = createHash('sha256');
  for (let i = 0; i < count; i++) h.update(ids[i]!, 'latin1').update('\n');
  return h.digest('hex');
}

/**
 * How many ids at the start of the new listing are known to be settled, according to the
 * summary of the last run: its `count` when the listing still starts with exactly those
 * ids (only new mail was appended since), otherwise undefined (a full diff is needed).
 */
export function settledPrefix(ids: readonly string[], summary: { count: number; listingHash: string } | undefined): number | undefined {
  if (!summary || summary.count > ids.length) return undefined;
  return listingHash(ids, summary.count) === summary.listingHash ? summary.count : undefined;
}
