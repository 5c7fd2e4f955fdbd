/**
 * Queues messages with SendMessageBatch, 10 entries per request (SQS's limit; one request
 * is billed per 64 KB chunk of its payload, and packed messages stay far below that).
 * Entries SQS reports as failed with a server fault are sent again; sender faults (a bug
 * here) are not.
 */
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { DispatchError, DispatchErrorCode } from './errors';
import type { QueueMessage } from './pack-messages';

/** SQS's limit of entries per SendMessageBatch. */
export const SQS_BATCH_ENTRIES = 10;
/** Rounds of re-sending the entries SQS failed (the SDK retries whole failed requests itself). */
const SEND_ROUNDS = 3;
/** Requests in flight at once: a tick of a large fleet is a few dozen requests. */
const SEND_CONCURRENCY = 4;

export interface SendResult {
  readonly messages: number;
  readonly requests: number;
}

/** @throws DispatchError SEND_FAILED naming how many messages could not be queued */
export async function sendMessages(sqs: SQSClient, queueUrl: string, messages: readonly QueueMessage[]): Promise<SendResult> {
  const batches: SendMessageBatchRequestEntry[][] = [];
  for (let i = 0; i < messages.length; i += SQS_BATCH_ENTRIES) {
    batches.push(
      messages.slice(i, i + SQS_BATCH_ENTRIES).map((m, j) => ({ Id: `m${i + j}`, MessageBody: m.body, DelaySeconds: m.delaySeconds })),
    );
  }
  let requests = 0;
  const failures: string[] = [];
  await forEachLimited(batches, SEND_CONCURRENCY, async (batch) => {
    let pending = batch;
    let lastError = '';
    for (let round = 0; round < SEND_ROUNDS && pending.length > 0; round++) {
      requests++;
      let failed;
      try {
        failed = (await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }))).Failed ?? [];
      } catch (err) {
        // The SDK already retried the request; one more round each is cheap next to a lost tick.
        lastError = (err as Error).name;
        continue;
      }
      for (const f of failed.filter((e) => e.SenderFault)) failures.push(`${f.Id}: ${f.Code}`);
      const retry = new Set(failed.filter((f) => !f.SenderFault).map((f) => f.Id));
      lastError = failed.find((f) => !f.SenderFault)?.Code ?? lastError;
      pending = pending.filter((e) => retry.has(e.Id));
    }
    if (pending.length > 0) failures.push(`${pending.length} message(s) still failing after ${SEND_ROUNDS} rounds (${lastError})`);
  });
  if (failures.length > 0) {
    throw new DispatchError(DispatchErrorCode.SEND_FAILED, `SendMessageBatch to ${queueUrl} failed: ${failures.slice(0, 5).join('; ')}`);
  }
  return { messages: messages.length, requests };
}

/** Runs `act` on every item, at most `limit` at once. */
export async function forEachLimited<T>(items: readonly T[], limit: number, act: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await act(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
