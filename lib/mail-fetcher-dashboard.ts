/**
 * The CloudWatch dashboard of a MailFetcher: runs, messages, bytes, errors by code and
 * backlog per mailbox, then the function and the dead-letter queue.
 */
import { Duration } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type IMetric,
  Stats,
  TextWidget,
  type IWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { MailboxConfig } from '../lambda/config/mailbox-config';
import { METRIC } from '../lambda/observability/metric-names';
import type { MailFetcherAlarms } from './mail-fetcher-alarms';
import { errorsByCode, workerMetric, type WorkerMetricName } from './worker-metric';

export interface MailFetcherDashboardProps {
  readonly fn: IFunction;
  readonly deadLetterQueue: IQueue;
  readonly mailboxes: readonly MailboxConfig[];
  readonly namespace: string;
  readonly alarms: MailFetcherAlarms;
  /** @default Duration.minutes(5) */
  readonly period?: Duration;
}

const WIDTH = 24;
const HALF = WIDTH / 2;
const THIRD = WIDTH / 3;
const HEIGHT = 6;

export class MailFetcherDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MailFetcherDashboardProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    const perMailbox = (name: WorkerMetricName, statistic: string = Stats.SUM, suffix = ''): IMetric[] =>
      props.mailboxes.map((m) =>
        workerMetric(name, m.id, { namespace: props.namespace, period, statistic, label: `${m.id}${suffix}` }),
      );
    const graph = (title: string, left: IMetric[], width = THIRD, right: IMetric[] = []): IWidget =>
      new GraphWidget({ title, left, right, width, height: HEIGHT, period });

    this.dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
      widgets: [
        [
          new TextWidget({
            markdown: `## mailfetch\n${props.mailboxes.length} mailbox(es); metrics in namespace \`${props.namespace}\`, dimension \`Mailbox\`.`,
            width: WIDTH,
            height: 2,
          }),
        ],
        [
          graph('Runs succeeded / failed', [...perMailbox(METRIC.RUN_SUCCEEDED, Stats.SUM, ' ok'), ...perMailbox(METRIC.RUN_FAILED, Stats.SUM, ' failed')]),
          graph('Messages fetched', perMailbox(METRIC.MESSAGES_FETCHED)),
          graph('Bytes fetched', perMailbox(METRIC.BYTES_FETCHED)),
        ],
        [
          graph('Errors by code', [errorsByCode(props.namespace, period)]),
          graph('Authentication failures', perMailbox(METRIC.AUTH_FAILURES)),
          graph('Backlog (messages still new after a run)', perMailbox(METRIC.BACKLOG, Stats.MAXIMUM)),
        ],
        [
          graph('Run duration (max, ms)', perMailbox(METRIC.RUN_DURATION_MS, Stats.MAXIMUM), HALF),
          graph('Skipped / deleted messages', [...perMailbox(METRIC.MESSAGES_SKIPPED, Stats.SUM, ' skipped'), ...perMailbox(METRIC.MESSAGES_DELETED, Stats.SUM, ' deleted')], HALF),
        ],
        [
          graph(
            'Function invocations, errors, throttles',
            [
              props.fn.metricInvocations({ period, statistic: Stats.SUM }),
              props.fn.metricErrors({ period, statistic: Stats.SUM }),
              props.fn.metricThrottles({ period, statistic: Stats.SUM }),
            ],
            THIRD,
          ),
          graph('Function duration (max, p90)', [
            props.fn.metricDuration({ period, statistic: Stats.MAXIMUM }),
            props.fn.metricDuration({ period, statistic: Stats.p(90) }),
          ]),
          graph('Dead-letter queue', [props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: Stats.MAXIMUM })]),
        ],
        [new AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms.all], width: WIDTH, height: HEIGHT })],
      ],
    });
  }
}
