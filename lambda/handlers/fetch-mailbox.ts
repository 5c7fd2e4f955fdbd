/**
 * Lambda entry point: one mailbox per invocation, as an EventBridge Scheduler schedule
 * sends it. Wiring only: every rule lives in lambda/sync.
 *
 * Event: the mailbox's configuration (fetch), or `{ "action": "fetch" | "baseline" |
 * "reset", "mailbox": {...} }` for operator actions.
 *
 * Errors: server, credential and storage failures are reported in the returned summary,
 * the log and the metrics, and the invocation succeeds (the next scheduled run retries;
 * bad credentials raise the AuthFailures alarm instead of retrying). An invalid event or a
 * bug throws, so Lambda's retry and the dead-letter queue see it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { parseMailbox } from '../config/validate-config';
import { OAuthTokenProvider } from '../credentials/oauth-token-provider';
import { SecretResolver } from '../credentials/secret-resolver';
import { DEFAULT_METRICS_NAMESPACE, DEFAULT_PREFIX, ENV } from '../env';
import { runMetrics } from '../observability/emf';
import { createLogger, type Logger } from '../observability/logger';
import { DynamoDbStateStore } from '../state/dynamodb-state-store';
import { S3MessageSink } from '../storage/s3-message-sink';
import { runMailbox, DEFAULT_SAFETY_MARGIN_MS } from '../sync/run-mailbox';
import { emptySummary, type RunSummary } from '../sync/run-summary';
import { createSessionOpener } from '../sync/session-opener';

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
}

export type FetchAction = 'fetch' | 'baseline' | 'reset';

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
  readonly write?: (line: string) => void;
}

/** Reads the environment once per container; clients and caches live across warm invocations. */
export function depsFromEnvironment(env: NodeJS.ProcessEnv = process.env): HandlerDeps {
  const bucket = env[ENV.BUCKET];
  const table = env[ENV.TABLE];
  if (!bucket || !table) throw new Error(`${ENV.BUCKET} and ${ENV.TABLE} must be set`);
  const secrets = new SecretResolver();
  return {
    // cacheMiddleware: resolve each command's middleware stack once, not on every request
    // (two requests per stored message; the saving is measured in docs/benchmarks.md).
    // Safe here: nothing adds middleware to these clients after they are created.
    s3: new S3Client({ cacheMiddleware: true }),
    dynamodb: new DynamoDBClient({ cacheMiddleware: true }),
    bucket,
    table,
    prefix: env[ENV.PREFIX] ?? DEFAULT_PREFIX,
    safetyMarginMs: Number(env[ENV.SAFETY_MARGIN_MS] ?? DEFAULT_SAFETY_MARGIN_MS),
    metricsNamespace: env[ENV.METRICS_NAMESPACE] ?? DEFAULT_METRICS_NAMESPACE,
    secrets,
    oauth: new OAuthTokenProvider({ secrets }),
  };
}

/** Runs one action for one mailbox and reports it (one summary log line + metrics). */
export async function handleEvent(event: unknown, context: LambdaContextLike, deps: HandlerDeps): Promise<RunSummary> {
  const { action, mailboxJson } = unwrap(event);
  const mailbox = parseMailbox(mailboxJson, 'event.mailbox');
  const log = createLogger({ mailbox: mailbox.id, ...(context.awsRequestId ? { requestId: context.awsRequestId } : {}) }, deps.write ? { write: deps.write } : {});
  const state = new DynamoDbStateStore({ client: deps.dynamodb, tableName: deps.table });
  if (action === 'reset') {
    const removed = await state.resetMailbox(mailbox.id);
    log.info('mailbox state reset', { removed });
    return { ...emptySummary(mailbox.id), complete: true };
  }
  const summary = await runMailbox(
    {
      state,
      sink: new S3MessageSink({ client: deps.s3, bucket: deps.bucket, prefix: deps.prefix }),
      openSession: createSessionOpener({ secrets: deps.secrets, oauth: deps.oauth }),
      log: (event, fields) => log.info(event, fields),
    },
    { mailbox, deadline: Date.now() + context.getRemainingTimeInMillis(), safetyMarginMs: deps.safetyMarginMs, mode: action },
  );
  report(summary, log, deps);
  return summary;
}

function report(summary: RunSummary, log: Logger, deps: HandlerDeps): void {
  const level = summary.status === 'error' ? 'error' : summary.errors.length > 0 ? 'warn' : 'info';
  log[level]('run summary', { summary });
  const write = deps.write ?? ((line: string): void => void process.stdout.write(`${line}\n`));
  for (const doc of runMetrics(summary, deps.metricsNamespace, Date.now())) write(JSON.stringify(doc));
}

function unwrap(event: unknown): { action: FetchAction; mailboxJson: unknown } {
  if (event && typeof event === 'object' && 'mailbox' in event) {
    const { action = 'fetch', mailbox } = event as { action?: unknown; mailbox: unknown };
    if (action !== 'fetch' && action !== 'baseline' && action !== 'reset') throw new Error(`event.action: must be fetch, baseline or reset`);
    return { action, mailboxJson: mailbox };
  }
  return { action: 'fetch', mailboxJson: event };
}

let cached: HandlerDeps | undefined;

export const handler = async (event: unknown, context: LambdaContextLike): Promise<RunSummary> => {
  cached ??= depsFromEnvironment();
  return handleEvent(event, context, cached);
};
