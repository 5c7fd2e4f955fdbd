/**
 * Lambda entry point: the worker. Wiring only: every rule lives in lambda/sync.
 *
 * Event: `{ "action": "fetch" | "baseline", "mailboxId": "support" }`, or `"mailboxIds":
 * [...]` for a batch (worker-event.ts); or a batch of such events from the run queue (the
 * dispatcher's), through Lambda's SQS event source mapping: lambda/queue/queue-batch.ts,
 * with a per-host cap on concurrent sessions. The configuration comes from the mailbox registry;
 * an event carrying configuration, an unregistered or a disabled mailbox is refused.
 * After each run its health goes to the registry (one UpdateItem).
 *
 * Errors: server, credential and storage failures are reported in the returned summary,
 * the log and the metrics, and the invocation succeeds (the next scheduled run retries;
 * bad credentials raise the AuthFailures alarm instead of retrying). An invalid event or a
 * bug throws, so Lambda's retry and the dead-letter queue see it.
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { clientOf, once, type ClientSource } from '../client-source';
import type { MailboxConfig } from '../config/mailbox-config';
import { DataKeyRing } from '../credentials/data-key-ring';
import type { OAuthTokenProvider } from '../credentials/oauth-token-provider';
import { SealedCredentialStore } from '../credentials/sealed-credential-store';
import { SecretResolver } from '../credentials/secret-resolver';
import { DEFAULT_METRICS_NAMESPACE, DEFAULT_PREFIX, ENV } from '../env';
import { LazyEventPublisher } from '../events/lazy-event-publisher';
import { parseDetailedMetricsMailboxes } from '../observability/detailed-metrics-mailboxes';
import { fleetRunMetrics, runMetrics } from '../observability/emf';
import { createLogger, type Logger } from '../observability/logger';
import { SUMMARY_LINE, summaryLineFields } from '../observability/summary-line';
import { DEFAULT_HOST_SESSION_LIMIT, DynamoDbHostSlots, type HostSlots } from '../hosts/host-slots';
import { handleQueueBatch, isSqsEvent, type BatchResponse, type SqsEvent } from '../queue/queue-batch';
import { DynamoDbMailboxRegistry } from '../registry/dynamodb-mailbox-registry';
import { recordHealth } from '../registry/record-health';
import type { MailboxRegistry, RunAction } from '../registry/mailbox-registry';
import { runnableMailbox } from '../registry/runnable-mailbox';
import type { DynamoDbTarget } from '../state/dynamodb-api';
import { DynamoDbOutboxStore } from '../state/dynamodb-outbox-store';
import { DynamoDbStateStore } from '../state/dynamodb-state-store';
import { dynamoDbFromEnvironment } from '../state/routed-dynamodb-api';
import type { LeaseHolder } from '../state/state-store';
import { LazyMessageSink } from '../storage/lazy-message-sink';
import { runMailbox, DEFAULT_SAFETY_MARGIN_MS, type RunMailboxDeps } from '../sync/run-mailbox';
import { emptySummary, toRunError, type RunSummary } from '../sync/run-summary';
import { createSessionOpener } from '../sync/session-opener';
import { parseWorkerEvent } from './worker-event';

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
}

/**
 * What the handler needs from its environment; tests build it with clients for local servers.
 * From the environment, the clients of the services only some runs use are made (and their
 * code loaded: lazy chunks of the bundle) when a run first needs them.
 */
export interface HandlerDeps {
  readonly s3: ClientSource<S3Client>;
  /**
   * The state table's DynamoDB: the port (the Lambda's: direct requests, the SDK loaded only
   * for what they do not take) or an SDK client (tests).
   */
  readonly dynamodb: DynamoDbTarget;
  readonly bucket: string;
  readonly table: string;
  readonly prefix: string;
  readonly safetyMarginMs: number;
  readonly metricsNamespace: string;
  /** Mailboxes whose metrics also get the `Mailbox` dimension. @default none */
  readonly detailedMetricsMailboxes?: ReadonlySet<string>;
  readonly secrets: SecretResolver;
  /** OAuth tokens; the Lambda loads the provider when a mailbox first logs in with OAuth. */
  readonly oauth: ClientSource<Pick<OAuthTokenProvider, 'getAccessToken'>>;
  /** Where mailboxes are loaded from and health goes (the state table's registry in Lambda). */
  readonly registry: MailboxRegistry;
  readonly write?: (line: string) => void;
  /** The run queue, for SQS events; absent where the worker is only invoked directly. */
  readonly queue?: QueueDeps;
  /** Where `Mail Stored` events go. @default no events */
  readonly events?: EventDeps;
}

