/**
 * Lambda entry point: the dispatcher, invoked every minute by one EventBridge Scheduler
 * schedule. Wiring only: the tick is lambda/dispatch/dispatch-tick.ts. The event is
 * ignored (the clock decides the window), so a duplicate delivery is harmless.
 *
 * Errors: a tick that cannot read the registry or queue its messages throws; the cursor
 * has not moved, so the next tick dispatches the same slots (late, not lost).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DispatchError, DispatchErrorCode } from '../dispatch/errors';
import { runDispatchTick, type DispatchDeps, type DispatchSummary } from '../dispatch/dispatch-tick';
import { DEFAULT_METRICS_NAMESPACE, ENV } from '../env';
import { createLogger } from '../observability/logger';

/** The construct's defaults, for an environment that lacks them. */
const DEFAULT_STALE_PERIODS = 3;
const DEFAULT_MAILBOXES_PER_MESSAGE = 40;

export function dispatchDepsFromEnvironment(env: NodeJS.ProcessEnv = process.env): DispatchDeps {
  const table = env[ENV.TABLE];
  const queueUrl = env[ENV.QUEUE_URL];
  if (!table || !queueUrl) throw new DispatchError(DispatchErrorCode.MISCONFIGURED, `${ENV.TABLE} and ${ENV.QUEUE_URL} must be set`);
  const timeZone = env[ENV.SCHEDULE_TIME_ZONE];
  return {
    dynamodb: new DynamoDBClient({}),
    table,
    sqs: new SQSClient({}),
    queueUrl,
    metricsNamespace: env[ENV.METRICS_NAMESPACE] ?? DEFAULT_METRICS_NAMESPACE,
    stalePeriods: positiveInteger(env[ENV.STALE_PERIODS]) ?? DEFAULT_STALE_PERIODS,
    mailboxesPerMessage: positiveInteger(env[ENV.MAILBOXES_PER_MESSAGE]) ?? DEFAULT_MAILBOXES_PER_MESSAGE,
    ...(timeZone ? { timeZone } : {}),
    log: createLogger({ component: 'dispatcher' }),
  };
}

function positiveInteger(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isInteger(n) && n > 0 ? n : undefined;
}

let cached: DispatchDeps | undefined;

/** The tick's counts (not the list of due runs: the response of an async invocation is dropped anyway). */
export const handler = async (): Promise<Omit<DispatchSummary, 'sweep'> & { dispatched: number }> => {
  cached ??= dispatchDepsFromEnvironment();
  const { sweep, ...summary } = await runDispatchTick(cached, Date.now());
  return { ...summary, dispatched: sweep?.due.length ?? 0 };
};
