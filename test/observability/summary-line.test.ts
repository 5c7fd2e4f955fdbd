import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lambda/observability/logger';
import { SUMMARY_LINE, summaryLineFields } from '../../lambda/observability/summary-line';
import { emptySummary, MAX_SKIPPED_NAMED, type RunSummary } from '../../lambda/sync/run-summary';
import { WORST_MAILBOXES_ROWS, worstMailboxesQuery } from '../../lib/worst-mailboxes-query';

/** The summary line as the worker writes it (the logger adds message and mailbox). */
function line(summary: RunSummary): Record<string, unknown> {
  const lines: string[] = [];
  createLogger({ mailbox: summary.mailbox }, { write: (l) => lines.push(l) }).info(SUMMARY_LINE.MESSAGE, summaryLineFields(summary));
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('the run summary line and the worst-mailboxes query', () => {
  const skippedMessages = Array.from({ length: MAX_SKIPPED_NAMED }, (_, i) => ({ uid: `u${i}`, number: i + 1, reason: 'too-large', size: 1 }));
  const failed: RunSummary = {
    ...emptySummary('billing'),
    status: 'error',
    backlog: 7,
    skipped: MAX_SKIPPED_NAMED,
    skippedMessages,
    errors: [{ code: 'AUTH_FAILED', message: '-ERR [AUTH] no', retryable: false }],
  };

  it('puts the ranked numbers ahead of the summary, where Logs Insights discovers them even after 100 skipped messages', () => {
    const fields = Object.keys(line(failed));
    expect(line(failed)).toMatchObject({ message: 'run summary', mailbox: 'billing', failed: 1, backlog: 7, errorCode: 'AUTH_FAILED', summary: { status: 'error' } });
    for (const ranked of [SUMMARY_LINE.MAILBOX, SUMMARY_LINE.FAILED, SUMMARY_LINE.BACKLOG, SUMMARY_LINE.ERROR_CODE]) {
      expect(fields.indexOf(ranked)).toBeLessThan(fields.indexOf(SUMMARY_LINE.SUMMARY));
    }
    expect(line({ ...emptySummary('quiet') })).toMatchObject({ failed: 0, backlog: 0 });
    expect(line({ ...emptySummary('quiet') })).not.toHaveProperty(SUMMARY_LINE.ERROR_CODE);
  });

  it("an idle run's summary is compact: no repeated mailbox, no field at its empty value; a richer one keeps what differs", () => {
    const idle = line({ ...emptySummary('quiet'), listed: 3, sessions: 1, readUnits: 2, writeUnits: 2, durationMs: 40 });
    expect(idle.summary).toEqual({ status: 'ok', listed: 3, sessions: 1, readUnits: 2, writeUnits: 2, durationMs: 40 });
    expect(JSON.stringify(idle).length).toBeLessThan(260);
    const rich = line(failed).summary as Record<string, unknown>;
    expect(rich).toMatchObject({ status: 'error', backlog: 7, skipped: MAX_SKIPPED_NAMED, skippedMessages, errors: failed.errors });
    expect(rich).not.toHaveProperty('mailbox');
    expect(line({ ...emptySummary('stopped'), complete: false, fullDiff: true }).summary).toEqual({ status: 'ok', complete: false, fullDiff: true });
  });

  it('queries exactly the fields the line has, per mailbox, worst first, a bounded number of rows', () => {
    const query = worstMailboxesQuery().join('\n');
    expect(query.split('\n')[0]).toBe('filter message = "run summary"');
    const top = line(failed);
    for (const field of ['failed', 'backlog', 'errorCode']) {
      expect(query).toContain(field);
      expect(top).toHaveProperty(field);
    }
    expect(query).toMatch(/ by mailbox\n/);
    expect(query).toMatch(/\nsort trouble desc\nlimit 25$/);
    expect(WORST_MAILBOXES_ROWS).toBe(25);
  });
});
