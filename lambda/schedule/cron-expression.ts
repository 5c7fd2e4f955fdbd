/**
 * EventBridge Scheduler's `cron(minutes hours day-of-month month day-of-week year)`,
 * parsed into sets the dispatcher can match wall-clock fields against. The syntax is
 * AWS's: `*`, `,`, `-`, `/`, `?` (exactly one of day-of-month and day-of-week), `L` and
 * `W` in day-of-month (`L`, `LW`, `15W`), `L` and `#` in day-of-week (`6L` = last Friday,
 * `2#1` = first Monday), month names JAN-DEC, day names SUN-SAT (1 = Sunday), years
 * 1970-2199.
 */
import { invalidSchedule } from './schedule-error';

/** Wall-clock fields of one minute; weekday 1 = Sunday ... 7 = Saturday, as in AWS cron. */
export interface WallFields {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
}

export interface CronSpec {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** undefined: every year. */
  readonly years?: ReadonlySet<number>;
  /** Does the day (of this year and month) match day-of-month and day-of-week? */
  dayMatches(year: number, month: number, day: number): boolean;
}

interface FieldRange {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MINUTES: FieldRange = { name: 'minutes', min: 0, max: 59 };
const HOURS: FieldRange = { name: 'hours', min: 0, max: 23 };
const DAYS_OF_MONTH: FieldRange = { name: 'day-of-month', min: 1, max: 31 };
const MONTHS: FieldRange = { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] };
const DAYS_OF_WEEK: FieldRange = { name: 'day-of-week', min: 1, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] };
const YEARS: FieldRange = { name: 'year', min: 1970, max: 2199 };
const CRON_FIELDS = 6;
const SATURDAY = 7;
const SUNDAY = 1;

/** @throws ScheduleError INVALID_SCHEDULE naming the field that is wrong */
export function parseCron(expression: string): CronSpec {
  const match = /^cron\((.*)\)$/.exec(expression);
  if (match === null) throw invalidSchedule(expression, 'not a cron(...) expression');
  const fields = (match[1] ?? '').trim().split(/\s+/).filter(Boolean);
  if (fields.length !== CRON_FIELDS) throw invalidSchedule(expression, `cron(...) needs ${CRON_FIELDS} fields, not ${fields.length}`);
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  const fail = (why: string): never => {
    throw invalidSchedule(expression, why);
  };
  if ((dom === '?') === (dow === '?')) fail('exactly one of day-of-month and day-of-week must be "?"');
  const days = dom === '?' ? dayOfWeekMatcher(dow, fail) : dayOfMonthMatcher(dom, fail);
  return {
    minutes: parseSet(min, MINUTES, fail),
    hours: parseSet(hour, HOURS, fail),
    months: parseSet(month, MONTHS, fail),
    ...(year === '*' ? {} : { years: parseSet(year, YEARS, fail) }),
    dayMatches: days,
  };
}

/** Is `fields` (a wall-clock minute) one of the expression's times? */
export function cronMatches(spec: CronSpec, fields: WallFields): boolean {
  return (
    (spec.years === undefined || spec.years.has(fields.year)) &&
    spec.months.has(fields.month) &&
    spec.dayMatches(fields.year, fields.month, fields.day) &&
    spec.hours.has(fields.hour) &&
    spec.minutes.has(fields.minute)
  );
}

type Fail = (why: string) => never;

/** A comma-separated list of `*`, `N`, `A-B`, each optionally `/STEP`. */
function parseSet(text: string, range: FieldRange, fail: Fail): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const [base = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) fail(`${range.name}: bad step in "${part}"`);
    let from: number;
    let to: number;
    if (base === '*') {
      [from, to] = [range.min, range.max];
    } else if (base.includes('-')) {
      const [a = '', b = ''] = base.split('-');
      [from, to] = [value(a, range, fail), value(b, range, fail)];
      if (from > to) fail(`${range.name}: range "${base}" runs backwards`);
    } else {
      from = value(base, range, fail);
      // `5/15` means 5, 20, 35, 50: a start with a step runs to the end of the range.
      to = stepText === undefined ? from : range.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

function value(text: string, range: FieldRange, fail: Fail): number {
  const named = range.names?.indexOf(text.toUpperCase()) ?? -1;
  const n = named >= 0 ? range.min + named : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < range.min || n > range.max) fail(`${range.name}: "${text}" is not from ${range.min} to ${range.max}`);
  return n;
}

function dayOfMonthMatcher(text: string, fail: Fail): CronSpec['dayMatches'] {
  if (text === 'L') return (y, m, d) => d === daysIn(y, m);
  if (text === 'LW') return (y, m, d) => d === nearestWeekday(y, m, daysIn(y, m));
  const weekday = /^(\d+)W$/.exec(text);
  if (weekday) {
    const target = value(weekday[1] ?? '', DAYS_OF_MONTH, fail);
    return (y, m, d) => d === nearestWeekday(y, m, Math.min(target, daysIn(y, m)));
  }
  const days = parseSet(text, DAYS_OF_MONTH, fail);
  return (_y, _m, d) => days.has(d);
}

function dayOfWeekMatcher(text: string, fail: Fail): CronSpec['dayMatches'] {
  const last = /^(\w+)L$/.exec(text);
  if (last) {
    const dow = value(last[1] ?? '', DAYS_OF_WEEK, fail);
    return (y, m, d) => weekdayOf(y, m, d) === dow && d + 7 > daysIn(y, m);
  }
  const nth = /^(\w+)#(\d)$/.exec(text);
  if (nth) {
    const dow = value(nth[1] ?? '', DAYS_OF_WEEK, fail);
    const n = Number(nth[2]);
    if (n < 1 || n > 5) fail('day-of-week: "#" takes 1 to 5');
    return (y, m, d) => weekdayOf(y, m, d) === dow && Math.ceil(d / 7) === n;
  }
  if (text === 'L') return (y, m, d) => weekdayOf(y, m, d) === SATURDAY;
  const days = parseSet(text, DAYS_OF_WEEK, fail);
  return (y, m, d) => days.has(weekdayOf(y, m, d));
}

/** 1 = Sunday ... 7 = Saturday. */
export function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

export function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The weekday nearest to `day` without leaving the month (Quartz `W`). */
function nearestWeekday(year: number, month: number, day: number): number {
  const dow = weekdayOf(year, month, day);
  if (dow === SATURDAY) return day === 1 ? day + 2 : day - 1;
  if (dow === SUNDAY) return day === daysIn(year, month) ? day - 2 : day + 1;
  return day;
}
