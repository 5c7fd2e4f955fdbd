import { parseCron } from '../schedule/cron-expression';
import { ScheduleError } from '../schedule/schedule-error';
import type { Field } from './field-readers';
import type { Problems } from './problems';

/** EventBridge Scheduler cron: minutes hours day-of-month month day-of-week year. */
const CRON_FIELD_COUNT = 6;
/** Each rate unit as [singular, plural]. */
const RATE_UNITS = [
  ['minute', 'minutes'],
  ['hour', 'hours'],
  ['day', 'days'],
] as const;

/** An EventBridge Scheduler expression, `rate(...)` or `cron(...)`. */
export function readSchedule(field: Field, problems: Problems): string | undefined {
  if (typeof field.value !== 'string') {
    problems.add(field.path, 'must be a string such as "rate(5 minutes)" or "cron(0/10 * * * ? *)"');
    return undefined;
  }
  const problem = scheduleProblem(field.value);
  if (problem === undefined) return field.value;
  problems.add(field.path, problem);
  return undefined;
}

/** EventBridge Scheduler's rules: `rate(1 minute)` but `rate(5 minutes)`; cron has a year field. */
function scheduleProblem(schedule: string): string | undefined {
  const rate = /^rate\((\d+) ([a-z]+)\)$/.exec(schedule);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2]!;
    const forms = RATE_UNITS.find(([singular, plural]) => unit === singular || unit === plural);
    if (forms === undefined) return 'rate unit must be minute(s), hour(s) or day(s)';
    if (value < 1) return 'rate value must be at least 1';
    const expected = value === 1 ? forms[0] : forms[1];
    return unit === expected ? undefined : `must be "rate(${value} ${expected})": the unit is singular for 1 and plural otherwise`;
  }
  const cron = /^cron\((.*)\)$/.exec(schedule);
  if (cron) {
    const fields = cron[1]!.trim().split(/\s+/).filter(Boolean).length;
    if (fields !== CRON_FIELD_COUNT) return cronFieldCountProblem(fields);
    // The dispatcher evaluates the expression itself: refuse here what it could not run.
    try {
      parseCron(schedule);
      return undefined;
    } catch (err) {
      if (!(err instanceof ScheduleError)) throw err;
      return `cron(...): ${err.why}`;
    }
  }
  return 'must be "rate(<N> <unit>)" or "cron(<6 fields>)", e.g. "rate(5 minutes)"';
}

function cronFieldCountProblem(fields: number): string {
  return `cron(...) must have ${CRON_FIELD_COUNT} fields (minutes hours day-of-month month day-of-week year), not ${fields}`;
}