export interface EventDeps {
  readonly eventBridge: ClientSource<EventBridgeClient>;
  /** Name or ARN of the bus. */
  readonly eventBusName: string;
}

/** Sessions at once within one invocation: idle runs wait on the network, not the CPU. */
export const DEFAULT_RUN_CONCURRENCY = 4;

export interface QueueDeps {
  /** Sends deferred runs again. */
  readonly sqs: ClientSource<SQSClient>;
  readonly queueUrl: string;
  readonly hostSlots: HostSlots;
  /** @default DEFAULT_RUN_CONCURRENCY */
  readonly runConcurrency?: number;
  /** Delay of re-sent deferred runs. @default 30 s plus jitter */
  readonly deferDelaySeconds?: () => number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Reads the environment once per container; clients and caches live across warm invocations. */
export function depsFromEnvironment(env: NodeJS.ProcessEnv = process.env): HandlerDeps {
  const bucket = env[ENV.BUCKET];
  const table = env[ENV.TABLE];
  if (!bucket || !table) throw new Error(`${ENV.BUCKET} and ${ENV.TABLE} must be set`);
  // Direct to DynamoDB with the role's credentials; the SDK client (cacheMiddleware: each
  // command's middleware stack resolved once) is made only for what that path does not take.
  const dynamodb = dynamoDbFromEnvironment({ cacheMiddleware: true }, env);
  const secrets = new SecretResolver({
    // Sealed values: data keys from the state table, decrypted by KMS once per container.
    sealed: new SealedCredentialStore(new DataKeyRing({ dynamodb, tableName: table, ...optionalEnv('kmsKeyId', env[ENV.CREDENTIALS_KEY]) })),
    ...optionalEnv('secretNamePrefix', env[ENV.SECRET_PREFIX]),
  });
  return {
    s3: once(async () => (await import('./worker-s3')).workerS3Client()),
    dynamodb,
    bucket,
    table,
    prefix: env[ENV.PREFIX] ?? DEFAULT_PREFIX,
    safetyMarginMs: Number(env[ENV.SAFETY_MARGIN_MS] ?? DEFAULT_SAFETY_MARGIN_MS),
    metricsNamespace: env[ENV.METRICS_NAMESPACE] ?? DEFAULT_METRICS_NAMESPACE,
    detailedMetricsMailboxes: parseDetailedMetricsMailboxes(env[ENV.DETAILED_METRICS_MAILBOXES]),
    secrets,
    // One provider per container (its token cache lives across runs), loaded by the first OAuth mailbox.
    oauth: once(async () => new (await import('../credentials/oauth-token-provider')).OAuthTokenProvider({ secrets })),
    registry: new DynamoDbMailboxRegistry({ client: dynamodb, tableName: table }),
    ...queueFromEnvironment(env, dynamodb, table),
    ...eventsFromEnvironment(env[ENV.EVENT_BUS]),
  };
}

function queueFromEnvironment(env: NodeJS.ProcessEnv, dynamodb: DynamoDbTarget, table: string): { queue?: QueueDeps } {
  const queueUrl = env[ENV.QUEUE_URL];
  if (!queueUrl) return {};
  const limit = Number(env[ENV.HOST_SESSION_LIMIT]);
  const limits = JSON.parse(env[ENV.HOST_SESSION_LIMITS] ?? '{}') as Record<string, number>;
  const defaultLimit = Number.isInteger(limit) && limit > 0 ? limit : DEFAULT_HOST_SESSION_LIMIT;
  return {
    queue: {
      sqs: once(async () => new (await import('../queue/sqs-sdk')).SQSClient({})),
      queueUrl,
      hostSlots: new DynamoDbHostSlots({ client: dynamodb, tableName: table, defaultLimit, limits }),
    },
  };
}

function eventsFromEnvironment(eventBusName: string | undefined): { events?: EventDeps } {
  if (!eventBusName) return {};
  return { events: { eventBridge: once(async () => (await import('../events/eventbridge-publisher')).eventBridgeClient()), eventBusName } };
}

/** `{ [key]: value }` for a set, non-empty variable, else nothing. */
function optionalEnv<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value ? { [key]: value } : {}) as { [P in K]?: string };
}

