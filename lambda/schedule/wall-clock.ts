/**
 * Between instants (epoch ms, UTC) and wall-clock time in a time zone. A wall-clock time is
 * represented as the epoch ms of the same fields read as UTC ("naive" time), so calendar
 * arithmetic on it is plain `Date.UTC` arithmetic. Uses the runtime's Intl time-zone data:
 * no library, no download.
 */
import { ScheduleError, ScheduleErrorCode } from './schedule-error';
import type { WallFields } from './cron-expression';

export const UTC = 'UTC';
const MINUTE_MS = 60_000;
/** UTC offsets change at most every few months; caching them per quarter hour is exact. */
const OFFSET_CACHE_BLOCK_MS = 15 * MINUTE_MS;
const OFFSET_CACHE_LIMIT = 10_000;

export interface WallClock {
  readonly timeZone: string;
  /** The wall-clock time (naive ms) of an instant. */
  toWall(instantMs: number): number;
  /** The instant of a wall-clock time; in a DST gap, the time that many minutes after it. */
  toInstant(wallMs: number): number;
}

/** @throws ScheduleError INVALID_TIME_ZONE for a name Intl does not know */
export function wallClock(timeZone: string = UTC): WallClock {
  if (timeZone === UTC) return { timeZone, toWall: (t) => t, toInstant: (w) => w };
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch (err) {
    throw new ScheduleError(ScheduleErrorCode.INVALID_TIME_ZONE, `time zone "${timeZone}" is not an IANA time zone name (${String(err)})`);
  }
  const offsets = new Map<number, number>();
  const offsetAt = (instantMs: number): number => {
    const block = Math.floor(instantMs / OFFSET_CACHE_BLOCK_MS);
    let offset = offsets.get(block);
    if (offset === undefined) {
      const start = block * OFFSET_CACHE_BLOCK_MS;
      offset = fieldsToWall(format.formatToParts(new Date(start))) - start;
      if (offsets.size >= OFFSET_CACHE_LIMIT) offsets.clear();
      offsets.set(block, offset);
    }
    return offset;
  };
  return {
    timeZone,
    toWall: (t) => t + offsetAt(t),
    toInstant: (w) => {
      // Two rounds settle on the offset in force at the result (they differ only near a change).
      const guess = w - offsetAt(w);
      return w - offsetAt(guess);
    },
  };
}

export function wallFields(wallMs: number): WallFields {
  const d = new Date(wallMs);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes() };
}

function fieldsToWall(parts: Intl.DateTimeFormatPart[]): number {
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
}
