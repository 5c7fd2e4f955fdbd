/**
 * From due runs to queue messages. Runs are spread over the minute by their slots (each
 * mailbox's stable offset) through SQS's per-message delay, and packed: mailboxes due within
 * the same SPREAD_BUCKET_SECONDS share one message (one worker invocation), because most
 * runs find nothing new and wait on the network. Within a bucket, mailboxes of one host go
 * together: the worker reuses a host's session slot from one of them to the next.
 */
import { MAX_BATCH_MAILBOXES } from '../handlers/worker-event';
import type { DueRun } from './fleet-sweep';

/** Runs due within this many seconds of each other may share a message. */
export const SPREAD_BUCKET_SECONDS = 5;
/** SQS's largest per-message delay. */
export const MAX_DELAY_SECONDS = 900;
const MINUTE_SECONDS = 60;

export interface QueueMessage {
  /** Seconds SQS holds the message back: when its first run is due. */
  readonly delaySeconds: number;
  /** The worker event: `{ action: 'fetch', mailboxIds, dueAt }` (dueAt: the latest of their slots). */
  readonly body: string;
  readonly mailboxIds: readonly string[];
}

/**
 * @param mailboxesPerMessage 1 to MAX_BATCH_MAILBOXES
 * Slots passed by less than a minute (the tick starts a few seconds into its minute) go at
 * once; older ones (a catch-up after missed ticks) keep their second of the minute, so a
 * catch-up is spread like a normal tick instead of starting at once.
 */
export function packMessages(runs: readonly DueRun[], now: number, mailboxesPerMessage: number): QueueMessage[] {
  const perMessage = Math.max(1, Math.min(MAX_BATCH_MAILBOXES, Math.floor(mailboxesPerMessage)));
  const buckets = new Map<number, DueRun[]>();
  for (const run of runs) {
    const bucket = Math.floor(delayOf(run.slotMs, now) / SPREAD_BUCKET_SECONDS);
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), run]);
  }
  const messages: QueueMessage[] = [];
  for (const [, bucketRuns] of [...buckets].sort(([a], [b]) => a - b)) {
    const sorted = [...bucketRuns].sort((a, b) => (a.host ?? '').localeCompare(b.host ?? '') || a.slotMs - b.slotMs || a.id.localeCompare(b.id));
    for (let i = 0; i < sorted.length; i += perMessage) {
      const chunk = sorted.slice(i, i + perMessage);
      const mailboxIds = chunk.map((r) => r.id);
      // dueAt is the latest slot: the worker skips a mailbox only when it ran after all of
      // them (a duplicate), never one that still owes a run.
      const lastSlot = Math.max(...chunk.map((r) => r.slotMs));
      messages.push({
        delaySeconds: Math.min(...chunk.map((r) => delayOf(r.slotMs, now))),
        body: JSON.stringify({ action: 'fetch', mailboxIds, dueAt: new Date(lastSlot).toISOString() }),
        mailboxIds,
      });
    }
  }
  return messages;
}

/** Seconds from now to the slot; a slot missed by a minute or more waits for its second of the minute. */
export function delayOf(slotMs: number, now: number): number {
  const seconds = Math.ceil((slotMs - now) / 1000);
  if (seconds >= 0) return Math.min(seconds, MAX_DELAY_SECONDS);
  if (seconds > -MINUTE_SECONDS) return 0;
  return ((seconds % MINUTE_SECONDS) + MINUTE_SECONDS) % MINUTE_SECONDS;
}