/**
 * Runs the event's mailboxes, loaded from the registry, and reports each run (one summary
 * log line + metrics) and its health. A single id that is not registered or is disabled
 * throws; in a batch it gets an error summary and the others run.
 * @throws WorkerEventError for an event that is not `{ action, mailboxId | mailboxIds }`
 */
export async function handleEvent(event: unknown, context: LambdaContextLike, deps: HandlerDeps): Promise<RunSummary | RunSummary[]> {
  const request = parseWorkerEvent(event);
  const deadline = Date.now() + context.getRemainingTimeInMillis();
  const logFor = (mailbox: string): Logger =>
    createLogger({ mailbox, ...(context.awsRequestId ? { requestId: context.awsRequestId } : {}) }, deps.write ? { write: deps.write } : {});
  if (!request.batch) {
    const [id] = request.mailboxIds as [string];
    const { config } = await runnableMailbox(deps.registry, id);
    return runOne(config, request.action, deadline, logFor(id), deps, { requestId: context.awsRequestId });
  }
  const summaries: RunSummary[] = [];
  for (const id of request.mailboxIds) {
    const log = logFor(id);
    try {
      const { config } = await runnableMailbox(deps.registry, id);
      summaries.push(await runOne(config, request.action, deadline, log, deps, { requestId: context.awsRequestId }));
    } catch (err) {
      // Refused (or the registry failed): no run, no metrics for an id that may not exist.
      log.error('mailbox refused', { error: err });
      summaries.push({ ...emptySummary(id), status: 'error', complete: false, errors: [toRunError(err)] });
    }
  }
  return summaries;
}

/**
 * The run queue's batch: each message's mailboxes run under the per-host cap; failed
 * messages are reported for SQS to deliver again.
 */
export async function handleQueueEvent(event: SqsEvent, context: LambdaContextLike, deps: HandlerDeps): Promise<BatchResponse> {
  const queue = deps.queue;
  if (queue === undefined) throw new Error(`an SQS event needs ${ENV.QUEUE_URL}: the worker is not connected to a run queue`);
  const requestId = context.awsRequestId ?? `local-${Date.now()}`;
  const logFor = (mailbox: string): Logger => createLogger({ mailbox, requestId }, deps.write ? { write: deps.write } : {});
  const write = deps.write ?? ((line: string): void => void process.stdout.write(`${line}\n`));
  // The fleet metrics of the invocation's runs go out as one EMF document (emf.ts).
  const ran: RunSummary[] = [];
  try {
    return await handleQueueBatch(event, Date.now() + context.getRemainingTimeInMillis(), requestId, {
      registry: deps.registry,
      hostSlots: queue.hostSlots,
      runConcurrency: queue.runConcurrency ?? DEFAULT_RUN_CONCURRENCY,
      safetyMarginMs: deps.safetyMarginMs,
      now: queue.now ?? Date.now,
      run: (config, action, deadline, log) => runOne(config, action, deadline, log, deps, { fleetMetrics: ran, requestId }),
      logFor,
      sqs: queue.sqs,
      queueUrl: queue.queueUrl,
      log: createLogger({ requestId }, deps.write ? { write: deps.write } : {}),
      ...(queue.deferDelaySeconds === undefined ? {} : { deferDelaySeconds: queue.deferDelaySeconds }),
      write,
      metricsNamespace: deps.metricsNamespace,
    });
  } finally {
    for (const doc of fleetRunMetrics(ran, deps.metricsNamespace, Date.now())) write(JSON.stringify(doc));
  }
}

/** What one invocation adds to each run it makes. */
export interface RunOneContext {
  /** The run's fleet metrics go here for one document per invocation (a mailbox with detailed metrics still writes its own). @default written at once */
  readonly fleetMetrics?: RunSummary[];
  /** The Lambda request id: the lease names it, so a run that finds the mailbox busy can say who holds it. @default none */
  readonly requestId?: string | undefined;
}

