import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdIndex, MAX_ID_INDEX_OCTETS, seededFnv1a, type ByteHash } from '../../lambda/pop3/id-index';
import { fuzzParams } from '../fuzz/fuzz-support';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Adds each id from a chunk of its own, as a listing does; returns the index. */
function indexOf(ids: readonly string[], hash?: ByteHash): IdIndex {
  const index = new IdIndex(hash);
  for (const id of ids) {
    const chunk = b(`1 ${id}\r\n`);
    index.add(chunk, 2, 2 + id.length);
  }
  return index;
}

/** What a Map says: for each id, the index of its first occurrence. */
function firstsByMap(ids: readonly string[]): number[] {
  const first = new Map<string, number>();
  return ids.map((id, i) => {
    if (!first.has(id)) first.set(id, i);
    return first.get(id)!;
  });
}

const constantHash: ByteHash = () => 7;
/** Equal for every id of the same length: distinct ids collide in whole runs. */
const lengthHash: ByteHash = (_bytes, start, end) => end - start;

describe('IdIndex', () => {
  it('finds the first occurrence of every repeated id, and reads ids back as they were listed', () => {
    const ids = ['abc', 'def', 'abc', 'ab', 'abcd', 'def', 'abc'];
    const index = indexOf(ids);
    expect(ids.map((_, i) => index.firstOf(i))).toEqual([0, 1, 0, 3, 4, 1, 0]);
    expect(ids.map((_, i) => index.stringAt(i))).toEqual(ids);
    expect(index.distinctCount).toBe(4);
    expect(index.find(b('def'))).toBe(1);
    expect(index.find(b('xabcx'), 1, 4)).toBe(0);
    expect(index.find(b('abcde'))).toBe(-1);
  });

  it('tells apart distinct ids whose hashes are equal (by their bytes)', () => {
    const ids = ['aa', 'bb', 'ab', 'aa', 'ba', 'bb'];
    const index = indexOf(ids, lengthHash);
    expect(ids.map((_, i) => index.firstOf(i))).toEqual(firstsByMap(ids));
    expect(index.find(b('ba'))).toBe(4);
    expect(index.find(b('cc'))).toBe(-1);
    expect(index.degraded).toBe(false);
  });

  it('grows its table as ids are added after it was asked about, and keeps every answer', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `id-${i % 3001}`);
    const index = new IdIndex();
    for (let i = 0; i < ids.length; i++) {
      const chunk = b(ids[i]!);
      index.add(chunk, 0, chunk.length);
      // Asking now and then indexes the ids added since: the table grows in steps.
      if (i % 97 === 0) expect(index.firstOf(i), ids[i]).toBe(i % 3001);
    }
    expect(ids.map((_, i) => index.firstOf(i))).toEqual(firstsByMap(ids));
    expect(index.distinctCount).toBe(3001);
  });

  it('moves to a Map when colliding ids spend the probe budget, and still answers like one', () => {
    // 20,000 distinct ids in one bucket would cost 2 * 10^8 probes; the budget stops that.
    const ids = Array.from({ length: 20_000 }, (_, i) => `u${i % 15_000}`);
    const index = indexOf(ids, constantHash);
    expect(index.firstOf(ids.length - 1)).toBe(4999);
    expect(index.degraded).toBe(true);
    expect(ids.map((_, i) => index.firstOf(i))).toEqual(firstsByMap(ids));
    expect(index.find(b('u14999'))).toBe(14_999);
    expect(index.find(b('u15000'))).toBe(-1);
    expect(index.distinctCount).toBe(15_000);
    // Ids added once it is a Map are indexed there.
    index.add(b('u3'), 0, 2);
    index.add(b('new'), 0, 3);
    expect([index.firstOf(20_000), index.firstOf(20_001)]).toEqual([3, 20_001]);
  });

  it('does not move to a Map for ids that merely share a prefix (the seeded hash spreads them)', () => {
    const ids = Array.from({ length: 200_000 }, (_, i) => `1a2b3c4d5e6f${i.toString(16).padStart(8, '0')}`);
    const index = indexOf(ids);
    expect(index.distinctCount).toBe(ids.length);
    expect(index.degraded).toBe(false);
  });

  it('holds ids by reference in the buffers they were given, across many buffers', () => {
    const index = new IdIndex();
    const chunks = [b('1 aaa\r\n2 bbb\r\n'), b('3 aaa\r\n'), b('4 ccc\r\n5 bbb\r\n')];
    const at: [number, number, number][] = [
      [0, 2, 5],
      [0, 9, 12],
      [1, 2, 5],
      [2, 2, 5],
      [2, 9, 12],
    ];
    for (const [c, start, end] of at) index.add(chunks[c]!, start, end);
    expect([0, 1, 2, 3, 4].map((i) => index.stringAt(i))).toEqual(['aaa', 'bbb', 'aaa', 'ccc', 'bbb']);
    expect([0, 1, 2, 3, 4].map((i) => index.firstOf(i))).toEqual([0, 1, 0, 3, 1]);
  });

  it('refuses an id longer than its length column holds', () => {
    const index = new IdIndex();
    const big = Buffer.alloc(MAX_ID_INDEX_OCTETS + 1, 0x61);
    expect(() => index.add(big, 0, big.length)).toThrow(RangeError);
    index.add(big, 1, big.length);
    expect(index.stringAt(0)).toHaveLength(MAX_ID_INDEX_OCTETS);
  });

  it('seededFnv1a: another seed, another hash; the same seed, the same hash', () => {
    const id = b('a-unique-id');
    expect(seededFnv1a(id, 0, id.length, 1)).toBe(seededFnv1a(id, 0, id.length, 1));
    expect(seededFnv1a(id, 0, id.length, 1)).not.toBe(seededFnv1a(id, 0, id.length, 2));
  });

  it('model: answers as a Map does, whatever the ids, the hash, and when it is asked', () => {
    const id = fc.stringMatching(/^[ab]{0,4}$/);
    const hashes = fc.constantFrom<ByteHash>(seededFnv1a, constantHash, lengthHash);
    const step = fc.oneof(id.map((s) => ({ add: s })), fc.nat().map((n) => ({ ask: n })));
    fc.assert(
      fc.property(hashes, fc.array(step, { maxLength: 200 }), (hash, steps) => {
        const index = new IdIndex(hash);
        const ids: string[] = [];
        for (const s of steps) {
          if ('add' in s) {
            ids.push(s.add);
            index.add(b(`+${s.add}`), 1, 1 + s.add.length);
          } else if (ids.length > 0) {
            const i = s.ask % ids.length;
            expect(index.firstOf(i)).toBe(ids.indexOf(ids[i]!));
            expect(index.find(b(ids[i]!))).toBe(ids.indexOf(ids[i]!));
          }
        }
        expect(ids.map((_, i) => index.firstOf(i))).toEqual(firstsByMap(ids));
        expect(ids.map((_, i) => index.stringAt(i))).toEqual(ids);
        expect(index.distinctCount).toBe(new Set(ids).size);
      }),
      fuzzParams(300),
    );
  });
});
