/**
 * The progress line: fetched of new with the percent done, bytes, rate and time left once a
 * rate is measurable; redrawn in place on a terminal, a plain line now and then elsewhere.
 */
import { describe, expect, it } from 'vitest';
import type { OutputStream } from '../../lambda/cli/cli-io';
import { createProgress } from '../../lambda/cli/progress-display';

function output(isTTY: boolean): OutputStream & { text: string } {
  const out = { text: '', isTTY, columns: 200, write: (t: string): void => void (out.text += t) };
  return out;
}

/** The lines a terminal shows: each redraw starts with the clear-line sequence. */
const redraws = (text: string): string[] => text.split('\r\u001b[2K').filter((l) => l !== '');

describe('progress display', () => {
  it('on a terminal: percent, rate and time left at the message rate so far; the last message is always drawn', () => {
    let now = 0;
    const out = output(true);
    const progress = createProgress(out, () => now);

    progress.start('box', 'fetching');
    now += 100;
    progress.stored({ size: 1_000, newInSession: 4 });
    for (let i = 2; i <= 4; i++) {
      now += 1_000;
      progress.stored({ size: 1_000, newInSession: 4 });
    }
    progress.end();

    expect(redraws(out.text)).toEqual([
      'box: fetching...',
      // Under the 500 ms a rate needs: no rate, no time left.
      'box: fetched 1 of 4 new (25 %), 1000 B',
      'box: fetched 2 of 4 new (50 %), 2.0 KiB, 1.8 KiB/s, about 1.1 s left',
      'box: fetched 3 of 4 new (75 %), 2.9 KiB, 1.4 KiB/s, about 700 ms left',
      'box: fetched 4 of 4 new (100 %), 3.9 KiB, 1.3 KiB/s',
    ]);
  });

  it('elsewhere: a plain line at most every 5 s (the first message, 100 ms in, shows none)', () => {
    let now = 0;
    const out = output(false);
    const progress = createProgress(out, () => now);

    progress.start('box', 'fetching');
    now += 100;
    progress.stored({ size: 10, newInSession: 10 });
    now += 5_000;
    progress.stored({ size: 10, newInSession: 10 });

    expect(out.text.split('\n').filter(Boolean)).toEqual(['box: fetched 2 of 10 new (20 %), 20 B, 4 B/s, about 20.4 s left']);
  });
});
