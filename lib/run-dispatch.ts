/**
 * `RunDispatch`: how mailboxes get run, in a fixed number of resources whatever the fleet:
 *
 *   Scheduler: 1 schedule, rate(1 minute) --> dispatcher function --Query #REGISTRY--> state table
 *                                                   | SendMessageBatch (runs due this minute,
 *                                                   v  delayed to each mailbox's offset, packed)
 *                                               run queue --(event source mapping, maximumConcurrency)--> worker
 *                                                   | received maxReceiveCount times
 *                                                   v
 *                                            dead-letter queue
 *
 * No fixed physical names (the schedule lives in the account's default group under a
 * generated name), so `cdk destroy` followed by `cdk deploy` works.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type Function as LambdaFunction, type IFunction, type Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption, type IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DISPATCH_PARTITION } from '../lambda/dispatch/dispatch-cursor';
import { ENV } from '../lambda/env';
import { REGISTRY_PARTITION } from '../lambda/registry/registry-item';
import { handlerFunction } from './handler-function';

/** The dispatcher's tick: every minute, so a run is at most a minute late by design. */
const DISPATCH_RATE = Duration.minutes(1);
/** A tick not delivered within its minute is superseded by the next (the cursor catches up). */
const TICK_MAX_EVENT_AGE = Duration.minutes(1);
/** A tick is a registry Query and a few SendMessageBatch calls: seconds even for 10,000 mailboxes. */
const DISPATCH_TIMEOUT = Duration.minutes(1);
const DISPATCH_MEMORY_MIB = 256;
/** Lambda's advice for SQS sources: a visibility timeout of at least 6 function timeouts. */
const VISIBILITY_TIMEOUTS_PER_FUNCTION_TIMEOUT = 6;
const MAX_VISIBILITY_TIMEOUT = Duration.hours(12);
/** A run older than this is pointless: later slots have long been dispatched. */
const RUN_QUEUE_RETENTION = Duration.days(4);
/** A message that failed this many times (a bug, the registry down for long) goes to the DLQ. */
export const RUN_MAX_RECEIVE_COUNT = 5;
/** One message per invocation: packing already puts several mailboxes in one message. */
const WORKER_BATCH_SIZE = 1;
/** What the dispatcher sends: the registry Query, and Get/Update of its cursor item. */
const REGISTRY_READ_ACTIONS = ['dynamodb:Query'] as const;
const CURSOR_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;

export interface RunDispatchProps {
  readonly table: ITable;
  /** The worker: consumes the run queue (and re-sends deferred runs to it). */
  readonly worker: IFunction;
  readonly deadLetterQueue: IQueue;
  readonly workerTimeout: Duration;
  readonly runtime: Runtime;
  readonly logRetention: RetentionDays;
  readonly metricsNamespace: string;
  readonly maxConcurrentInvocations: number;
  readonly mailboxesPerMessage: number;
  readonly stalePeriods: number;
  /** IANA name for cron(...) schedules. @default UTC */
  readonly timeZone?: string;
}

export class RunDispatch extends Construct {
  readonly queue: Queue;
  readonly function: LambdaFunction;
  readonly schedule: Schedule;
  readonly schedulerRole: Role;

  constructor(scope: Construct, id: string, props: RunDispatchProps) {
    super(scope, id);
    this.queue = this.createQueue(props);
    this.function = this.createDispatcher(props);
    this.schedulerRole = this.createSchedulerRole();
    this.schedule = new Schedule(this, 'Schedule', {
      description: 'mailfetch: dispatches the mailboxes due this minute to the run queue',
      schedule: ScheduleExpression.rate(DISPATCH_RATE),
      target: new LambdaInvoke(this.function, {
        role: this.schedulerRole,
        input: ScheduleTargetInput.fromObject({ tick: 'dispatch' }),
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: 0,
        maxEventAge: TICK_MAX_EVENT_AGE,
      }),
    });
    props.worker.addEventSource(
      new SqsEventSource(this.queue, { batchSize: WORKER_BATCH_SIZE, maxConcurrency: props.maxConcurrentInvocations, reportBatchItemFailures: true }),
    );
    // Deferred runs (host at its cap) go back to the queue as new messages.
    this.queue.grantSendMessages(props.worker);
  }

