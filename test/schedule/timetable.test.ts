/**
 * Schedule evaluation for the dispatcher: rate slots with per-mailbox offsets, the cron
 * parser against AWS's syntax, and the field-skipping cron search checked against a
 * minute-by-minute brute force over seeded random expressions and clocks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cronMatches, parseCron } from '../../lambda/schedule/cron-expression';
import { searchCron } from '../../lambda/schedule/cron-search';
import { ScheduleErrorCode } from '../../lambda/schedule/schedule-error';
import { TimetableFactory, ratePeriodMs, stableOffset } from '../../lambda/schedule/timetable';
import { wallClock, wallFields } from '../../lambda/schedule/wall-clock';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SEED = 20_261_105;
/** 2026-01-01T00:00:00Z to 2028-12-31: clocks the property tests draw from. */
const CLOCK = fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2028, 11, 31) });

describe('rate timetables', () => {
  const factory = new TimetableFactory();

  it('reads the period of rate expressions', () => {
    expect(ratePeriodMs('rate(1 minute)')).toBe(MINUTE);
    expect(ratePeriodMs('rate(5 minutes)')).toBe(5 * MINUTE);
    expect(ratePeriodMs('rate(2 hours)')).toBe(2 * HOUR);
    expect(ratePeriodMs('rate(1 day)')).toBe(DAY);
    expect(ratePeriodMs('cron(0 * * * ? *)')).toBeUndefined();
  });

  it('slots are one period apart, at the mailbox offset, and next/prev bracket any time', () => {
    const expression = fc.constantFrom('rate(1 minute)', 'rate(5 minutes)', 'rate(7 minutes)', 'rate(1 hour)', 'rate(3 hours)', 'rate(1 day)');
    fc.assert(
      fc.property(expression, fc.string({ minLength: 1, maxLength: 20 }), CLOCK, (expr, id, t) => {
        const period = ratePeriodMs(expr)!;
        const tt = factory.for(expr, id);
        const next = tt.next(t)!;
        const prev = tt.prev(t)!;
        expect(next).toBeGreaterThanOrEqual(t);
        expect(next - t).toBeLessThan(period);
        expect(prev).toBeLessThanOrEqual(t);
        expect(t - prev).toBeLessThan(period);
        expect((((next - tt.offsetMs) % period) + period) % period).toBe(0);
        expect(tt.next(prev)).toBe(prev);
        expect(tt.offsetMs % 1000).toBe(0);
        expect(tt.offsetMs).toBeLessThan(period);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('spreads a fleet on one expression over the period (no herd at the top of the minute)', () => {
    const ids = Array.from({ length: 3_000 }, (_, i) => `mbx-${i}`);
    const seconds = ids.map((id) => factory.for('rate(1 minute)', id).offsetMs / 1000);
    const perSecond = new Array<number>(60).fill(0);
    for (const s of seconds) perSecond[s]! += 1;
    // 50 per second on average; a hash keeps every second within a factor of 2.
    expect(Math.max(...perSecond)).toBeLessThan(100);
    expect(Math.min(...perSecond)).toBeGreaterThan(20);
    // Stable: the same id always lands on the same second.
    expect(factory.for('rate(1 minute)', 'mbx-7').offsetMs).toBe(new TimetableFactory().for('rate(1 minute)', 'mbx-7').offsetMs);
    expect(stableOffset('support', 300)).toBe(stableOffset('support', 300));
  });
});

describe('cron parsing', () => {
  const at = (y: number, mo: number, d: number, h = 0, mi = 0): ReturnType<typeof wallFields> => wallFields(Date.UTC(y, mo - 1, d, h, mi));

  it('accepts AWS syntax: lists, ranges, steps, names, L, W, #', () => {
    const weekdays = parseCron('cron(0/15 9-17 ? * MON-FRI *)');
    expect(cronMatches(weekdays, at(2026, 11, 6, 9, 45))).toBe(true); // a Friday
    expect(cronMatches(weekdays, at(2026, 11, 7, 9, 45))).toBe(false); // Saturday
    expect(cronMatches(weekdays, at(2026, 11, 6, 18, 0))).toBe(false);
    const lastDay = parseCron('cron(0 0 L * ? *)');
    expect(cronMatches(lastDay, at(2028, 2, 29))).toBe(true);
    expect(cronMatches(lastDay, at(2027, 2, 28))).toBe(true);
    expect(cronMatches(lastDay, at(2027, 2, 27))).toBe(false);
    const firstMonday = parseCron('cron(30 6 ? JAN,JUL 2#1 2026-2027)');
    expect(cronMatches(firstMonday, at(2026, 7, 6, 6, 30))).toBe(true);
    expect(cronMatches(firstMonday, at(2026, 7, 13, 6, 30))).toBe(false);
    expect(cronMatches(firstMonday, at(2028, 1, 3, 6, 30))).toBe(false); // year out of range
    const lastFriday = parseCron('cron(0 12 ? * 6L *)');
    expect(cronMatches(lastFriday, at(2026, 11, 27, 12))).toBe(true);
    expect(cronMatches(lastFriday, at(2026, 11, 20, 12))).toBe(false);
    // 15W: 2026-11-15 is a Sunday, so the nearest weekday is Monday the 16th.
    const nearWeekday = parseCron('cron(0 8 15W * ? *)');
    expect(cronMatches(nearWeekday, at(2026, 11, 16, 8))).toBe(true);
    expect(cronMatches(nearWeekday, at(2026, 11, 15, 8))).toBe(false);
  });

  it('refuses what EventBridge refuses, with a typed error naming the field', () => {
    const problem = (expr: string): unknown => {
      try {
        parseCron(expr);
        return undefined;
      } catch (err) {
        return { code: (err as { code: string }).code, message: (err as Error).message };
      }
    };
    expect(problem('cron(0 * * * * *)')).toMatchObject({ code: ScheduleErrorCode.INVALID_SCHEDULE, message: expect.stringContaining('"?"') });
    expect(problem('cron(61 * * * ? *)')).toMatchObject({ message: expect.stringContaining('minutes: "61"') });
    expect(problem('cron(0 5-2 * * ? *)')).toMatchObject({ message: expect.stringContaining('backwards') });
    expect(problem('cron(0 * ? * FOO *)')).toMatchObject({ message: expect.stringContaining('day-of-week') });
    expect(problem('cron(0 * * * ?)')).toMatchObject({ message: expect.stringContaining('6 fields') });
  });
});

describe('cron search', () => {
  const MINUTE_FIELDS = ['*', '0', '*/15', '5/20', '10-20', '0,30', '59'];
  const HOUR_FIELDS = ['*', '9-17', '0', '*/6', '23'];
  const DAY_FIELDS: [string, string][] = [
    ['*', '?'],
    ['?', 'MON-FRI'],
    ['L', '?'],
    ['15W', '?'],
    ['LW', '?'],
    ['?', '6L'],
    ['?', '2#1'],
    ['1,15', '?'],
    ['?', 'SUN'],
  ];
  const MONTH_FIELDS = ['*', 'JAN,JUL', '2-4', '*/5'];
  const cron = fc
    .tuple(fc.constantFrom(...MINUTE_FIELDS), fc.constantFrom(...HOUR_FIELDS), fc.constantFrom(...DAY_FIELDS), fc.constantFrom(...MONTH_FIELDS))
    .map(([mi, h, [dom, dow], mo]) => `cron(${mi} ${h} ${dom} ${mo} ${dow} *)`);

  /** The first matching minute by walking every minute, up to `limitMinutes`. */
  function bruteForce(expr: string, from: number, direction: 1 | -1, limitMinutes: number): number | undefined {
    const spec = parseCron(expr);
    let t = direction === 1 ? Math.ceil(from / MINUTE) * MINUTE : Math.floor(from / MINUTE) * MINUTE;
    for (let i = 0; i < limitMinutes; i++, t += direction * MINUTE) if (cronMatches(spec, wallFields(t))) return t;
    return undefined;
  }

  it('finds the same next and previous minute as a brute-force walk (UTC)', () => {
    // Five months of minutes covers every expression above ('*/5' months: January and June).
    const limit = 155 * 24 * 60;
    fc.assert(
      fc.property(cron, CLOCK, fc.constantFrom<1 | -1>(1, -1), (expr, t, direction) => {
        const expected = bruteForce(expr, t, direction, limit);
        const found = searchCron(parseCron(expr), t, direction);
        if (expected === undefined) expect(Math.abs((found ?? Infinity) - t)).toBeGreaterThanOrEqual(limit * MINUTE);
        else expect(found).toBe(expected);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('cron timetables fire in the minute they name, shifted by the mailbox offset (< 60 s)', () => {
    const factory = new TimetableFactory();
    fc.assert(
      fc.property(cron, fc.string({ minLength: 1, maxLength: 12 }), CLOCK, (expr, id, t) => {
        const tt = factory.for(expr, id);
        const next = tt.next(t);
        const prev = tt.prev(t);
        if (next !== undefined) {
          expect(next).toBeGreaterThanOrEqual(t);
          expect(cronMatches(parseCron(expr), wallFields(next - tt.offsetMs))).toBe(true);
        }
        if (prev !== undefined) expect(prev).toBeLessThanOrEqual(t);
        expect(tt.offsetMs).toBeLessThan(MINUTE);
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('evaluates cron in the dispatcher time zone, following daylight saving time', () => {
    const berlin = new TimetableFactory('Europe/Berlin').for('cron(0 9 * * ? *)', 'x');
    const winter = berlin.next(Date.UTC(2026, 0, 10, 0, 0))! - berlin.offsetMs;
    const summer = berlin.next(Date.UTC(2026, 6, 10, 0, 0))! - berlin.offsetMs;
    expect(new Date(winter).toISOString()).toBe('2026-01-10T08:00:00.000Z');
    expect(new Date(summer).toISOString()).toBe('2026-07-10T07:00:00.000Z');
    expect(wallClock('Europe/Berlin').toWall(Date.UTC(2026, 6, 10, 7))).toBe(Date.UTC(2026, 6, 10, 9));
    expect(() => new TimetableFactory('Mars/Olympus')).toThrow(expect.objectContaining({ code: ScheduleErrorCode.INVALID_TIME_ZONE }));
  });

  it('returns undefined when an expression never fires again', () => {
    const tt = new TimetableFactory().for('cron(0 0 1 1 ? 1999)', 'x');
    expect(tt.next(Date.UTC(2026, 0, 1))).toBeUndefined();
  });
});
