/**
 * The next (or previous) minute a cron expression fires, searched field by field in
 * wall-clock time: a month, day or hour that cannot match is skipped whole, so even a
 * yearly expression is found in a few hundred steps.
 */
import { cronMatches, type CronSpec } from './cron-expression';
import { wallFields } from './wall-clock';

const MINUTE_MS = 60_000;
/** Searching further than this finds nothing useful (an expression limited to past years). */
export const CRON_SEARCH_HORIZON_MS = 5 * 366 * 24 * 3_600_000;

export type Direction = 1 | -1;

/**
 * The first wall-clock minute at or after `fromWall` (direction 1), or at or before it
 * (direction -1), that the expression matches; undefined past the horizon.
 */
export function searchCron(spec: CronSpec, fromWall: number, direction: Direction): number | undefined {
  let t = direction === 1 ? Math.ceil(fromWall / MINUTE_MS) * MINUTE_MS : Math.floor(fromWall / MINUTE_MS) * MINUTE_MS;
  const limit = fromWall + direction * CRON_SEARCH_HORIZON_MS;
  while (direction === 1 ? t <= limit : t >= limit) {
    const f = wallFields(t);
    if (cronMatches(spec, f)) return t;
    t = skip(spec, f, t, direction);
  }
  return undefined;
}

/** The next candidate after `t`: past the whole year, month, day or hour that cannot match. */
function skip(spec: CronSpec, f: ReturnType<typeof wallFields>, t: number, direction: Direction): number {
  const forward = direction === 1;
  // Forward: the start of the next unit. Backward: the last minute of the previous one.
  const edge = (start: number, next: number): number => (forward ? next : start - MINUTE_MS);
  if (spec.years !== undefined && !spec.years.has(f.year)) return edge(Date.UTC(f.year, 0, 1), Date.UTC(f.year + 1, 0, 1));
  if (!spec.months.has(f.month)) return edge(Date.UTC(f.year, f.month - 1, 1), Date.UTC(f.year, f.month, 1));
  if (!spec.dayMatches(f.year, f.month, f.day)) return edge(Date.UTC(f.year, f.month - 1, f.day), Date.UTC(f.year, f.month - 1, f.day + 1));
  if (!spec.hours.has(f.hour)) return edge(Date.UTC(f.year, f.month - 1, f.day, f.hour), Date.UTC(f.year, f.month - 1, f.day, f.hour + 1));
  return t + direction * MINUTE_MS;
}
