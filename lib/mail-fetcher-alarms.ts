/**
 * The alarms of a MailFetcher: function errors, dead-letter messages, and per mailbox
 * authentication failures and missed runs ("no successful run for N schedule periods").
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Stats, TreatMissingData, type IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { MailboxConfig } from '../lambda/config/mailbox-config';
import { METRIC } from '../lambda/observability/metric-names';
import { schedulePeriod } from './schedule-period';
import { workerMetric } from './worker-metric';

export interface MailFetcherAlarmsProps {
  readonly fn: IFunction;
  readonly deadLetterQueue: IQueue;
  readonly mailboxes: readonly MailboxConfig[];
  readonly namespace: string;
  /** A mailbox alarms after this many schedule periods without a successful run. */
  readonly missedRunPeriods: number;
  /** The period assumed for cron schedules. */
  readonly cronAlarmPeriod: Duration;
  /** @default alarms without actions */
  readonly topic?: ITopic;
}

/** Function errors and authentication failures are counted over this period. */
const ERROR_PERIOD = Duration.minutes(5);

export class MailFetcherAlarms extends Construct {
  readonly functionErrors: Alarm;
  readonly deadLetterMessages: Alarm;
  /** By mailbox id. */
  readonly authFailures: ReadonlyMap<string, Alarm>;
  /** By mailbox id. */
  readonly missedRuns: ReadonlyMap<string, Alarm>;
  /** Every alarm above. */
  readonly all: readonly Alarm[];

  constructor(scope: Construct, id: string, props: MailFetcherAlarmsProps) {
    super(scope, id);
    this.functionErrors = new Alarm(this, 'FunctionErrors', {
      alarmDescription: 'The fetch function failed (an uncaught error or a timeout); see its log group',
      metric: props.fn.metricErrors({ period: ERROR_PERIOD, statistic: Stats.SUM }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterMessages = new Alarm(this, 'DeadLetterMessages', {
      alarmDescription: 'Scheduled invocations that could not be delivered to the fetch function are waiting in the dead-letter queue',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: Stats.MAXIMUM }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const authFailures = new Map<string, Alarm>();
    const missedRuns = new Map<string, Alarm>();
    for (const mailbox of props.mailboxes) {
      const scopeOf = new Construct(this, `Mailbox-${mailbox.id}`);
      authFailures.set(
        mailbox.id,
        new Alarm(scopeOf, 'AuthFailures', {
          alarmDescription: `Mailbox ${mailbox.id}: the server or token endpoint rejected the credentials (no retry helps; fix the secret)`,
          metric: workerMetric(METRIC.AUTH_FAILURES, mailbox.id, { namespace: props.namespace, period: ERROR_PERIOD }),
          threshold: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
      const period = schedulePeriod(mailbox.schedule) ?? props.cronAlarmPeriod;
      missedRuns.set(
        mailbox.id,
        new Alarm(scopeOf, 'MissedRuns', {
          alarmDescription: `Mailbox ${mailbox.id}: no successful run for ${props.missedRunPeriods} periods of ${period.toHumanString()} (${mailbox.schedule})`,
          metric: workerMetric(METRIC.RUN_SUCCEEDED, mailbox.id, { namespace: props.namespace, period }),
          threshold: 1,
          comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: props.missedRunPeriods,
          datapointsToAlarm: props.missedRunPeriods,
          // No RunSucceeded datapoint is exactly what this alarm is about.
          treatMissingData: TreatMissingData.BREACHING,
        }),
      );
    }
    this.authFailures = authFailures;
    this.missedRuns = missedRuns;
    this.all = [this.functionErrors, this.deadLetterMessages, ...authFailures.values(), ...missedRuns.values()];

    if (props.topic !== undefined) this.addActions(new SnsAction(props.topic));
  }

  /** Notifies `actions` when any alarm goes to ALARM and back to OK. */
  addActions(...actions: IAlarmAction[]): void {
    for (const alarm of this.all) {
      alarm.addAlarmAction(...actions);
      alarm.addOkAction(...actions);
    }
  }
}
