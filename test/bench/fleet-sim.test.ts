/**
 * The fleet simulation at a small count (the figures are for `npm run sim:fleet`; this
 * checks the behaviour it relies on): every enabled mailbox checked exactly once per
 * sweep, no run busy or failed, the mail delivered before the second sweep stored and
 * nothing else fetched, and an idle check no dearer than its lease and health writes.
 */
import { describe, expect, it } from 'vitest';
import { perCheck } from '../../bench/fleet-sim-figures';
import { runFleetSim } from '../../bench/fleet-sim-run';

describe('fleet simulation (50 mailboxes)', () => {
  it('checks every mailbox once per sweep, stores exactly the new mail, and an idle check writes only its lease, slot share and health', async () => {
    const result = await runFleetSim({ mailboxes: 50, mailPercent: 10, mailboxesPerMessage: 10, maxConcurrency: 3, seed: 7 });

    expect(result.problems).toEqual([]);
    for (const sweep of [result.baseline, result.idle, result.mail]) {
      expect(sweep.runs).toHaveLength(50);
      expect(new Set(sweep.runs.map((r) => r.mailbox)).size).toBe(50);
      expect(sweep.runs.every((r) => r.status === 'ok')).toBe(true);
    }
    expect(Object.keys(result.delivered)).toHaveLength(5);
    expect(result.stored).toEqual(result.delivered);
    const idle = perCheck(result.idle);
    expect(idle.s3Requests).toEqual({});
    // An idle check's writes: its lease (put, delete), its health (update) and its lane's
    // host slot (a Query, then a put and a delete); no summary rewrite, nothing else.
    const ops = idle.dynamoRequests;
    expect(ops.UpdateItem).toBe(1);
    const slotTakes = ops.Query ?? 0;
    expect(ops.PutItem).toBeCloseTo(1 + slotTakes, 5);
    expect(ops.DeleteItem).toBeCloseTo(1 + slotTakes, 5);
    expect(Object.keys(ops).sort()).toEqual(['DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem']);
    expect(idle.writeUnits).toBeCloseTo(3 + 2 * slotTakes, 1);
    expect(idle.pop3Sessions).toBe(1);
  }, 240_000);
});
