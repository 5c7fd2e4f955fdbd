/**
 * The compact UIDL listing (ids kept as bytes of the received chunks, see IdIndex) against
 * a plain reference model, and end to end through the client over a chunked wire.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, type UidlListing } from '../../lambda/pop3';
import { buildUidlListing } from '../../lambda/pop3/listing';
import { fuzzParams } from '../fuzz/fuzz-support';
import { closeServers, fake, opts } from './pop3-test-kit';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

afterEach(closeServers);

/** What the listing must say about well-framed lines "<n> <id>", computed the plain way. */
function reference(lines: readonly (readonly [number, string])[]): unknown {
  const entries: { number: number; uid: string }[] = [];
  const invalid: number[] = [];
  const numbers = new Map<string, number[]>();
  for (const [number, uid] of lines) {
    if (!/^[\x21-\x7e]{1,512}$/.test(uid)) {
      invalid.push(number);
      continue;
    }
    entries.push({ number, uid });
    numbers.set(uid, [...(numbers.get(uid) ?? []), number]);
  }
  const duplicates = [...numbers].filter(([, n]) => n.length > 1);
  // A Map's order is that of first insertion: a uid becomes a duplicate at its second listing.
  const secondAt = (uid: string): number => entries.filter((e) => e.uid === uid)[1]!.number;
  duplicates.sort(([x], [y]) => entries.findIndex((e) => e.number === secondAt(x)) - entries.findIndex((e) => e.number === secondAt(y)));
  return { entries, duplicates, invalid, overlong: entries.filter((e) => e.uid.length > 70).length };
}

/** The same, read through the accessors a sync uses (numberAt/uidAt), and through `entries`. */
function observed(listing: UidlListing): unknown {
  const byIndex = Array.from({ length: listing.length }, (_, i) => ({ number: listing.numberAt(i), uid: listing.uidAt(i) }));
  expect(listing.entries).toEqual(byIndex);
  return { entries: byIndex, duplicates: [...listing.duplicates], invalid: listing.invalid.map((e) => e.number), overlong: listing.overlong };
}

describe('UIDL listing (compact)', () => {
  it('model: entries, duplicates, invalid and overlong ids as a plain listing has them', () => {
    // Few distinct ids (many duplicates), some unsafe ones, sometimes a long one.
    const id = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'abc', 'x!~', '1') },
      { weight: 2, arbitrary: fc.constantFrom('', 'with space', 'bad\xff', 'ctl\x7f') },
      { weight: 1, arbitrary: fc.constantFrom('L'.repeat(71), 'L'.repeat(512), 'M'.repeat(513)) },
    );
    fc.assert(
      fc.property(fc.array(id, { maxLength: 60 }), fc.boolean(), (ids, shuffled) => {
        // Numbers 1..n, or a permutation (servers in the wild list out of order, too).
        const numbers = ids.map((_, i) => i + 1);
        if (shuffled) numbers.reverse();
        const lines = ids.map((uid, i) => [numbers[i]!, uid] as const);
        const listing = buildUidlListing(lines.map(([n, uid]) => b(`${n} ${uid}`)));
        expect(observed(listing)).toEqual(reference(lines));
      }),
      fuzzParams(500),
    );
  });

  it('keeps message numbers right when an entry set aside breaks the run 1..n', () => {
    const listing = buildUidlListing([b('1 a'), b('2 bad id'), b('3 c'), b('5 a')]);
    expect([0, 1, 2].map((i) => listing.numberAt(i))).toEqual([1, 3, 5]);
    expect([...listing.duplicates]).toEqual([['a', [1, 5]]]);
  });

  it('refuses entries out of range instead of reading past the listing', () => {
    const listing = buildUidlListing([b('1 a')]);
    for (const i of [-1, 1, 0.5, Number.NaN]) {
      expect(() => listing.uidAt(i)).toThrow(RangeError);
      expect(() => listing.numberAt(i)).toThrow(RangeError);
    }
    expect(listing.entries).toBe(listing.entries);
  });
});

describe('UIDL and LIST through the client', () => {
  it('ids split across received chunks, repeated, or holding the password: listed as they were sent', async () => {
    const uids = ['m1', 'shared', 'm3', 'shared', 'xsecretx', 'm6', 'shared'];
    const server = await fake({
      messages: uids.map((uid, i) => ({ uid, bytes: b(`Subject: ${i}\r\n\r\n${'x'.repeat(i * 10)}\r\n`) })),
      // Every boundary falls somewhere new: ids and line ends split between chunks.
      chunkSizes: [1, 3, 7, 2, 5],
    });
    const c = await openSession(opts(server));
    const [listing, sizes, list] = await Promise.all([c.uidl(), c.listSizes(), c.list()]);
    expect(listing.entries.map((e) => e.uid)).toEqual(['m1', 'shared', 'm3', 'shared', 'm6', 'shared']);
    expect([...listing.duplicates]).toEqual([['shared', [2, 4, 7]]]);
    expect(listing.invalid).toEqual([{ number: 5, reason: 'unique-id holds a credential of this session' }]);
    expect([...sizes]).toEqual(list.map((e) => [e.number, e.size]));
    expect(sizes.get(7)).toBe(list[6]!.size);
    await c.quit();
  });
});
