/**
 * The alarms of a MailFetcher, fixed in number whatever the size of the fleet: function
 * errors, dead-letter messages, authentication failures, the share of failed runs, stale
 * mailboxes, and (with events) Mail Stored events EventBridge keeps refusing. Which mailbox is in trouble is the registry's business
 * (`mailfetch mailboxes status`) and the dashboard's worst-mailboxes table, not one alarm
 * per mailbox (CloudWatch bills each alarm, and an alarm-status widget shows 100 at most).
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Stats, TreatMissingData, type IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DISPATCHER_METRIC, METRIC } from '../lambda/observability/metric-names';
import { workerMetric } from './worker-metric';

export interface MailFetcherAlarmsProps {
  readonly fn: IFunction;
  readonly deadLetterQueue: IQueue;
  readonly namespace: string;
  /** How many periods without a successful run make a mailbox stale (for the description). */
  readonly missedRunPeriods: number;
  /** FailedRuns fires at this percentage of failed runs (0 to 100). */
  readonly failedRunAlarmPercent: number;
  /** The worker publishes Mail Stored events: alarm when EventBridge keeps refusing them. @default false */
  readonly events?: boolean;
  /** @default alarms without actions */
  readonly topic?: ITopic;
}

/** Function errors, authentication failures and failed runs are counted over this period. */
const ERROR_PERIOD = Duration.minutes(5);
/**
 * The share of failed runs must stay high this many periods in a row: one server's hiccup
 * fails a burst of runs that the next ones make up for.
 */
const FAILED_RUN_PERIODS = 3;
/** StaleMailboxes is evaluated over this period (the dispatcher reports it every sweep). */
const STALE_PERIOD = Duration.minutes(5);
/**
 * Two periods in a row: the dispatcher's report can fall just outside one period; a
 * mailbox is only stale after missedRunPeriods of its own periods anyway.
 */
const STALE_EVALUATION_PERIODS = 2;
const PERCENT = 100;
/**
 * Events refused this many periods in a row: a throttled burst is re-sent by the next runs
 * by itself; a bus that refuses for 15 minutes (a missing permission, a deleted bus) does not.
 */
const EVENTS_FAILED_PERIODS = 3;

export class MailFetcherAlarms extends Construct {
  readonly functionErrors: Alarm;
  readonly deadLetterMessages: Alarm;
  /** Credentials rejected anywhere in the fleet. */
  readonly authFailures: Alarm;
  /** The share of the fleet's runs that failed. */
  readonly failedRuns: Alarm;
  /** Enabled mailboxes without a successful run for `missedRunPeriods` periods (reported by the dispatcher). */
  readonly staleMailboxes: Alarm;
  /** Mail Stored events refused for EVENTS_FAILED_PERIODS periods in a row (only with `events`). */
  readonly eventsNotPublished: Alarm | undefined;
  /** Every alarm above: five, six with events. */
  readonly all: readonly Alarm[];

  constructor(scope: Construct, id: string, props: MailFetcherAlarmsProps) {
    super(scope, id);
    const atLeastOnce = {
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    };
    this.functionErrors = new Alarm(this, 'FunctionErrors', {
      alarmDescription: 'The fetch function failed (an uncaught error, a refused event or a timeout); see its log group',
      metric: props.fn.metricErrors({ period: ERROR_PERIOD, statistic: Stats.SUM }),
      ...atLeastOnce,
    });
    this.deadLetterMessages = new Alarm(this, 'DeadLetterMessages', {
      alarmDescription: 'Runs that could not be delivered to the fetch function, or failed after its retries, are waiting in the dead-letter queue',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: ERROR_PERIOD, statistic: Stats.MAXIMUM }),
      ...atLeastOnce,
    });
    this.authFailures = new Alarm(this, 'AuthFailures', {
      alarmDescription:
        'A server or token endpoint rejected a mailbox\'s credentials (no retry helps; fix the secret). Which mailbox: mailfetch mailboxes status, or the dashboard\'s worst mailboxes',
      metric: workerMetric(METRIC.AUTH_FAILURES, { namespace: props.namespace, period: ERROR_PERIOD }),
      ...atLeastOnce,
    });
    this.failedRuns = new Alarm(this, 'FailedRuns', {
      alarmDescription: `At least ${props.failedRunAlarmPercent}% of the fleet's runs failed for ${FAILED_RUN_PERIODS} periods of ${ERROR_PERIOD.toHumanString()} in a row (errors by code: the dashboard)`,
      // RunFailed is 1 per failed run and 0 per successful one: its average is the share that failed.
      metric: workerMetric(METRIC.RUN_FAILED, { namespace: props.namespace, period: ERROR_PERIOD, statistic: Stats.AVERAGE }),
      threshold: props.failedRunAlarmPercent / PERCENT,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: FAILED_RUN_PERIODS,
      datapointsToAlarm: FAILED_RUN_PERIODS,
      // No runs, no ratio: a fleet that stopped running is StaleMailboxes' business.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.staleMailboxes = new Alarm(this, 'StaleMailboxes', {
      alarmDescription: `An enabled mailbox had no successful run for ${props.missedRunPeriods} of its periods (which ones: mailfetch mailboxes status). No report at all means the dispatcher itself is not running`,
      metric: workerMetric(DISPATCHER_METRIC.STALE_MAILBOXES, { namespace: props.namespace, period: STALE_PERIOD, statistic: Stats.MAXIMUM }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: STALE_EVALUATION_PERIODS,
      datapointsToAlarm: STALE_EVALUATION_PERIODS,
      // The dispatcher reports every sweep, 0 included: silence means nothing runs at all.
      treatMissingData: TreatMissingData.BREACHING,
    });
    this.eventsNotPublished = props.events ? eventsAlarm(this, props.namespace) : undefined;
    this.all = [this.functionErrors, this.deadLetterMessages, this.authFailures, this.failedRuns, this.staleMailboxes, ...(this.eventsNotPublished ? [this.eventsNotPublished] : [])];

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

function eventsAlarm(scope: Construct, namespace: string): Alarm {
  return new Alarm(scope, 'EventsNotPublished', {
    alarmDescription: `EventBridge refused Mail Stored events for ${EVENTS_FAILED_PERIODS} periods of ${ERROR_PERIOD.toHumanString()} in a row. Nothing is lost: they wait in the outbox and go out once it takes them. Check the function's events:PutEvents permission and the bus (log lines "events-not-published")`,
    metric: workerMetric(METRIC.EVENTS_FAILED, { namespace, period: ERROR_PERIOD }),
    threshold: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: EVENTS_FAILED_PERIODS,
    datapointsToAlarm: EVENTS_FAILED_PERIODS,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}
