/**
 * Lambda entry point: the worker. Wiring only: every rule lives in lambda/sync.
 *
 * Event: `{ "action": "fetch" | "baseline", "mailboxId": "support" }`, or `"mailboxIds":
 * [...]` for a batch (worker-event.ts). The configuration comes from the mailbox registry;
 * an event carrying configuration, an unregistered or a disabled mailbox is refused.
 * After each run its health goes to the registry (one UpdateItem).
 *
 * Errors: server, credential and storage failures are reported in the returned summary,
 * the log and the metrics, and the invocation succeeds (the next scheduled run retries;
 * bad credentials raise the AuthFailures alarm instead of retrying). An invalid event or a
 * bug throws, so Lambda's retry and the dead-letter queue see it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { MailboxConfig } from '../config/mailbox-config';
import { DataKeyRing } from '../credentials/data-key-ring';
import { OAuthTokenProvider } from '../credentials/oauth-token-provider';
import { SealedCredentialStore } from '../credentials/sealed-credential-store';
import { SecretResolver } from '../credentials/secret-resolver';
import { DEFAULT_METRICS_NAMESPACE, DEFAULT_PREFIX, ENV } from '../env';
import { runMetrics } from '../observability/emf';
import { createLogger, type Logger } from '../observability/logger';
import { DynamoDbMailboxRegistry } from '../registry/dynamodb-mailbox-registry';
import { recordHealth } from '../registry/record-health';
import type { MailboxRegistry, RunAction } from '../registry/mailbox-registry';
import { runnableMailbox } from '../registry/runnable-mailbox';
import { DynamoDbStateStore } from '../state/dynamodb-state-store';
import { S3MessageSink } from '../storage/s3-message-sink';
import { runMailbox, DEFAULT_SAFETY_MARGIN_MS } from '../sync/run-mailbox';
import { emptySummary, toRunError, type RunSummary } from '../sync/run-summary';
import { createSessionOpener } from '../sync/session-opener';
import { parseWorkerEvent } from './worker-event';

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
}

/** What the handler needs from its environment; tests build it with clients for local servers. */
export interface HandlerDeps {
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly bucket: string;
  readonly table: string;
  readonly prefix: string;
  readonly safetyMarginMs: number;
  readonly metricsNamespace: string;
  readonly secrets: SecretResolver;
  readonly oauth: OAuthTokenProvider;
  /** Where mailboxes are loaded from and health goes (the state table's registry in Lambda). */
  readonly registry: MailboxRegistry;
  readonly write?: (line: string) => void;
}

/** Reads the environment once per container; clients and caches live across warm invocations. */
export function depsFromEnvironment(env: NodeJS.ProcessEnv = process.env): HandlerDeps {
  const bucket = env[ENV.BUCKET];
  const table = env[ENV.TABLE];
  if (!bucket || !table) throw new Error(`${ENV.BUCKET} and ${ENV.TABLE} must be set`);
  const dynamodb = new DynamoDBClient({ cacheMiddleware: true });
  const secrets = new SecretResolver({
    // Sealed values: data keys from the state table, decrypted by KMS once per container.
    sealed: new SealedCredentialStore(new DataKeyRing({ dynamodb, tableName: table, ...optionalEnv('kmsKeyId', env[ENV.CREDENTIALS_KEY]) })),
    ...optionalEnv('secretNamePrefix', env[ENV.SECRET_PREFIX]),
  });
  return {
    // cacheMiddleware: resolve each command's middleware stack once, not on every request
    // (two requests per stored message; the saving is measured in docs/benchmarks.md).
    // Safe here: nothing adds middleware to these clients after they are created.
    s3: new S3Client({ cacheMiddleware: true }),
    dynamodb,
    bucket,
    table,
    prefix: env[ENV.PREFIX] ?? DEFAULT_PREFIX,
    safetyMarginMs: Number(env[ENV.SAFETY_MARGIN_MS] ?? DEFAULT_SAFETY_MARGIN_MS),
    metricsNamespace: env[ENV.METRICS_NAMESPACE] ?? DEFAULT_METRICS_NAMESPACE,
    secrets,
    oauth: new OAuthTokenProvider({ secrets }),
    registry: new DynamoDbMailboxRegistry({ client: dynamodb, tableName: table }),
  };
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
    return runOne(config, request.action, deadline, logFor(id), deps);
  }
  const summaries: RunSummary[] = [];
  for (const id of request.mailboxIds) {
    const log = logFor(id);
    try {
      const { config } = await runnableMailbox(deps.registry, id);
      summaries.push(await runOne(config, request.action, deadline, log, deps));
    } catch (err) {
      // Refused (or the registry failed): no run, no metrics for an id that may not exist.
      log.error('mailbox refused', { error: err });
      summaries.push({ ...emptySummary(id), status: 'error', complete: false, errors: [toRunError(err)] });
    }
  }
  return summaries;
}

async function runOne(mailbox: MailboxConfig, action: RunAction, deadline: number, log: Logger, deps: HandlerDeps): Promise<RunSummary> {
  const summary = await runMailbox(
    {
      state: new DynamoDbStateStore({ client: deps.dynamodb, tableName: deps.table }),
      sink: new S3MessageSink({ client: deps.s3, bucket: deps.bucket, prefix: deps.prefix }),
      openSession: createSessionOpener({ secrets: deps.secrets, oauth: deps.oauth }),
      log: (event, fields) => log.info(event, fields),
    },
    { mailbox, deadline, safetyMarginMs: deps.safetyMarginMs, mode: action },
  );
  report(summary, log, deps);
  await recordHealth(deps.registry, summary, action, log);
  return summary;
}

function report(summary: RunSummary, log: Logger, deps: HandlerDeps): void {
  const level = summary.status === 'error' ? 'error' : summary.errors.length > 0 ? 'warn' : 'info';
  log[level]('run summary', { summary });
  const write = deps.write ?? ((line: string): void => void process.stdout.write(`${line}\n`));
  for (const doc of runMetrics(summary, deps.metricsNamespace, Date.now())) write(JSON.stringify(doc));
}

let cached: HandlerDeps | undefined;

export const handler = async (event: unknown, context: LambdaContextLike): Promise<RunSummary | RunSummary[]> => {
  cached ??= depsFromEnvironment();
  return handleEvent(event, context, cached);
};
