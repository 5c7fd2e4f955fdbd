/**
 * The CloudWatch dashboard of a MailFetcher, the same size whatever the size of the fleet:
 * fleet metrics (runs, failures, messages, bytes, errors by code, backlog, stale
 * mailboxes), the worst mailboxes from the summary log lines, the mailboxes with detailed
 * metrics (one search per graph), the function, the dead-letter queue and the alarms.
 */
import { Duration } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  LogQueryVisualizationType,
  LogQueryWidget,
  MathExpression,
  type IMetric,
  Stats,
  TextWidget,
  type IWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DISPATCHER_METRIC, METRIC } from '../lambda/observability/metric-names';
import type { MailFetcherAlarms } from './mail-fetcher-alarms';
import { detailedMailboxesMetric, errorsByCode, workerMetric, type FleetMetricName } from './worker-metric';
import { worstMailboxesQuery } from './worst-mailboxes-query';

export interface MailFetcherDashboardProps {
  readonly fn: IFunction;
  readonly logGroup: ILogGroup;
  readonly deadLetterQueue: IQueue;
  readonly namespace: string;
  readonly alarms: MailFetcherAlarms;
  /** Adds graphs of the mailboxes with the `Mailbox` dimension. @default false */
  readonly detailedMailboxes?: boolean;
  /** @default Duration.minutes(5) */
  readonly period?: Duration;
}

const WIDTH = 24;
const HALF = WIDTH / 2;
const THIRD = WIDTH / 3;
const HEIGHT = 6;
/** Room for WORST_MAILBOXES_ROWS table rows. */
const TABLE_HEIGHT = 9;
const PERCENT = 100;

export class MailFetcherDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MailFetcherDashboardProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    const fleet = (name: FleetMetricName, label: string, statistic: string = Stats.SUM): IMetric =>
      workerMetric(name, { namespace: props.namespace, period, statistic, label });
    const graph = (title: string, left: IMetric[], width = THIRD, right: IMetric[] = []): IWidget =>
      new GraphWidget({ title, left, right, width, height: HEIGHT, period });

    this.dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
      widgets: [
        [
          new TextWidget({
            markdown: `## mailfetch\nFleet metrics in namespace \`${props.namespace}\` (no per-mailbox dimension). One mailbox's health: \`mailfetch mailboxes status\`.`,
            width: WIDTH,
            height: 2,
          }),
        ],
        [
          graph('Runs succeeded / failed', [fleet(METRIC.RUN_SUCCEEDED, 'succeeded'), fleet(METRIC.RUN_FAILED, 'failed')]),
          graph('Failed runs (% of runs)', [percentOf(fleet(METRIC.RUN_FAILED, 'failed', Stats.AVERAGE))]),
          graph('Stale mailboxes', [fleet(DISPATCHER_METRIC.STALE_MAILBOXES, 'stale', Stats.MAXIMUM)]),
        ],
        [
          graph('Messages fetched / skipped / deleted', [
            fleet(METRIC.MESSAGES_FETCHED, 'fetched'),
            fleet(METRIC.MESSAGES_SKIPPED, 'skipped'),
            fleet(METRIC.MESSAGES_DELETED, 'deleted'),
          ]),
          graph('Bytes fetched', [fleet(METRIC.BYTES_FETCHED, 'bytes')]),
          graph('Backlog (messages still new after a run)', [fleet(METRIC.BACKLOG, 'worst mailbox', Stats.MAXIMUM)]),
        ],
        [
          graph('Errors by code', [errorsByCode(props.namespace, period)], HALF),
          graph('Authentication failures', [fleet(METRIC.AUTH_FAILURES, 'auth failures')], HALF),
        ],
        // Refused events wait in the outbox: "refused" staying above 0 is EventsNotPublished's business.
        ...(props.alarms.eventsNotPublished ? [[graph('Mail Stored events published / refused', [fleet(METRIC.EVENTS_PUBLISHED, 'published'), fleet(METRIC.EVENTS_FAILED, 'refused')], WIDTH)]] : []),
        [
          new LogQueryWidget({
            title: 'Worst mailboxes (failed runs, then backlog; from the run summary lines)',
            logGroupNames: [props.logGroup.logGroupName],
            queryLines: worstMailboxesQuery(),
            view: LogQueryVisualizationType.TABLE,
            width: WIDTH,
            height: TABLE_HEIGHT,
          }),
        ],
        ...(props.detailedMailboxes === true ? [detailedRow(props.namespace, period, graph)] : []),
        ...functionRows(props, period, graph),
        // A fixed handful of alarms (CloudWatch shows at most 100 in one such widget).
        [new AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms.all], width: WIDTH, height: HEIGHT })],
      ],
    });
  }
}

type Graph = (title: string, left: IMetric[], width?: number) => IWidget;

/** A 0/1 metric's average as a percentage. */
function percentOf(metric: IMetric): IMetric {
  return new MathExpression({ expression: `${PERCENT} * m`, usingMetrics: { m: metric }, label: 'failed %' });
}

/** One series per mailbox listed in `detailedMetricsMailboxes`, by search: no widget grows with the list. */
function detailedRow(namespace: string, period: Duration, graph: Graph): IWidget[] {
  return [
    graph('Detailed mailboxes: failed runs', [detailedMailboxesMetric(METRIC.RUN_FAILED, namespace, period)]),
    graph('Detailed mailboxes: messages fetched', [detailedMailboxesMetric(METRIC.MESSAGES_FETCHED, namespace, period)]),
    graph('Detailed mailboxes: backlog', [detailedMailboxesMetric(METRIC.BACKLOG, namespace, period, Stats.MAXIMUM)]),
  ];
}

function functionRows(props: MailFetcherDashboardProps, period: Duration, graph: Graph): IWidget[][] {
  return [
    [
      graph('Run duration (max, ms)', [workerMetric(METRIC.RUN_DURATION_MS, { namespace: props.namespace, period, statistic: Stats.MAXIMUM, label: 'max' })]),
      graph('Function invocations, errors, throttles', [
        props.fn.metricInvocations({ period, statistic: Stats.SUM }),
        props.fn.metricErrors({ period, statistic: Stats.SUM }),
        props.fn.metricThrottles({ period, statistic: Stats.SUM }),
      ]),
      graph('Function duration (max, p90)', [
        props.fn.metricDuration({ period, statistic: Stats.MAXIMUM }),
        props.fn.metricDuration({ period, statistic: Stats.p(90) }),
      ]),
    ],
    [graph('Dead-letter queue', [props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: Stats.MAXIMUM })], WIDTH)],
  ];
}
