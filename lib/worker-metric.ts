/**
 * CloudWatch metrics of the fleet (names shared with the worker and the dispatcher through
 * `lambda/observability/metric-names.ts`), for the alarms and the dashboard. None has a
 * per-mailbox dimension: their number, and the alarms and widgets built on them, do not
 * grow with the fleet.
 */
import type { Duration } from 'aws-cdk-lib';
import { MathExpression, Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { DIMENSION_ERROR_CODE, DIMENSION_MAILBOX, METRIC, type DISPATCHER_METRIC } from '../lambda/observability/metric-names';

export type WorkerMetricName = (typeof METRIC)[keyof typeof METRIC];
export type FleetMetricName = WorkerMetricName | (typeof DISPATCHER_METRIC)[keyof typeof DISPATCHER_METRIC];

export interface WorkerMetricOptions {
  readonly namespace: string;
  readonly period: Duration;
  /** @default Stats.SUM */
  readonly statistic?: string;
  /** Dashboard label. Alarms leave it out: a label turns the alarm into a metric-math alarm. @default none */
  readonly label?: string;
}

/** One fleet-wide metric (no dimensions) of the worker or the dispatcher. */
export function workerMetric(name: FleetMetricName, options: WorkerMetricOptions): Metric {
  return new Metric({
    namespace: options.namespace,
    metricName: name,
    statistic: options.statistic ?? Stats.SUM,
    period: options.period,
    ...(options.label === undefined ? {} : { label: options.label }),
  });
}

/** `Errors` of the fleet by `ErrorCode`, found by a search expression (dashboards only). */
export function errorsByCode(namespace: string, period: Duration): MathExpression {
  return search(`{"${namespace}",${DIMENSION_ERROR_CODE}} MetricName="${METRIC.ERRORS}"`, Stats.SUM, period);
}

/**
 * One worker metric of every mailbox listed in `detailedMetricsMailboxes` (the only ones
 * with the `Mailbox` dimension), found by a search expression: the dashboard's size does
 * not depend on the list.
 */
export function detailedMailboxesMetric(name: WorkerMetricName, namespace: string, period: Duration, statistic: string = Stats.SUM): MathExpression {
  return search(`{"${namespace}",${DIMENSION_MAILBOX}} MetricName="${name}"`, statistic, period);
}

/** A SEARCH over the namespace; `statistic` is one of the plain ones (Sum, Maximum, Average). */
function search(query: string, statistic: string, period: Duration): MathExpression {
  return new MathExpression({
    expression: `SEARCH('${query}', '${statistic}', ${period.toSeconds()})`,
    usingMetrics: {},
    period,
    // Empty: each series found is labelled by its dimension values (the code, the mailbox).
    label: '',
  });
}
