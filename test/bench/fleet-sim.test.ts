/**
 * The fleet simulation at a small count (the figures are for `npm run sim:fleet`; this
 * checks the behaviour it relies on): every enabled mailbox checked exactly once per
 * sweep, no run busy or failed, the mail delivered before the second sweep stored and
 * nothing else fetched, one Mail Stored event per stored message, and an idle check no
 * dearer than its lease and health writes.
 */
import { describe, expect, it } from 'vitest';
import { perCheck } from '../../bench/fleet-sim-figures';
import { runFleetSim } from '../../bench/fleet-sim-run';

describe('fleet simulation (50 mailboxes)', () => {
  it('checks every mailbox once per sweep, stores exactly the new mail with one event each, and an idle check writes only its lease, slot share and health', async () => {
    const result = await runFleetSim({ mailboxes: 50, mailPercent: 10, mailboxesPerMessage: 10, maxConcurrency: 3, seed: 7 });

    expect(result.problems).toEqual([]);
    for (const sweep of [result.baseline, result.idle, result.mail]) {
      expect(sweep.runs).toHaveLength(50);
      expect(new Set(sweep.runs.map((r) => r.mailbox)).size).toBe(50);
      expect(sweep.runs.every((r) => r.status === 'ok')).toBe(true);
    }
    expect(Object.keys(result.delivered)).toHaveLength(5);
    expect(result.stored).toEqual(result.delivered);
    const delivered = Object.values(result.delivered).reduce((a, b) => a + b, 0);
    expect(result.mail.putEvents.events).toBe(delivered);
    const idle = perCheck(result.idle);
    expect(idle.s3Requests).toEqual({});
    expect(idle.putEvents).toEqual({ requests: 0, events: 0 });
    // An idle check's writes: its lease (put, delete), its health (update) and its lane's
    // host slot (a Query, then a put, and a delete); a put can also lose a race for a slot
    // (a failed condition). No summary rewrite, no outbox write, nothing else. Every run
    // also Queries its (empty) event outbox: half a read unit.
    const ops = idle.dynamoRequests;
    const slotReads = (ops.Query ?? 0) - 1;
    expect(slotReads).toBeGreaterThanOrEqual(0);
    expect(idle.estimatedReadUnits).toBeGreaterThanOrEqual(0.5);
    const lostRaces = idle.estimatedWriteUnits;
    expect(ops.UpdateItem).toBe(1);
    expect(ops.PutItem).toBeGreaterThanOrEqual(1);
    expect(ops.PutItem!).toBeLessThanOrEqual(1 + slotReads + lostRaces + 1e-9);
    expect(ops.DeleteItem!).toBeLessThanOrEqual(1 + slotReads + 1e-9);
    expect(Object.keys(ops).sort()).toEqual(['DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem']);
    expect(idle.writeUnits).toBeLessThanOrEqual(3 + 2 * slotReads + lostRaces + 1e-9);
    expect(idle.pop3Sessions).toBe(1);
  }, 240_000);
});