/** Runs one mailbox and reports it: the summary line, its metrics, its health. */
export async function runOne(mailbox: MailboxConfig, action: RunAction, deadline: number, log: Logger, deps: HandlerDeps, context: RunOneContext = {}): Promise<RunSummary> {
  // The client is ours (depsFromEnvironment): nothing in its middleware a BatchWriteItem must carry.
  const state = new DynamoDbStateStore({ client: deps.dynamodb, tableName: deps.table, direct: true, onWarning: (event, fields) => log.warn(event, fields) });
  const summary = await runMailbox(
    {
      state,
      sink: runSink(deps, log),
      openSession: createSessionOpener({ secrets: deps.secrets, oauth: deps.oauth }),
      log: (event, fields) => log[syncEventLevel(event, fields)](event, fields),
      ...(deps.events ? { events: runEvents(deps, deps.events, state) } : {}),
    },
    { mailbox, deadline, safetyMarginMs: deps.safetyMarginMs, mode: action, ...(context.requestId ? { holder: lambdaLeaseHolder(context.requestId) } : {}) },
  );
  report(summary, log, deps, context.fleetMetrics);
  await recordHealth(deps.registry, summary, action, log);
  return summary;
}

/** The run's S3 sink, loaded by its first store or read. */
function runSink(deps: HandlerDeps, log: Logger): LazyMessageSink {
  return new LazyMessageSink(deps.prefix, async () => {
    const { S3MessageSink, workerDirectPutObject } = await import('./worker-s3');
    // Direct to the S3 the environment names, the client made only when needed; else the
    // client's own endpoint. The client is ours (depsFromEnvironment): nothing in its
    // middleware a PutObject must carry.
    const direct = typeof deps.s3 === 'function' ? workerDirectPutObject() : undefined;
    const client = direct ? deps.s3 : await clientOf(deps.s3);
    return new S3MessageSink({ client, bucket: deps.bucket, prefix: deps.prefix, directPutObject: direct ?? true, onWarning: (event, fields) => log.warn(event, fields) });
  });
}

/** The run's events, published once the first is loaded; the outbox's capacity counts into the run's (`state`'s). */
function runEvents(deps: HandlerDeps, events: EventDeps, state: DynamoDbStateStore): NonNullable<RunMailboxDeps['events']> {
  return {
    outbox: new DynamoDbOutboxStore({ client: deps.dynamodb, tableName: deps.table, capacity: state }),
    publisher: new LazyEventPublisher(async () => {
      const [{ EventBridgePublisher }, client] = await Promise.all([import('../events/eventbridge-publisher'), clientOf(events.eventBridge)]);
      return new EventBridgePublisher({ client, eventBusName: events.eventBusName });
    }),
    bucket: deps.bucket,
  };
}

/** `Lambda mailfetch-Worker request 1f0c…`: the function (from the runtime's environment) and the request, for the CloudWatch search. */
export function lambdaLeaseHolder(requestId: string, functionName = process.env.AWS_LAMBDA_FUNCTION_NAME): LeaseHolder {
  return { description: `Lambda ${functionName ? `${functionName} ` : ''}request ${requestId}` };
}

/**
 * A session that found nothing new says nothing the summary line does not: debug, not a
 * billed line per idle run. The `events-…` lines all tell of events kept for a later run.
 */
function syncEventLevel(event: string, fields: Record<string, unknown> | undefined): 'debug' | 'info' | 'warn' {
  if (event.startsWith('events-')) return 'warn';
  return event === 'session-finished' && fields?.new === 0 && fields.fetched === 0 ? 'debug' : 'info';
}

function report(summary: RunSummary, log: Logger, deps: HandlerDeps, fleetMetrics: RunSummary[] | undefined): void {
  const level = summary.status === 'error' ? 'error' : summary.errors.length > 0 ? 'warn' : 'info';
  log[level](SUMMARY_LINE.MESSAGE, summaryLineFields(summary));
  const write = deps.write ?? ((line: string): void => void process.stdout.write(`${line}\n`));
  const detailed = deps.detailedMetricsMailboxes?.has(summary.mailbox) ?? false;
  if (fleetMetrics !== undefined && !detailed) {
    fleetMetrics.push(summary);
    return;
  }
  for (const doc of runMetrics(summary, deps.metricsNamespace, Date.now(), detailed)) write(JSON.stringify(doc));
}

let cached: HandlerDeps | undefined;

export const handler = async (event: unknown, context: LambdaContextLike): Promise<RunSummary | RunSummary[] | BatchResponse> => {
  cached ??= depsFromEnvironment();
  return isSqsEvent(event) ? handleQueueEvent(event, context, cached) : handleEvent(event, context, cached);
};