  private createQueue(props: RunDispatchProps): Queue {
    const visibility = Math.min(props.workerTimeout.toSeconds() * VISIBILITY_TIMEOUTS_PER_FUNCTION_TIMEOUT, MAX_VISIBILITY_TIMEOUT.toSeconds());
    return new Queue(this, 'RunQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(visibility),
      retentionPeriod: RUN_QUEUE_RETENTION,
      deadLetterQueue: { queue: props.deadLetterQueue, maxReceiveCount: RUN_MAX_RECEIVE_COUNT },
    });
  }

  private createDispatcher(props: RunDispatchProps): LambdaFunction {
    const logGroup = new LogGroup(this, 'LogGroup', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'mailfetch dispatcher: its log group, Query of the registry partition, its cursor item, SendMessage to the run queue',
    });
    logGroup.grantWrite(role);
    Grant.addToPrincipal({
      grantee: role,
      actions: [...REGISTRY_READ_ACTIONS],
      resourceArns: [props.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [REGISTRY_PARTITION] } },
    });
    Grant.addToPrincipal({
      grantee: role,
      actions: [...CURSOR_ACTIONS],
      resourceArns: [props.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [DISPATCH_PARTITION] } },
    });
    this.queue.grantSendMessages(role);
    const fn = handlerFunction(this, 'Function', 'dispatch', {
      description: 'mailfetch dispatcher: queues the mailboxes due this minute (one schedule for the whole fleet)',
      runtime: props.runtime,
      architecture: Architecture.ARM_64,
      memorySize: DISPATCH_MEMORY_MIB,
      timeout: DISPATCH_TIMEOUT,
      role,
      logGroup,
      environment: {
        [ENV.TABLE]: props.table.tableName,
        [ENV.QUEUE_URL]: this.queue.queueUrl,
        [ENV.METRICS_NAMESPACE]: props.metricsNamespace,
        [ENV.STALE_PERIODS]: String(props.stalePeriods),
        [ENV.MAILBOXES_PER_MESSAGE]: String(props.mailboxesPerMessage),
        ...(props.timeZone === undefined ? {} : { [ENV.SCHEDULE_TIME_ZONE]: props.timeZone }),
      },
      // A failed tick is redone by the next one (the cursor has not moved); it is also
      // recorded in the dead-letter queue, whose alarm makes a broken dispatcher visible.
      retryAttempts: 0,
      onFailure: new SqsDestination(props.deadLetterQueue),
      // No reserved concurrency: reserving even 1 fails to deploy in accounts still at the
      // new-account limit of 10. Two ticks at once are harmless (the cursor, the worker's dueAt).
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to the fetch function\'s runtime (Node.js 22), which the bundle targets and the tests run on.',
    });
    return fn;
  }

  private createSchedulerRole(): Role {
    const stack = Stack.of(this);
    const role = new Role(this, 'SchedulerRole', {
      description: 'EventBridge Scheduler: invokes the mailfetch dispatcher, sends undeliverable ticks to the dead-letter queue',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          // The schedule's name is generated (no fixed physical names): its group is the default one.
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: 'default/*' }) },
        },
      }),
    });
    const arn = Stack.of(this).resolve(this.function.functionArn) as { 'Fn::GetAtt'?: [string, string] };
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${(arn['Fn::GetAtt'] ?? ['?'])[0]}.Arn>:*]`,
      reason: 'Written by grantInvoke, which also covers the function\'s versions and aliases (`<arn>:*`); the schedule invokes the unqualified dispatcher.',
    });
    return role;
  }
}
