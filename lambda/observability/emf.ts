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

/** The empty dimension set: the metric is published without dimensions (one per fleet). */
const FLEET: readonly string[] = [];

type MetricValue = readonly [name: string, value: number, unit: string];

/**
 * CloudWatch embedded metric format documents for one run: CloudWatch extracts the
 * metrics from these log lines, no PutMetricData call (and no permission) needed.
 *
 * Fleet-wide (no dimensions) always; with `detailed`, also with the `Mailbox` dimension.
 * The mailbox id is in every document either way, as a plain field for log queries.
 */
export function runMetrics(summary: RunSummary, namespace: string, timestamp: number, detailed = false): object[] {
  const values = runValues(summary);
  const mainDimensions = detailed ? [FLEET, [DIMENSION_MAILBOX]] : [FLEET];
  const main: Record<string, unknown> = {
    _aws: { Timestamp: timestamp, CloudWatchMetrics: [{ Namespace: namespace, Dimensions: mainDimensions, Metrics: definitions(values) }] },
    [DIMENSION_MAILBOX]: summary.mailbox,
  };
  for (const [name, value] of values) main[name] = value;

  const byCode = new Map<string, number>();
  for (const e of summary.errors) byCode.set(e.code, (byCode.get(e.code) ?? 0) + 1);
  // All errors (no dimension) and by code; per mailbox and code only when detailed.
  const errorDimensions = detailed ? [FLEET, [DIMENSION_ERROR_CODE], [DIMENSION_MAILBOX, DIMENSION_ERROR_CODE]] : [FLEET, [DIMENSION_ERROR_CODE]];
  const errorDocs = [...byCode].map(([code, count]) => ({
    _aws: { Timestamp: timestamp, CloudWatchMetrics: [{ Namespace: namespace, Dimensions: errorDimensions, Metrics: [{ Name: METRIC.ERRORS, Unit: 'Count' }] }] },
    [DIMENSION_MAILBOX]: summary.mailbox,
    [DIMENSION_ERROR_CODE]: code,
    [METRIC.ERRORS]: count,
  }));
  return [main, ...errorDocs];
}

function runValues(summary: RunSummary): MetricValue[] {
  const authFailures = summary.errors.filter((e) => AUTH_ERROR_CODES.has(e.code)).length;
  const values: MetricValue[] = [
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
  ];
  // A busy run (another run held the lease) is neither. Both are emitted as 0/1 so that the
  // average of RunFailed is the share of runs that failed (the error-rate alarm).
  if (summary.status !== 'busy') {
    const failed = summary.status === 'error' ? 1 : 0;
    values.push([METRIC.RUN_SUCCEEDED, 1 - failed, 'Count'], [METRIC.RUN_FAILED, failed, 'Count']);
  }
  return values;
}

function definitions(values: readonly MetricValue[]): { Name: string; Unit: string }[] {
  return values.map(([Name, , Unit]) => ({ Name, Unit }));
}
