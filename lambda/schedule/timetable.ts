/**
 * When a mailbox is due: the slots of its schedule expression, shifted by a stable
 * per-mailbox offset so that a fleet on the same expression is spread over the period
 * instead of starting together at the top of the minute (or hour).
 *
 * - `rate(N unit)`: slots every period P, aligned on the epoch, at `hash(id) mod P`
 *   seconds into each period. Stable across deploys and dispatcher restarts; EventBridge
 *   Scheduler instead counts from the schedule's creation, which no one relies on.
 * - `cron(...)`: the expression's minutes (in the dispatcher's time zone), each shifted by
 *   `hash(id) mod 60` seconds: the mailbox still runs in the minute it names.
 */
import { createHash } from 'node:crypto';
import { parseCron, type CronSpec } from './cron-expression';
import { searchCron, type Direction } from './cron-search';
import { invalidSchedule } from './schedule-error';
import { wallClock, type WallClock } from './wall-clock';

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const UNIT_MS: Readonly<Record<string, number>> = { minute: MINUTE_MS, hour: 60 * MINUTE_MS, day: 24 * 60 * MINUTE_MS };
const RATE_PATTERN = /^rate\((\d+) (minute|hour|day)s?\)$/;
/** Cron searches remembered per factory: a fleet asks the same few minutes over and over. */
const CRON_MEMO_LIMIT = 100_000;

export interface Timetable {
  readonly expression: string;
  /** The mailbox's offset into each period (rate) or minute (cron), in ms. */
  readonly offsetMs: number;
  /** The first slot at or after `t` (epoch ms); undefined when there is none within years. */
  next(t: number): number | undefined;
  /** The last slot at or before `t`. */
  prev(t: number): number | undefined;
}

/** The period of a `rate(...)` expression in ms; undefined for anything else. */
export function ratePeriodMs(expression: string): number | undefined {
  const match = RATE_PATTERN.exec(expression);
  if (match === null) return undefined;
  const period = Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? NaN);
  return Number.isFinite(period) && period > 0 ? period : undefined;
}

/** A stable number in [0, modulo) from the id: the first 32 bits of its SHA-256. */
export function stableOffset(id: string, modulo: number): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % modulo;
}

/**
 * Builds timetables; parsed cron expressions are shared by every mailbox that uses the
 * same expression (a fleet has few distinct ones).
 */
export class TimetableFactory {
  private readonly clock: WallClock;
  private readonly crons = new Map<string, CronSpec>();
  private readonly searches = new Map<string, number | undefined>();

  /** @throws ScheduleError INVALID_TIME_ZONE */
  constructor(timeZone?: string) {
    this.clock = wallClock(timeZone);
  }

  /** @throws ScheduleError INVALID_SCHEDULE */
  for(expression: string, mailboxId: string): Timetable {
    const period = ratePeriodMs(expression);
    if (period !== undefined) return rateTimetable(expression, period, stableOffset(mailboxId, period / SECOND_MS) * SECOND_MS);
    if (expression.startsWith('cron(')) {
      let spec = this.crons.get(expression);
      if (spec === undefined) {
        spec = parseCron(expression);
        this.crons.set(expression, spec);
      }
      const cron = spec;
      const search = (wall: number, direction: Direction): number | undefined => this.search(expression, cron, wall, direction);
      return cronTimetable(expression, search, this.clock, stableOffset(mailboxId, MINUTE_MS / SECOND_MS) * SECOND_MS);
    }
    throw invalidSchedule(expression, 'must be rate(...) or cron(...)');
  }

  /** searchCron, memoized by expression, direction and the minute it starts from. */
  private search(expression: string, spec: CronSpec, wall: number, direction: Direction): number | undefined {
    const minute = direction === 1 ? Math.ceil(wall / MINUTE_MS) : Math.floor(wall / MINUTE_MS);
    const key = `${direction}|${minute}|${expression}`;
    if (this.searches.has(key)) return this.searches.get(key);
    const found = searchCron(spec, minute * MINUTE_MS, direction);
    if (this.searches.size >= CRON_MEMO_LIMIT) this.searches.clear();
    this.searches.set(key, found);
    return found;
  }
}

type CronSearch = (wall: number, direction: Direction) => number | undefined;

function rateTimetable(expression: string, period: number, offsetMs: number): Timetable {
  return {
    expression,
    offsetMs,
    next: (t) => Math.ceil((t - offsetMs) / period) * period + offsetMs,
    prev: (t) => Math.floor((t - offsetMs) / period) * period + offsetMs,
  };
}

function cronTimetable(expression: string, search: CronSearch, clock: WallClock, offsetMs: number): Timetable {
  // A fire minute is a wall-clock minute; the slot is its instant plus the offset.
  const slot = (wall: number | undefined): number | undefined => (wall === undefined ? undefined : clock.toInstant(wall) + offsetMs);
  return {
    expression,
    offsetMs,
    next: (t) => {
      const found = slot(search(clock.toWall(t - offsetMs), 1));
      // Near a DST change the wall clock can map back before t: look one minute further.
      return found === undefined || found >= t ? found : slot(search(clock.toWall(t - offsetMs) + MINUTE_MS, 1));
    },
    prev: (t) => {
      const found = slot(search(clock.toWall(t - offsetMs), -1));
      return found === undefined || found <= t ? found : slot(search(clock.toWall(t - offsetMs) - MINUTE_MS, -1));
    },
  };
}
