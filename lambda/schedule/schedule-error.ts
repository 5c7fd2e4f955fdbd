import { MailfetchError } from '../errors';

export const ScheduleErrorCode = {
  /** Not a `rate(...)` or `cron(...)` expression the dispatcher can evaluate. */
  INVALID_SCHEDULE: 'INVALID_SCHEDULE',
  /** The time zone is not an IANA name this runtime knows. */
  INVALID_TIME_ZONE: 'INVALID_TIME_ZONE',
} as const;
export type ScheduleErrorCode = (typeof ScheduleErrorCode)[keyof typeof ScheduleErrorCode];

/** A schedule expression that cannot be evaluated: retrying never helps, fixing the registry does. */
export class ScheduleError extends MailfetchError<ScheduleErrorCode> {
  override readonly name = 'ScheduleError';
  /** What is wrong, without the expression (for messages that already name it). */
  readonly why: string;

  constructor(code: ScheduleErrorCode, message: string, why: string = message) {
    super(code, message, false);
    this.why = why;
  }
}

export function invalidSchedule(expression: string, why: string): ScheduleError {
  return new ScheduleError(ScheduleErrorCode.INVALID_SCHEDULE, `schedule "${expression}": ${why}`, why);
}
