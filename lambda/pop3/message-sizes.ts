import { grown } from './grown';
import { NumberColumn } from './number-column';

/** Entries a MessageSizes has room for before it first grows. */
const INITIAL_ENTRIES = 64;

/**
 * A LIST reply as message number -> size, held in two typed arrays (a million entries cost
 * 16 MB, no object per entry). It reads like a ReadonlyMap: a number listed twice keeps
 * its last size, iteration follows the listing (first occurrence). Servers list 1..n in
 * ascending order; then a lookup is a direct index (or a binary search when numbers have
 * gaps). A listing out of order gets a Map, made on first lookup.
 */
export class MessageSizes implements ReadonlyMap<number, number> {
  private readonly numbers = new NumberColumn();
  private sizes = new Float64Array(INITIAL_ENTRIES);
  /** Numbers strictly ascending so far: no number repeats, lookups need no Map. */
  private ascending = true;
  private map: Map<number, number> | undefined;

  readonly [Symbol.toStringTag] = 'MessageSizes';

  /** Appends one LIST entry (only while the reply is read). */
  add(number: number, size: number): void {
    const i = this.numbers.length;
    if (i === this.sizes.length) this.sizes = grown(this.sizes);
    if (i > 0 && number <= this.numbers.at(i - 1)) this.ascending = false;
    this.numbers.push(number);
    this.sizes[i] = size;
    this.map = undefined;
  }

  get size(): number {
    return this.ascending ? this.numbers.length : this.asMap().size;
  }

  get(number: number): number | undefined {
    if (!this.ascending) return this.asMap().get(number);
    const i = this.indexOf(number);
    return i === -1 ? undefined : this.sizes[i];
  }

  has(number: number): boolean {
    return this.ascending ? this.indexOf(number) !== -1 : this.asMap().has(number);
  }

  forEach(callback: (size: number, number: number, map: ReadonlyMap<number, number>) => void, thisArg?: unknown): void {
    for (const [number, size] of this.entries()) callback.call(thisArg, size, number, this);
  }

  *entries(): MapIterator<[number, number]> {
    if (!this.ascending) return yield* this.asMap().entries();
    for (let i = 0; i < this.numbers.length; i++) yield [this.numbers.at(i), this.sizes[i]!];
    return undefined;
  }

  *keys(): MapIterator<number> {
    for (const [number] of this.entries()) yield number;
    return undefined;
  }

  *values(): MapIterator<number> {
    for (const [, size] of this.entries()) yield size;
    return undefined;
  }

  [Symbol.iterator](): MapIterator<[number, number]> {
    return this.entries();
  }

  /** Where `number` is in an ascending listing: at number - 1 when nothing is missing before it. */
  private indexOf(number: number): number {
    const count = this.numbers.length;
    if (this.numbers.isRun) return Number.isInteger(number) && number >= 1 && number <= count ? number - 1 : -1;
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.numbers.at(mid) < number) lo = mid + 1;
      else hi = mid;
    }
    return lo < count && this.numbers.at(lo) === number ? lo : -1;
  }

  private asMap(): Map<number, number> {
    if (this.map) return this.map;
    const map = new Map<number, number>();
    for (let i = 0; i < this.numbers.length; i++) map.set(this.numbers.at(i), this.sizes[i]!);
    this.map = map;
    return map;
  }
}

