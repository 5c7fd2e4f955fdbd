import type { RunSummary } from '../sync/run-summary';
import { DIMENSION_ERROR_CODE, DIMENSION_MAILBOX, METRIC } from './metric-names';

/** Error codes that mean "the credentials are wrong": never fixed by retrying. */
export const AUTH_ERROR_CODES: ReadonlySet<string> = new Set([
  'AUTH_FAILED',
  // A SASL exchange the client had to cancel (a SCRAM server proof that did not verify...).
  'AUTH_CANCELLED',
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

/** EMF takes at most this many values in one metric's array. */
export const MAX_EMF_VALUES = 100;

/**
 * The fleet metrics of several runs (one queue message's) in one document: each metric's
 * value is the array of the runs' values, which CloudWatch takes as that many samples, so
 * sums, averages (RunFailed: the failure ratio) and counts are those of per-run documents.
 * One document instead of one per run: at 10,000 mailboxes every 5 minutes, per-run
 * documents were most of the log bytes (docs/cost.md). Without dimensions only: a mailbox
 * with detailed metrics keeps its per-run documents (runMetrics) and is not given here.
 * Errors by code: one document per code, with each erring run's count.
 */
export function fleetRunMetrics(summaries: readonly RunSummary[], namespace: string, timestamp: number): object[] {
  const docs: object[] = [];
  for (let i = 0; i < summaries.length; i += MAX_EMF_VALUES) docs.push(...fleetChunk(summaries.slice(i, i + MAX_EMF_VALUES), namespace, timestamp));
  return docs;
}

function fleetChunk(summaries: readonly RunSummary[], namespace: string, timestamp: number): object[] {
  if (summaries.length === 0) return [];
  const byName = new Map<string, { unit: string; values: number[] }>();
  for (const summary of summaries) {
    for (const [name, value, unit] of runValues(summary)) {
      const entry = byName.get(name) ?? { unit, values: [] };
      entry.values.push(value);
      byName.set(name, entry);
    }
  }
  const main: Record<string, unknown> = {
    _aws: { Timestamp: timestamp, CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [FLEET], Metrics: [...byName].map(([Name, e]) => ({ Name, Unit: e.unit })) }] },
  };
  for (const [name, e] of byName) main[name] = e.values;
  const byCode = new Map<string, number[]>();
  for (const summary of summaries) {
    const counts = new Map<string, number>();
    for (const e of summary.errors) counts.set(e.code, (counts.get(e.code) ?? 0) + 1);
    for (const [code, count] of counts) byCode.set(code, [...(byCode.get(code) ?? []), count]);
  }
  const errorDocs = [...byCode].map(([code, counts]) => ({
    _aws: { Timestamp: timestamp, CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [FLEET, [DIMENSION_ERROR_CODE]], Metrics: [{ Name: METRIC.ERRORS, Unit: 'Count' }] }] },
    [DIMENSION_ERROR_CODE]: code,
    [METRIC.ERRORS]: counts,
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
    [METRIC.EVENTS_PUBLISHED, summary.eventsPublished, 'Count'],
    [METRIC.EVENTS_FAILED, summary.eventsFailed, 'Count'],
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
