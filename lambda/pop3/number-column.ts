import { grown } from './grown';

/** Numbers a column has room for once it first needs an array. */
const INITIAL_NUMBERS = 64;

/**
 * The message numbers of a listing, in listing order. Servers list 1..n: while the numbers
 * are exactly that run the column holds no array at all; the first number that breaks it
 * (a gap, disorder) makes it keep every number (up to 10 digits: beyond 32 bits).
 */
export class NumberColumn {
  private values: Float64Array<ArrayBuffer> | undefined;
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** Whether the numbers are exactly 1..length. */
  get isRun(): boolean {
    return this.values === undefined;
  }

  push(n: number): void {
    const i = this.count;
    if (this.values === undefined) {
      if (n === i + 1) {
        this.count = i + 1;
        return;
      }
      this.values = new Float64Array(Math.max(INITIAL_NUMBERS, 2 * i));
      for (let k = 0; k < i; k++) this.values[k] = k + 1;
    }
    if (i === this.values.length) this.values = grown(this.values);
    this.values[i] = n;
    this.count = i + 1;
  }

  /** Number `i` (0-based; `i` below `length`). */
  at(i: number): number {
    return this.values === undefined ? i + 1 : this.values[i]!;
  }
}
