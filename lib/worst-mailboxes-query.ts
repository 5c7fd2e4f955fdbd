/**
 * The CloudWatch Logs Insights query of the dashboard's "worst mailboxes" table: per
 * mailbox, from the worker's summary lines (`lambda/observability/summary-line.ts`), failed
 * runs first, then backlog. One query over the log group, whatever the size of the fleet.
 */
import { SUMMARY_LINE } from '../lambda/observability/summary-line';

/** Rows shown: the worst ones; `mailfetch mailboxes status` lists them all. */
export const WORST_MAILBOXES_ROWS = 25;
/**
 * One failed run outranks any backlog: a day of 5-minute runs (288) with 10,000 messages
 * waiting each time sums to about 3 million, far below this.
 */
const FAILED_RUN_WEIGHT = 1_000_000_000;

/** The query, one command per line (LogQueryWidget's `queryLines`). */
export function worstMailboxesQuery(rows: number = WORST_MAILBOXES_ROWS): string[] {
  const { MESSAGE, MAILBOX, FAILED, BACKLOG, ERROR_CODE } = SUMMARY_LINE;
  return [
    `filter message = "${MESSAGE}"`,
    // Per run; summed per mailbox below: failed runs, then backlog over the time range.
    `fields ${FAILED} * ${FAILED_RUN_WEIGHT} + ${BACKLOG} as trouble`,
    `stats sum(${FAILED}) as failedRuns, count(*) as runs, latest(${BACKLOG}) as lastBacklog, latest(${ERROR_CODE}) as lastErrorCode, sum(trouble) as trouble by ${MAILBOX}`,
    'sort trouble desc',
    `limit ${rows}`,
  ];
}
