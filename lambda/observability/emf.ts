import type { RunSummary } from '../sync/run-summary';
import { DIMENSION_ERROR_CODE, DIMENSION_MAILBOX, METRIC } from './metric-names';

/** Error codes that mean "the credentials are wrong": never fixed by retrying. */
export const AUTH_ERROR_CODES: ReadonlySet<string> = new Set([
  'AUTH_FAILED',
  'TOKEN_INVALID',
  'SECRET_NOT_FOUND',
  'SECRET_INVALID',
  'SECRET_ACCESS_DENIED',
  'ENV_MISSING',
  // Sealed credentials (lambda/credentials/sealed-credential-store.ts).
  'SEALED_INVALID',
  'SEALED_MISMATCH',
  'DATA_KEY_NOT_FOUND',
  'DATA_KEY_ACCESS_DENIED',
]);

/**
 * CloudWatch embedded metric format documents for one run: CloudWatch extracts the
 * metrics from these log lines, no PutMetricData call (and no permission) needed.
 */
export function runMetrics(summary: RunSummary, namespace: string, timestamp: number): object[] {
  const failed = summary.status === 'error';
  const authFailures = summary.errors.filter((e) => AUTH_ERROR_CODES.has(e.code)).length;
  const values: [string, number, string][] = [
    [METRIC.MESSAGES_FETCHED, summary.fetched, 'Count'],
    [METRIC.BYTES_FETCHED, summary.bytes, 'Bytes'],
    [METRIC.MESSAGES_SKIPPED, summary.skipped, 'Count'],
    [METRIC.MESSAGES_DELETED, summary.deleted, 'Count'],
    [METRIC.DUPLICATE_UIDLS, summary.duplicates, 'Count'],
    [METRIC.BACKLOG, summary.backlog, 'Count'],
    [METRIC.RUN_DURATION_MS, summary.durationMs, 'Milliseconds'],
    [METRIC.AUTH_FAILURES, authFailures, 'Count'],
    [METRIC.DYNAMODB_READ_UNITS, summary.readUnits, 'Count'],
    [METRIC.DYNAMODB_WRITE_UNITS, summary.writeUnits, 'Count'],
    ...(summary.status === 'busy' ? [] : ([[failed ? METRIC.RUN_FAILED : METRIC.RUN_SUCCEEDED, 1, 'Count']] as [string, number, string][])),
  ];
  const main: Record<string, unknown> = {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [[DIMENSION_MAILBOX]], Metrics: values.map(([Name, , Unit]) => ({ Name, Unit })) }],
    },
    [DIMENSION_MAILBOX]: summary.mailbox,
  };
  for (const [name, value] of values) main[name] = value;
  const byCode = new Map<string, number>();
  for (const e of summary.errors) byCode.set(e.code, (byCode.get(e.code) ?? 0) + 1);
  const errorDocs = [...byCode].map(([code, count]) => ({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [[DIMENSION_MAILBOX, DIMENSION_ERROR_CODE], [DIMENSION_MAILBOX]], Metrics: [{ Name: METRIC.ERRORS, Unit: 'Count' }] }],
    },
    [DIMENSION_MAILBOX]: summary.mailbox,
    [DIMENSION_ERROR_CODE]: code,
    [METRIC.ERRORS]: count,
  }));
  return [main, ...errorDocs];
}
