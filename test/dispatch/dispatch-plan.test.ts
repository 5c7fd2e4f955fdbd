/**
 * The dispatcher's decisions without I/O: which mailboxes are due in a window, how runs are
 * spread and packed, lateness and staleness. Seeded property tests over fleets, schedules
 * and clocks: consecutive ticks dispatch every slot exactly once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dispatchWindow, MAX_CATCH_UP_MS, TICK_MS } from '../../lambda/dispatch/dispatch-tick';
import { FleetSweep, LATE_GRACE_MS, isStale, lagMs } from '../../lambda/dispatch/fleet-sweep';
import { delayOf, packMessages, SPREAD_BUCKET_SECONDS } from '../../lambda/dispatch/pack-messages';
import type { FleetEntry } from '../../lambda/dispatch/registry-scan';
import { MAX_BATCH_MAILBOXES, parseWorkerEvent } from '../../lambda/handlers/worker-event';
import { ratePeriodMs, TimetableFactory } from '../../lambda/schedule/timetable';

const MINUTE = 60_000;
const SEED = 4_711;
const T0 = Date.UTC(2026, 10, 5, 12, 0, 0);
const SCHEDULES = ['rate(1 minute)', 'rate(2 minutes)', 'rate(5 minutes)', 'rate(15 minutes)', 'rate(1 hour)', 'cron(0/10 * * * ? *)', 'cron(7 * ? * MON-FRI *)'];

const entry = (id: string, schedule: string, fields: Partial<FleetEntry> = {}): FleetEntry => ({ id, schedule, enabled: true, createdAt: T0 - 86_400_000, ...fields });

function sweep(entries: FleetEntry[], from: number, to: number, now = from, stalePeriods = 3): ReturnType<FleetSweep['result']> {
  const s = new FleetSweep({ window: { from, to }, now, stalePeriods, timetables: new TimetableFactory() });
  for (const e of entries) s.add(e);
  return s.result();
}

describe('due runs over consecutive ticks', () => {
  it('every slot of every enabled mailbox is dispatched exactly once, inside its window', () => {
    const fleet = fc.uniqueArray(fc.record({ id: fc.stringMatching(/^[a-z0-9]{1,12}$/), schedule: fc.constantFrom(...SCHEDULES) }), { minLength: 1, maxLength: 40, selector: (m) => m.id });
    fc.assert(
      fc.property(fleet, fc.integer({ min: 0, max: 7 * 24 * 60 }), fc.integer({ min: 0, max: 59_999 }), (mailboxes, startMinute, jitter) => {
        const timetables = new TimetableFactory();
        const dispatched = new Map<string, number[]>();
        let cursor: number | undefined;
        const hour = 60;
        for (let tick = 0; tick < hour; tick++) {
          // Ticks come a little after the minute (jitter), as Scheduler delivers them.
          const now = T0 + (startMinute + tick) * MINUTE + (jitter % 10_000);
          const window = dispatchWindow(cursor, now);
          for (const run of sweep(mailboxes.map((m) => entry(m.id, m.schedule)), window.from, window.to, now).due) {
            expect(run.slotMs).toBeGreaterThanOrEqual(window.from);
            expect(run.slotMs).toBeLessThan(window.to);
            dispatched.set(run.id, [...(dispatched.get(run.id) ?? []), run.slotMs]);
          }
          cursor = window.to;
        }
        for (const m of mailboxes) {
          const slots = dispatched.get(m.id) ?? [];
          const tt = timetables.for(m.schedule, m.id);
          // Exactly the slots in the covered span, each once.
          const from = dispatchWindow(undefined, T0 + startMinute * MINUTE + (jitter % 10_000)).from;
          const expected: number[] = [];
          for (let s = tt.next(from); s !== undefined && s < cursor!; s = tt.next(s + 1)) expected.push(s);
          expect(slots).toEqual(expected);
          const period = ratePeriodMs(m.schedule);
          if (period !== undefined) expect(slots.length).toBe((hour * MINUTE) / period);
        }
      }),
      { seed: SEED, numRuns: 25 },
    );
  });

  it('a missed tick is caught up once per mailbox, not once per missed slot; a window never reaches back more than a day', () => {
    const fleet = [entry('every-minute', 'rate(1 minute)'), entry('five', 'rate(5 minutes)'), entry('off', 'rate(1 minute)', { enabled: false })];
    const window = dispatchWindow(T0, T0 + 10 * MINUTE + 3_000);
    expect(window).toEqual({ from: T0, to: T0 + 11 * MINUTE });
    const due = sweep(fleet, window.from, window.to, T0 + 10 * MINUTE + 3_000).due;
    expect(due.map((d) => d.id).sort()).toEqual(['every-minute', 'five']);
    expect(dispatchWindow(T0 - 3 * MAX_CATCH_UP_MS, T0).from).toBe(T0 + TICK_MS - MAX_CATCH_UP_MS);
    expect(dispatchWindow(T0 + TICK_MS, T0 + 5_000)).toEqual({ from: T0 + TICK_MS, to: T0 + TICK_MS }); // covered: empty
  });
});

describe('spreading and packing', () => {
  it('delays follow each mailbox offset (no herd), packs ≤ N per message, every id once, bodies are valid worker events', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000 }), fc.integer({ min: 1, max: MAX_BATCH_MAILBOXES }), (count, perMessage) => {
        const now = T0 + 2_000;
        const fleet = Array.from({ length: count }, (_, i) => entry(`m${i}`, 'rate(1 minute)'));
        const { due } = sweep(fleet, T0, T0 + MINUTE, now);
        expect(due).toHaveLength(count);
        const messages = packMessages(due, now, perMessage);
        const ids = messages.flatMap((m) => m.mailboxIds);
        expect(new Set(ids).size).toBe(count);
        expect(ids).toHaveLength(count);
        for (const m of messages) {
          expect(m.mailboxIds.length).toBeLessThanOrEqual(perMessage);
          const event = parseWorkerEvent(JSON.parse(m.body));
          expect(event.mailboxIds).toEqual(m.mailboxIds);
          expect(event.dueAtMs).toBeDefined();
          // The message goes when its earliest run is due; the others within one bucket.
          const slots = m.mailboxIds.map((id) => due.find((d) => d.id === id)!.slotMs);
          expect(event.dueAtMs).toBe(Math.max(...slots));
          expect(m.delaySeconds).toBe(Math.min(...slots.map((slot) => delayOf(slot, now))));
          for (const slot of slots) expect(delayOf(slot, now) - m.delaySeconds).toBeLessThan(SPREAD_BUCKET_SECONDS);
        }
      }),
      { seed: SEED, numRuns: 30 },
    );
  });

  it('spreads 3,000 mailboxes on rate(1 minute) over the minute: no 5-second bucket holds more than twice its share', () => {
    const now = T0;
    const fleet = Array.from({ length: 3_000 }, (_, i) => entry(`box-${i}`, 'rate(1 minute)'));
    const messages = packMessages(sweep(fleet, T0, T0 + MINUTE, now).due, now, 10);
    const perBucket = new Map<number, number>();
    for (const m of messages) perBucket.set(Math.floor(m.delaySeconds / SPREAD_BUCKET_SECONDS), (perBucket.get(Math.floor(m.delaySeconds / SPREAD_BUCKET_SECONDS)) ?? 0) + m.mailboxIds.length);
    expect(perBucket.size).toBe(60 / SPREAD_BUCKET_SECONDS);
    for (const n of perBucket.values()) expect(n).toBeLessThan((2 * 3_000) / perBucket.size);
    expect(messages.length).toBeLessThan(3_000 / 10 + perBucket.size);
  });

  it("packs a host's mailboxes together, so the worker reuses one session slot for them", () => {
    const now = T0;
    const runs = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => ({ id, host: i % 2 === 0 ? 'pop.one.example' : 'pop.two.example', slotMs: T0 + 1_000 }));
    expect(packMessages(runs, now, 3).map((m) => m.mailboxIds)).toEqual([
      ['a', 'c', 'e'],
      ['b', 'd', 'f'],
    ]);
  });

  it('slots a minute or more in the past keep their second of the minute; fresh ones go at once', () => {
    expect(delayOf(T0 + 17_000, T0)).toBe(17);
    expect(delayOf(T0 - 2_000, T0)).toBe(0);
    expect(delayOf(T0 - 10 * MINUTE + 17_000, T0)).toBe(17);
  });
});

describe('lateness and staleness', () => {
  const tt = new TimetableFactory().for('rate(5 minutes)', 'late-box');
  const lastSlot = tt.prev(T0)!;

  it('a mailbox is late when its first slot after the last run passed more than the grace ago', () => {
    const ranAfterSlot = entry('late-box', 'rate(5 minutes)', { lastRunAt: lastSlot + 1_000 });
    expect(lagMs(ranAfterSlot, tt, lastSlot + 5 * MINUTE + LATE_GRACE_MS - 1)).toBeUndefined();
    expect(lagMs(ranAfterSlot, tt, lastSlot + 5 * MINUTE + LATE_GRACE_MS + 1_000)).toBe(LATE_GRACE_MS + 1_000);
    // Never ran: counted from its creation.
    const fresh = entry('late-box', 'rate(5 minutes)', { createdAt: lastSlot - 1 });
    expect(lagMs(fresh, tt, lastSlot + 30_000)).toBeUndefined();
    expect(lagMs(fresh, tt, lastSlot + LATE_GRACE_MS + 60_000)).toBe(LATE_GRACE_MS + 60_000);
  });

  it('stale after N periods without a success, counted from its own schedule', () => {
    const now = lastSlot + LATE_GRACE_MS + 1_000;
    const succeeded = (ago: number): FleetEntry => entry('late-box', 'rate(5 minutes)', { lastSuccessAt: lastSlot - ago, lastRunAt: now - 1_000 });
    expect(isStale(succeeded(0), tt, now, 3)).toBe(false); // the last slot's run succeeded
    expect(isStale(succeeded(2 * 5 * MINUTE - 1_000), tt, now, 3)).toBe(false); // just after the 3rd last slot
    expect(isStale(succeeded(2 * 5 * MINUTE + 1_000), tt, now, 3)).toBe(true);
    expect(isStale(entry('new', 'rate(5 minutes)', { createdAt: now - 1_000 }), tt, now, 3)).toBe(false);
    expect(isStale(entry('never', 'rate(5 minutes)', { createdAt: undefined }), tt, now, 3)).toBe(true);
  });

  it('the sweep counts late, stale, disabled and unschedulable mailboxes and names the worst late ones', () => {
    const now = T0 + 30 * MINUTE;
    const result = sweep(
      [
        entry('ok', 'rate(5 minutes)', { lastRunAt: now - 1_000, lastSuccessAt: now - 1_000 }),
        entry('late-a', 'rate(5 minutes)', { lastRunAt: now - 20 * MINUTE, lastSuccessAt: now - 20 * MINUTE }),
        entry('late-b', 'rate(1 minute)', { lastRunAt: now - 6 * MINUTE, lastSuccessAt: now - 6 * MINUTE }),
        entry('off', 'rate(1 minute)', { enabled: false }),
        entry('broken', 'cron(0 * * * * *)'),
      ],
      now,
      now + MINUTE,
      now,
    );
    expect(result).toMatchObject({ enabled: 4, disabled: 1, unschedulable: ['broken'], late: 2, stale: 2 });
    expect(result.worstLate.map((l) => l.id)).toEqual(['late-a', 'late-b']);
    expect(result.maxLagSeconds).toBe(result.worstLate[0]!.lagSeconds);
  });
});

describe("a server's LOGIN-DELAY (RFC 2449)", () => {
  /** A run logs in this long after it is dispatched, and ends this long after that. */
  const LOGIN_AFTER_MS = 2_000;
  const RUN_MS = 3_000;

  /**
   * Ticks every minute for `minutes`; each dispatched run logs in and records the delay as
   * the worker does (nextLoginAt = its login + the delay). Returns the runs' login times and
   * the ticks' late/stale/waiting counts.
   */
  function simulate(schedule: string, delayMs: number, minutes: number, start: number): { logins: number[]; late: number; stale: number; waiting: number } {
    let box = entry('slow-server', schedule, { createdAt: start - 1 });
    let cursor: number | undefined;
    const logins: number[] = [];
    const totals = { late: 0, stale: 0, waiting: 0 };
    for (let tick = 0; tick < minutes; tick++) {
      const now = start + tick * MINUTE + 1_500;
      const window = dispatchWindow(cursor, now);
      cursor = window.to;
      const result = sweep([box], window.from, window.to, now);
      totals.late += result.late;
      totals.stale += result.stale;
      totals.waiting += result.waitingForLoginDelay;
      for (const run of result.due) {
        const login = run.slotMs + LOGIN_AFTER_MS;
        logins.push(login);
        const ended = login + RUN_MS;
        box = { ...box, lastRunAt: ended, lastSuccessAt: ended, nextLoginAt: login + delayMs, loginDelayMs: delayMs };
      }
    }
    return { logins, ...totals };
  }

  it('no login comes before the delay the last run recorded; the mailbox runs as often as the server allows; never late nor stale', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('rate(1 minute)', 'rate(2 minutes)', 'rate(5 minutes)', 'cron(0/10 * * * ? *)'),
        fc.integer({ min: 1_000, max: 60 * MINUTE }),
        fc.integer({ min: 0, max: 7 * 24 * 60 }),
        (schedule, delayMs, startMinute) => {
          const { logins, late, stale } = simulate(schedule, delayMs, 4 * 60, T0 + startMinute * MINUTE);
          const period = ratePeriodMs(schedule) ?? 10 * MINUTE;
          for (let i = 1; i < logins.length; i++) {
            const gap = logins[i]! - logins[i - 1]!;
            expect(gap).toBeGreaterThanOrEqual(delayMs);
            // As soon as allowed: at the delay's end when a slot waited for it, else at the next slot.
            expect(gap).toBeLessThanOrEqual(Math.max(delayMs, period + RUN_MS) + LOGIN_AFTER_MS);
          }
          expect(logins.length).toBeGreaterThanOrEqual(Math.floor((4 * 60 * MINUTE) / (Math.max(delayMs, period + RUN_MS) + LOGIN_AFTER_MS)));
          expect(late).toBe(0);
          expect(stale).toBe(0);
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('every 5 minutes against LOGIN-DELAY 900: one run per 15 minutes (at the delay\'s end), the slots between waiting', () => {
    const { logins, waiting, late, stale } = simulate('rate(5 minutes)', 900_000, 2 * 60, T0);
    const gaps = logins.slice(1).map((t, i) => t - logins[i]!);
    for (const gap of gaps) expect(gap).toBe(900_000 + LOGIN_AFTER_MS);
    // Two slots between runs wait (three when the delay ends just past the minute of the third).
    expect(waiting).toBeGreaterThanOrEqual(2 * (logins.length - 1));
    expect(waiting).toBeLessThanOrEqual(3 * (logins.length - 1));
    expect({ late, stale }).toEqual({ late: 0, stale: 0 });
  });

  it('a delay shorter than the period changes nothing: every slot runs', () => {
    const { logins } = simulate('rate(5 minutes)', 10_000, 60, T0);
    expect(logins).toHaveLength(12);
  });
});
