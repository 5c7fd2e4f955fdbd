/**
 * The worker's side of the run queue: Lambda's SQS event source mapping hands it a batch
 * of messages (each a worker event of several mailboxes); it answers with the messages
 * that failed (`reportBatchItemFailures`), which SQS delivers again and, after
 * maxReceiveCount receives, moves to the dead-letter queue.
 *
 * Deferred runs (the host at its cap, no time left) are not failures: they are sent again
 * as a new message with a delay, and the original is deleted. A batch item failure would
 * bring them back too, but every receive counts towards maxReceiveCount, so a host busy
 * for long would push healthy runs into the dead-letter queue: late must never mean
 * dropped. A message that fails (registry or slot table down, a bug) is retried whole;
 * its mailboxes that ran meanwhile are skipped as superseded (their lastRunAt is past
 * `dueAt`).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { clientOf, type ClientSource } from '../client-source';
import { parseWorkerEvent, type WorkerEvent } from '../handlers/worker-event';
import type { Logger } from '../observability/logger';
import { runMessage, type MailboxDisposition, type RunMessageDeps } from './run-message';

/** A deferred run comes back after this many seconds, plus up to DEFER_JITTER_SECONDS. */
export const DEFER_DELAY_SECONDS = 30;
const DEFER_JITTER_SECONDS = 15;

/** The part of Lambda's SQS event the worker reads. */
export interface SqsRecord {
  readonly messageId: string;
  readonly body: string;
  readonly eventSource?: string;
  readonly attributes?: { readonly ApproximateReceiveCount?: string };
}
export interface SqsEvent {
  readonly Records: readonly SqsRecord[];
}
export interface BatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

export function isSqsEvent(event: unknown): event is SqsEvent {
  const records = (event as { Records?: unknown } | null)?.Records;
  return Array.isArray(records) && records.every((r) => (r as SqsRecord | null)?.eventSource === 'aws:sqs');
}

export interface QueueBatchDeps extends Omit<RunMessageDeps, 'owner'> {
  /** Sends deferred runs again; made (its SDK loaded) by the first message that defers. */
  readonly sqs: ClientSource<SQSClient>;
  readonly queueUrl: string;
  readonly log: Logger;
  /** @default DEFER_DELAY_SECONDS plus jitter */
  readonly deferDelaySeconds?: () => number;
  /** Where the EMF line goes. */
  readonly write: (line: string) => void;
  readonly metricsNamespace: string;
}

export async function handleQueueBatch(event: SqsEvent, deadline: number, requestId: string, deps: QueueBatchDeps): Promise<BatchResponse> {
  const failures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    const ok = await handleRecord(record, deadline, { ...deps, owner: `${requestId}/${record.messageId}` });
    if (!ok) failures.push({ itemIdentifier: record.messageId });
  }
  return { batchItemFailures: failures };
}

async function handleRecord(record: SqsRecord, deadline: number, deps: QueueBatchDeps & RunMessageDeps): Promise<boolean> {
  const log = deps.log.child({ messageId: record.messageId, receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1) });
  let event: WorkerEvent;
  try {
    event = parseWorkerEvent(JSON.parse(record.body) as unknown);
  } catch (err) {
    // Never valid: retried until maxReceiveCount, then kept in the dead-letter queue to look at.
    log.error('queue message refused', { error: err });
    return false;
  }
  const outcome = await runMessage(event, deadline, deps);
  const ids = (d: MailboxDisposition): string[] => [...outcome].filter(([, v]) => v === d).map(([id]) => id);
  const counts = Object.fromEntries((['ran', 'superseded', 'not-due', 'refused', 'deferred', 'failed'] as const).map((d) => [d, ids(d).length]));
  deps.write(JSON.stringify(queueMetrics(counts.deferred ?? 0, counts.superseded ?? 0, deps.metricsNamespace, deps.now())));
  if (ids('failed').length > 0) {
    log.warn('queue message failed; it is retried whole', { ...counts, failed: ids('failed') });
    return false;
  }
  const deferred = ids('deferred');
  if (deferred.length === 0) {
    log.info('queue message done', counts);
    return true;
  }
  return requeue(event, deferred, log, counts, deps);
}

async function requeue(event: WorkerEvent, deferred: string[], log: Logger, counts: object, deps: QueueBatchDeps): Promise<boolean> {
  const delay = deps.deferDelaySeconds?.() ?? DEFER_DELAY_SECONDS + Math.floor(Math.random() * DEFER_JITTER_SECONDS);
  const body = { action: event.action, mailboxIds: deferred, ...(event.dueAtMs === undefined ? {} : { dueAt: new Date(event.dueAtMs).toISOString() }) };
  // Outside the try: code that does not load is a broken deployment, not a message to retry.
  const { SendMessageCommand } = await import('./sqs-sdk');
  try {
    const sqs = await clientOf(deps.sqs);
    await sqs.send(new SendMessageCommand({ QueueUrl: deps.queueUrl, MessageBody: JSON.stringify(body), DelaySeconds: delay }));
    log.info('queue message done; deferred runs sent again', { ...counts, deferred, delaySeconds: delay });
    return true;
  } catch (err) {
    // Not sent: keep the original (SQS delivers it again); its runs that happened are skipped then.
    log.warn('deferred runs could not be sent again; the message is retried', { error: err, deferred });
    return false;
  }
}

/** Dimensionless: runs deferred (a host at its cap, or no time left) and duplicates skipped. */
function queueMetrics(deferred: number, superseded: number, namespace: string, timestamp: number): object {
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [[]], Metrics: [{ Name: 'DeferredRuns', Unit: 'Count' }, { Name: 'SupersededRuns', Unit: 'Count' }] }],
    },
    DeferredRuns: deferred,
    SupersededRuns: superseded,
  };
}
