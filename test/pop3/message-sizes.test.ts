import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageSizes } from '../../lambda/pop3/message-sizes';
import { NumberColumn } from '../../lambda/pop3/number-column';
import { fuzzParams } from '../fuzz/fuzz-support';

function sizesOf(entries: readonly (readonly [number, number])[]): MessageSizes {
  const sizes = new MessageSizes();
  for (const [n, s] of entries) sizes.add(n, s);
  return sizes;
}

/** Everything a ReadonlyMap reader can see. */
function view(map: ReadonlyMap<number, number>, probes: readonly number[]): unknown {
  const forEach: [number, number][] = [];
  map.forEach((size, number, self) => {
    expect(self).toBe(map);
    forEach.push([number, size]);
  });
  return {
    size: map.size,
    entries: [...map.entries()],
    iterated: [...map],
    keys: [...map.keys()],
    values: [...map.values()],
    forEach,
    got: probes.map((n) => [map.get(n), map.has(n)]),
  };
}

describe('MessageSizes', () => {
  it('answers like a Map for a listing 1..n, one with gaps, and one out of order with a repeated number', () => {
    const listings: [number, number][][] = [
      [
        [1, 100],
        [2, 200],
        [3, 300],
      ],
      [
        [2, 200],
        [5, 500],
        [9, 900],
      ],
      [
        [3, 300],
        [1, 100],
        [3, 333],
        [2, 200],
      ],
    ];
    for (const entries of listings) {
      const probes = [0, 1, 2, 3, 4, 5, 9, 10, 2.5, -1];
      expect(view(sizesOf(entries), probes), JSON.stringify(entries)).toEqual(view(new Map(entries), probes));
    }
  });

  it('keeps sizes beyond 32 bits exactly', () => {
    const sizes = sizesOf([
      [1, 999_999_999_999_999],
      [2, 0],
    ]);
    expect(sizes.get(1)).toBe(999_999_999_999_999);
  });

  it('grows past its first arrays', () => {
    const entries = Array.from({ length: 1000 }, (_, i) => [i + 1, i * 7] as [number, number]);
    const sizes = sizesOf(entries);
    expect(sizes.size).toBe(1000);
    expect(sizes.get(1000)).toBe(999 * 7);
    expect([...sizes.values()]).toEqual(entries.map(([, s]) => s));
  });

  it('model: answers as a Map does, whatever the numbers and their order', () => {
    const entry = fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 1e9 }));
    const ascending = fc.uniqueArray(entry, { selector: ([n]) => n, maxLength: 40 }).map((a) => a.sort(([x], [y]) => x - y));
    fc.assert(
      fc.property(fc.oneof(ascending, fc.array(entry, { maxLength: 40 })), fc.array(fc.integer({ min: -1, max: 42 }), { maxLength: 10 }), (entries, probes) => {
        expect(view(sizesOf(entries), probes)).toEqual(view(new Map(entries), probes));
      }),
      fuzzParams(300),
    );
  });
});

describe('NumberColumn', () => {
  it('holds 1..n without an array, and every number once the run breaks', () => {
    const column = new NumberColumn();
    for (let n = 1; n <= 100; n++) column.push(n);
    expect(column.isRun).toBe(true);
    column.push(102);
    column.push(101);
    expect(column.isRun).toBe(false);
    expect(column.length).toBe(102);
    expect(Array.from({ length: 102 }, (_, i) => column.at(i))).toEqual([...Array.from({ length: 100 }, (_, i) => i + 1), 102, 101]);
  });

  it('a column that starts off the run keeps its numbers from the first', () => {
    const column = new NumberColumn();
    for (const n of [5, 6, 7_000_000_000]) column.push(n);
    expect([column.at(0), column.at(1), column.at(2), column.isRun]).toEqual([5, 6, 7_000_000_000, false]);
  });
});
