/**
 * The one log line each run ends with: the mailbox id (from the logger), a few numbers the
 * dashboard's worst-mailboxes query ranks by, then the whole summary. Per-mailbox health
 * thus needs no per-mailbox metric. The field names are shared with that query
 * (`lib/worst-mailboxes-query.ts`).
 */
import { emptySummary, type RunSummary } from '../sync/run-summary';

export const SUMMARY_LINE = {
  /** The `message` of the line. */
  MESSAGE: 'run summary',
  /** The mailbox id, set by the run's logger on every line. */
  MAILBOX: 'mailbox',
  /** 1 when the run failed (status error), else 0: Logs Insights sums numbers, not strings. */
  FAILED: 'failed',
  /** Messages still new at the end of the run. */
  BACKLOG: 'backlog',
  /** The code of the run's first error; absent without errors. */
  ERROR_CODE: 'errorCode',
  SUMMARY: 'summary',
} as const;

/**
 * The fields of the summary line (besides the logger's own). The ranked ones are copied to
 * the top, ahead of the summary: Logs Insights discovers a bounded number of fields per
 * event, and a summary naming 100 skipped messages would push its own last fields past it.
 */
export function summaryLineFields(summary: RunSummary): Record<string, unknown> {
  const errorCode = summary.errors[0]?.code;
  return {
    [SUMMARY_LINE.FAILED]: summary.status === 'error' ? 1 : 0,
    [SUMMARY_LINE.BACKLOG]: summary.backlog,
    ...(errorCode === undefined ? {} : { [SUMMARY_LINE.ERROR_CODE]: errorCode }),
    [SUMMARY_LINE.SUMMARY]: compactSummary(summary),
  };
}

const EMPTY = emptySummary('');

/**
 * The summary without what every idle run would repeat: the mailbox (the line has it) and
 * each field at its empty value (0, false, [], complete: true). `status` always stays. An
 * idle run's line shrinks from ~470 to ~230 bytes, and log bytes are billed (docs/cost.md);
 * a query reads a missing number as none (`stats sum(summary.fetched)` still adds up).
 */
export function compactSummary(summary: RunSummary): Record<string, unknown> {
  const out: Record<string, unknown> = { status: summary.status };
  for (const [key, value] of Object.entries(summary)) {
    if (key === 'mailbox' || key === 'status') continue;
    const empty = (EMPTY as unknown as Record<string, unknown>)[key];
    if (value === empty || (Array.isArray(value) && value.length === 0)) continue;
    out[key] = value;
  }
  return out;
}
