/**
 * CloudWatch metrics the worker emits (names shared with it through
 * `lambda/observability/metric-names.ts`), for the alarms and the dashboard.
 */
import type { Duration } from 'aws-cdk-lib';
import { MathExpression, Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { DIMENSION_ERROR_CODE, DIMENSION_MAILBOX, METRIC } from '../lambda/observability/metric-names';

export type WorkerMetricName = (typeof METRIC)[keyof typeof METRIC];

export interface WorkerMetricOptions {
  readonly namespace: string;
  readonly period: Duration;
  /** @default Stats.SUM */
  readonly statistic?: string;
  /** Dashboard label. Alarms leave it out: a label turns the alarm into a metric-math alarm. @default none */
  readonly label?: string;
}

/** One worker metric of one mailbox (dimension `Mailbox`). */
export function workerMetric(name: WorkerMetricName, mailboxId: string, options: WorkerMetricOptions): Metric {
  return new Metric({
    namespace: options.namespace,
    metricName: name,
    dimensionsMap: { [DIMENSION_MAILBOX]: mailboxId },
    statistic: options.statistic ?? Stats.SUM,
    period: options.period,
    ...(options.label === undefined ? {} : { label: options.label }),
  });
}

/** `Errors` of every mailbox by `ErrorCode`, found by a search expression (dashboards only). */
export function errorsByCode(namespace: string, period: Duration): MathExpression {
  const search = `{"${namespace}",${DIMENSION_MAILBOX},${DIMENSION_ERROR_CODE}} MetricName="${METRIC.ERRORS}"`;
  return new MathExpression({
    expression: `SEARCH('${search}', 'Sum', ${period.toSeconds()})`,
    usingMetrics: {},
    period,
    label: '',
  });
}
