/**
 * The outbox of `Mail Stored` events: the identities of stored messages whose event may not
 * be published yet, one batch per record batch, written durably BEFORE those records (see
 * lambda/sync/event-outbox.ts for the ordering). A record that is durable therefore always
 * has its outbox entry until the event was published; a later run re-sends what is left.
 * The entries hold identities only: the records hold the rest (key, size, SHA-256, times).
 */

/** Identities per outbox batch: as many as one batch of stored records. */
export const MAX_OUTBOX_IDENTITIES = 25;

export interface OutboxBatch {
  /** Opaque, unique; orders batches oldest first. */
  readonly id: string;
  readonly identities: readonly string[];
  /** ISO time it was written. */
  readonly createdAt: string;
}

export interface OutboxStore {
  /**
   * Writes a batch of identities (1..MAX_OUTBOX_IDENTITIES); resolves once it is durable.
   * Once `signal` aborted nothing is sent (the run lost its session: see putStoredRecords).
   */
  add(mailboxId: string, identities: readonly string[], nowIso: string, options?: { readonly signal?: AbortSignal }): Promise<OutboxBatch>;
  /** The mailbox's batches, oldest first, at most `limit`. */
  list(mailboxId: string, limit: number): Promise<OutboxBatch[]>;
  /**
   * Keeps only `remaining` of the batch (the identities whose event is still unpublished);
   * removes the batch when none is left. A batch already gone is no error.
   */
  settle(mailboxId: string, batch: OutboxBatch, remaining: readonly string[]): Promise<void>;
}
