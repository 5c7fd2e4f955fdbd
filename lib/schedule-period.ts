/**
 * The period of an EventBridge Scheduler expression, for alarms that count missed runs.
 * Only `rate(...)` has a fixed period; `cron(...)` and `at(...)` return undefined and the
 * caller uses its own default.
 */
import { Duration } from 'aws-cdk-lib';

const RATE_PATTERN = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;

/** `rate(5 minutes)` -> 5 minutes; anything else -> undefined. */
export function schedulePeriod(expression: string): Duration | undefined {
  const match = RATE_PATTERN.exec(expression);
  if (match === null) return undefined;
  const value = Number(match[1]);
  const unit = match[2] ?? '';
  if (unit.startsWith('minute')) return Duration.minutes(value);
  if (unit.startsWith('hour')) return Duration.hours(value);
  return Duration.days(value);
}
