/** The engine's FIFO against an array doing the same, over seeded random pushes and shifts across its compactions. */
import { describe, expect, it } from 'vitest';
import { Fifo } from '../../lambda/pop3/fifo';

/** xorshift32: the same sequence for a seed. */
function prng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('Fifo', () => {
  for (const seed of [1, 7, 42, 2026]) {
    it(`behaves as an array's push and shift (seed ${seed}), long runs included`, () => {
      const random = prng(seed);
      const fifo = new Fifo<number>();
      const model: number[] = [];
      let next = 0;
      for (let step = 0; step < 20_000; step++) {
        // Bursts of pushes, then of shifts: the queue grows past the compaction threshold and empties.
        const pushing = Math.floor(step / 3_000) % 2 === 0 ? random() < 0.7 : random() < 0.3;
        if (pushing) {
          fifo.push(next);
          model.push(next++);
        } else {
          expect(fifo.shift()).toBe(model.shift());
        }
        expect(fifo.length).toBe(model.length);
        if (step % 4_999 === 0) {
          expect(fifo.takeAll()).toEqual(model.splice(0));
          expect(fifo.length).toBe(0);
        }
      }
      expect(fifo.takeAll()).toEqual(model);
      expect(fifo.shift()).toBeUndefined();
    });
  }
});
