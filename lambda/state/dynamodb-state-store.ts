/**
 * DynamoDB adapter of `StateStore`: one table, one partition per mailbox.
 *
 * Item layout (table definition in `table-schema.ts`):
 *
 * | item           | pk                | sk               | attributes                                        |
 * |----------------|-------------------|------------------|---------------------------------------------------|
 * | message record | `MBX#<mailboxId>` | `MSG#<identity>` | identity, uid, status, size (N), firstSeenAt, and |
 * |                |                   |                  | when set: objectKey, sha256, bodySha256,          |
 * |                |                   |                  | headerFingerprint,                                |
 * |                |                   |                  | storedAt, skipReason, deleteAfter, deletedAt,     |
 * |                |                   |                  | listSize (N), attempts (N), baselineCopies (N);   |
 * |                |                   |                  | gsi1pk, expiresAt (see below)                     |
 * | summary        | `MBX#<mailboxId>` | `#SUMMARY`       | count (N), listingHash, updatedAt, lastFingerprint|
 * |                |                   |                  | fingerprintIdentities (BOOL), auditedAt           |
 * | lease          | `MBX#<mailboxId>` | `#LEASE`         | owner, leaseExpiresAtMs (N, epoch ms), and when   |
 * |                |                   |                  | written: leaseAcquiredAtMs (N), holder,           |
 * |                |                   |                  | holderHost, holderPid (N) (see LeaseHolder)       |
 *
 * - Every MessageRecord field is its own attribute (strings S, size N); undefined fields
 *   are omitted. Identities and mailbox ids are untrusted: they are used verbatim as key
 *   strings (any characters) but a key over DynamoDB's limit (sort key 1,024 bytes,
 *   partition key 2,048 bytes in UTF-8) is refused with StateStoreError INVALID.
 * - Sparse GSI `pendingDelete` (gsi1pk HASH, deleteAfter RANGE, projection ALL):
 *   `gsi1pk = MBX#<mailboxId>` is written only while a server-side deletion is pending
 *   (status `stored`, deleteAfter set, deletedAt not set). An item without gsi1pk is not in
 *   the index, so markDeleted / expireRecords take a record out by removing gsi1pk alone;
 *   `deleteAfter` stays as the record's field. deleteAfter must be canonical ISO-8601 UTC
 *   (`Date.toISOString()`), because the index compares it as a string.
 * - `expiresAt` (N, epoch seconds) is the table's TTL attribute, set by expireRecords
 *   (now + retainDays) and then kept: repeated calls never postpone the expiry. A later
 *   putRecord that replaces the item clears it, and so does markDeleted: the record of a
 *   message that left the server after it was stored is a tombstone, kept for good.
 * - The summary is one small item: reading it costs one read unit (half with eventually
 *   consistent reads), whatever the size of the mailbox. That keeps steady runs O(new).
 */
import type { AttributeValue, ConsumedCapacity as DynamoDbConsumedCapacity, QueryCommandInput, WriteRequest } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSdkClient, type DynamoDbApi, type DynamoDbInput, type DynamoDbOperation, type DynamoDbOutput, type DynamoDbTarget } from './dynamodb-api';
import { directDynamoDbFor, type RoutedDynamoDbApi } from './routed-dynamodb-api';
import { dynamoDbApiOf } from './sdk-dynamodb-api';
import { StateStoreError, StateStoreErrorCode, isStateStoreError, toStateStoreError } from './errors';
import type {
  ConsumedCapacity,
  Lease,
  LeaseHolder,
  MailboxSummary,
  MessageRecord,
  RecordStatus,
  StateStore,
} from './state-store';
import { MAX_STORED_RECORDS_PER_CALL } from './state-store';
import {
  LEASE_SORT_KEY,
  MESSAGE_KEY_PREFIX,
  PARTITION_KEY,
  PENDING_DELETE_INDEX,
  PENDING_DELETE_PARTITION_KEY,
  PENDING_DELETE_SORT_KEY,
  SORT_KEY,
  SUMMARY_SORT_KEY,
  TTL_ATTRIBUTE,
  mailboxKey,
  messageKey,
} from './table-schema';

export interface DynamoDbStateStoreOptions {
  /**
   * Where requests go: the DynamoDB port (the Lambda worker's, direct to DynamoDB with the
   * SDK behind it: routed-dynamodb-api.ts), or an SDK client (tests and the command point
   * one at DynamoDB Local or dynalite).
   */
  readonly client: DynamoDbTarget;
  readonly tableName: string;
  /**
   * Strongly consistent reads for getSummary, getRecords and listRecords: those reads
   * decide what is fetched, and a stale read right after the previous run's writes would
   * fetch a message twice. Eventually consistent reads cost half. (The pending-delete GSI
   * is always eventually consistent: DynamoDB offers nothing else on a GSI.)
   * @default true
   */
  readonly consistentReads?: boolean;
  /**
   * With an SDK client: its requests are signed here and sent over kept-alive sockets instead
   * of through the SDK, which costs several times the CPU per request (see
   * direct-dynamodb.ts); whatever that path cannot do goes through the SDK as before. Only
   * for a client whose middleware adds nothing a request must carry. (The port decides for itself.)
   * @default false
   */
  readonly direct?: boolean;
  /** Told when the direct path turns itself off: `direct-dynamodb-disabled` with the table and the reason. */
  readonly onWarning?: (event: string, fields: Record<string, unknown>) => void;
}

// ---------------------------------------------------------------------------------------
// Limits (DynamoDB's own, and our politeness towards it)

/** BatchGetItem takes at most 100 keys per request. */
const BATCH_GET_MAX_KEYS = 100;
/** BatchWriteItem takes at most 25 requests per call. */
const BATCH_WRITE_MAX_REQUESTS = 25;
/** Parallel batch requests per call: enough to hide latency without a throttling burst. */
const BATCH_CONCURRENCY = 4;
/** Parallel single-item updates in markDeleted / expireRecords. */
const UPDATE_CONCURRENCY = 16;
/**
 * Unprocessed keys/items mean DynamoDB throttled part of a batch (the SDK does not retry
 * those). AWS asks for exponential backoff; full jitter spreads concurrent runs apart.
 * 10 attempts with these delays wait at most ~8 s in total.
 */
const UNPROCESSED_MAX_ATTEMPTS = 10;
const UNPROCESSED_BASE_DELAY_MS = 50;
const UNPROCESSED_MAX_DELAY_MS = 2_000;
const SECONDS_PER_DAY = 86_400;
/** The lease item stays small: a holder description is for a human to read, not a log. */
const MAX_HOLDER_DESCRIPTION_CHARS = 200;

// ---------------------------------------------------------------------------------------
// Attribute names and condition fragments

const Attr = {
  pk: PARTITION_KEY,
  sk: SORT_KEY,
  gsi1pk: PENDING_DELETE_PARTITION_KEY,
  deleteAfter: PENDING_DELETE_SORT_KEY,
  expiresAt: TTL_ATTRIBUTE,
  identity: 'identity',
  uid: 'uid',
  status: 'status',
  size: 'size',
  firstSeenAt: 'firstSeenAt',
  deletedAt: 'deletedAt',
  listSize: 'listSize',
  count: 'count',
  listingHash: 'listingHash',
  updatedAt: 'updatedAt',
  fingerprintIdentities: 'fingerprintIdentities',
  lastFingerprint: 'lastFingerprint',
  auditedAt: 'auditedAt',
  owner: 'owner',
  leaseExpiresAtMs: 'leaseExpiresAtMs',
  leaseAcquiredAtMs: 'leaseAcquiredAtMs',
  holder: 'holder',
  holderHost: 'holderHost',
  holderPid: 'holderPid',
} as const;

/** The optional string fields of a record, stored as S attributes of the same name. */
const OPTIONAL_RECORD_STRINGS = [
  'objectKey',
  'sha256',
  'bodySha256',
  'headerFingerprint',
  'storedAt',
  'skipReason',
  'deleteAfter',
  'deletedAt',
] as const satisfies readonly (keyof MessageRecord)[];

const RECORD_STATUSES: ReadonlySet<string> = new Set<RecordStatus>(['stored', 'skipped', 'baseline', 'failed', 'pending']);
/** The optional number fields of a record, stored as N attributes of the same name. */
const OPTIONAL_RECORD_NUMBERS = ['listSize', 'attempts', 'baselineCopies'] as const satisfies readonly (keyof MessageRecord)[];

/** The lease may be taken when nobody holds it, the holder's time ran out, or we hold it. */
const LEASE_FREE_OR_EXPIRED_OR_OURS = 'attribute_not_exists(#pk) OR #leaseExpiresAtMs < :now OR #owner = :owner';
/** Only the holder releases: a run that overran its lease must not free a successor's. */
const LEASE_IS_OURS = '#owner = :owner';
/**
 * A `stored` record is final: it names an object in S3. Nothing overwrites it, not even
 * another `stored` record (a re-record after a crash finds it "already there").
 */
const NO_STORED_RECORD = 'attribute_not_exists(#pk) OR #status <> :stored';
/** Updates must not create an item: UpdateItem on a missing key would upsert a bare stub. */
const RECORD_EXISTS = 'attribute_exists(#pk)';
const MESSAGE_RECORDS_OF_MAILBOX = '#pk = :pk AND begins_with(#sk, :messagePrefix)';
const ALL_ITEMS_OF_MAILBOX = '#pk = :pk';
const DUE_DELETIONS_OF_MAILBOX = '#gsi1pk = :pk AND #deleteAfter <= :now';
/** The first confirmation wins: a retried call keeps the original time and expiry. */
/** A tombstone: kept without TTL (see StateStore.markDeleted). */
const MARK_DELETED = 'SET #deletedAt = if_not_exists(#deletedAt, :deletedAt) REMOVE #gsi1pk, #expiresAt';
/** Keeps an earlier expiry: a full diff that runs every day must not postpone it forever. */
const EXPIRE = 'SET #expiresAt = if_not_exists(#expiresAt, :expiresAt) REMOVE #gsi1pk';

const SET_LIST_SIZE = 'SET #listSize = :listSize';

type Item = Record<string, AttributeValue>;
type Key = Record<string, AttributeValue>;
export type CapacityKind = 'read' | 'write';
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** StateStore on one DynamoDB table; see the item layout at the top of this file. */
export class DynamoDbStateStore implements StateStore {
  private readonly db: DynamoDbApi;
  private readonly tableName: string;
  private readonly consistentReads: boolean;
  private readonly onWarning: DynamoDbStateStoreOptions['onWarning'];
  private readUnits = 0;
  private writeUnits = 0;

  constructor(options: DynamoDbStateStoreOptions) {
    const { client } = options;
    this.db = options.direct && isSdkClient(client) ? directDynamoDbFor(client) : dynamoDbApiOf(client);
    this.tableName = options.tableName;
    this.consistentReads = options.consistentReads ?? true;
    this.onWarning = options.onWarning;
  }

  // -------------------------------------------------------------------------------------
  // Lease

  async acquireLease(mailboxId: string, owner: string, nowMs: number, ttlMs: number, holder?: LeaseHolder): Promise<boolean> {
    assertFiniteNumber(nowMs, 'nowMs');
    if (!(Number.isFinite(ttlMs) && ttlMs > 0)) throw invalid(`Lease ttlMs must be a positive number, got ${ttlMs}`);
    const input: DynamoDbInput<'PutItem'> = {
      TableName: this.tableName,
      Item: {
        [Attr.pk]: { S: mailboxKey(mailboxId) },
        [Attr.sk]: { S: LEASE_SORT_KEY },
        [Attr.owner]: { S: owner },
        [Attr.leaseExpiresAtMs]: { N: String(nowMs + ttlMs) },
        [Attr.leaseAcquiredAtMs]: { N: String(nowMs) },
        ...holderAttributes(holder),
      },
      ConditionExpression: LEASE_FREE_OR_EXPIRED_OR_OURS,
      ExpressionAttributeNames: { '#pk': Attr.pk, '#leaseExpiresAtMs': Attr.leaseExpiresAtMs, '#owner': Attr.owner },
      ExpressionAttributeValues: { ':now': { N: String(nowMs) }, ':owner': { S: owner } },
      ReturnConsumedCapacity: 'TOTAL',
    };
    return this.conditionalWrite('PutItem', input);
  }

  async releaseLease(mailboxId: string, owner: string): Promise<void> {
    const input: DynamoDbInput<'DeleteItem'> = {
      TableName: this.tableName,
      Key: { [Attr.pk]: { S: mailboxKey(mailboxId) }, [Attr.sk]: { S: LEASE_SORT_KEY } },
      ConditionExpression: LEASE_IS_OURS,
      ExpressionAttributeNames: { '#owner': Attr.owner },
      ExpressionAttributeValues: { ':owner': { S: owner } },
      ReturnConsumedCapacity: 'TOTAL',
    };
    // Not ours (or already gone): nothing to release.
    await this.conditionalWrite('DeleteItem', input);
  }

  async getLease(mailboxId: string): Promise<Lease | undefined> {
    const input: DynamoDbInput<'GetItem'> = {
      TableName: this.tableName,
      Key: { [Attr.pk]: { S: mailboxKey(mailboxId) }, [Attr.sk]: { S: LEASE_SORT_KEY } },
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    };
    const result = await this.send('GetItem', input);
    this.countCapacity('read', result.ConsumedCapacity);
    return result.Item === undefined ? undefined : leaseFromItem(result.Item);
  }

  // -------------------------------------------------------------------------------------
  // Summary

  async getSummary(mailboxId: string): Promise<MailboxSummary | undefined> {
    const input: DynamoDbInput<'GetItem'> = {
      TableName: this.tableName,
      Key: { [Attr.pk]: { S: mailboxKey(mailboxId) }, [Attr.sk]: { S: SUMMARY_SORT_KEY } },
      ConsistentRead: this.consistentReads,
      ReturnConsumedCapacity: 'TOTAL',
    };
    const result = await this.send('GetItem', input);
    this.countCapacity('read', result.ConsumedCapacity);
    return result.Item === undefined ? undefined : summaryFromItem(result.Item);
  }

  async putSummary(mailboxId: string, summary: MailboxSummary): Promise<void> {
    assertFiniteNumber(summary.count, 'summary.count');
    const input: DynamoDbInput<'PutItem'> = {
      TableName: this.tableName,
      Item: {
        [Attr.pk]: { S: mailboxKey(mailboxId) },
        [Attr.sk]: { S: SUMMARY_SORT_KEY },
        [Attr.count]: { N: String(summary.count) },
        [Attr.listingHash]: { S: summary.listingHash },
        [Attr.updatedAt]: { S: summary.updatedAt },
        ...(summary.fingerprintIdentities ? { [Attr.fingerprintIdentities]: { BOOL: true } } : {}),
        ...(summary.lastFingerprint ? { [Attr.lastFingerprint]: { S: summary.lastFingerprint } } : {}),
        ...(summary.auditedAt ? { [Attr.auditedAt]: { S: summary.auditedAt } } : {}),
      },
      ReturnConsumedCapacity: 'TOTAL',
    };
    const result = await this.send('PutItem', input);
    this.countCapacity('write', result.ConsumedCapacity);
  }

  // -------------------------------------------------------------------------------------
  // Records

  async getRecords(mailboxId: string, identities: readonly string[]): Promise<Map<string, MessageRecord>> {
    const pk = mailboxKey(mailboxId);
    // BatchGetItem rejects a request that names the same key twice.
    const keys = [...new Set(identities)].map((identity) => recordKey(pk, identity));
    const records = new Map<string, MessageRecord>();
    await forEachConcurrently(chunk(keys, BATCH_GET_MAX_KEYS), BATCH_CONCURRENCY, async (batch) => {
      for (const item of await this.batchGet(batch)) {
        const record = recordFromItem(item);
        records.set(record.identity, record);
      }
    });
    return records;
  }

  async *listRecords(mailboxId: string): AsyncGenerator<MessageRecord> {
    const pages = this.queryPages('Query', {
      KeyConditionExpression: MESSAGE_RECORDS_OF_MAILBOX,
      ExpressionAttributeNames: { '#pk': Attr.pk, '#sk': Attr.sk },
      ExpressionAttributeValues: { ':pk': { S: mailboxKey(mailboxId) }, ':messagePrefix': { S: MESSAGE_KEY_PREFIX } },
      ConsistentRead: this.consistentReads,
    });
    for await (const items of pages) {
      for (const item of items) yield recordFromItem(item);
    }
  }

  async listRecordsByIdentityPrefix(mailboxId: string, identityPrefix: string): Promise<MessageRecord[]> {
    const pages = this.queryPages('Query', {
      KeyConditionExpression: MESSAGE_RECORDS_OF_MAILBOX,
      ExpressionAttributeNames: { '#pk': Attr.pk, '#sk': Attr.sk },
      ExpressionAttributeValues: { ':pk': { S: mailboxKey(mailboxId) }, ':messagePrefix': { S: messageKey(identityPrefix) } },
      ConsistentRead: this.consistentReads,
    });
    const out: MessageRecord[] = [];
    for await (const items of pages) for (const item of items) out.push(recordFromItem(item));
    return out;
  }

  async putRecord(mailboxId: string, record: MessageRecord): Promise<boolean> {
    const input: DynamoDbInput<'PutItem'> = {
      TableName: this.tableName,
      Item: recordItem(mailboxKey(mailboxId), record),
      ConditionExpression: NO_STORED_RECORD,
      ExpressionAttributeNames: { '#pk': Attr.pk, '#status': Attr.status },
      ExpressionAttributeValues: { ':stored': { S: 'stored' satisfies RecordStatus } },
      ReturnConsumedCapacity: 'TOTAL',
    };
    return this.conditionalWrite('PutItem', input);
  }

  async putStoredRecords(mailboxId: string, records: readonly MessageRecord[], options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (records.length > MAX_STORED_RECORDS_PER_CALL) throw invalid(`putStoredRecords takes at most ${MAX_STORED_RECORDS_PER_CALL} records, got ${records.length}`);
    const notStored = records.find((r) => r.status !== 'stored');
    if (notStored) throw invalid(`putStoredRecords takes stored records only, got ${notStored.status} for ${JSON.stringify(notStored.identity)}`);
    if (new Set(records.map((r) => r.identity)).size !== records.length) throw invalid('putStoredRecords takes each identity once per call (BatchWriteItem refuses duplicate keys)');
    if (records.length === 0) return;
    const pk = mailboxKey(mailboxId);
    await this.batchWrite(records.map((record) => ({ PutRequest: { Item: recordItem(pk, record) } })), options.signal);
  }

  async markDeleted(mailboxId: string, identities: readonly string[], deletedAt: string): Promise<void> {
    await this.updateExistingRecords(mailboxId, identities, MARK_DELETED, {
      names: { '#deletedAt': Attr.deletedAt, '#expiresAt': Attr.expiresAt, '#gsi1pk': Attr.gsi1pk },
      values: { ':deletedAt': { S: deletedAt } },
    });
  }

  async noteListSize(mailboxId: string, identity: string, listSize: number): Promise<void> {
    await this.updateExistingRecords(mailboxId, [identity], SET_LIST_SIZE, {
      names: { '#listSize': Attr.listSize },
      values: { ':listSize': { N: String(listSize) } },
    });
  }

  async expireRecords(
    mailboxId: string,
    identities: readonly string[],
    nowIso: string,
    retainDays: number,
  ): Promise<void> {
    const expiresAt = expiryEpochSeconds(nowIso, retainDays);
    await this.updateExistingRecords(mailboxId, identities, EXPIRE, {
      names: { '#expiresAt': Attr.expiresAt, '#gsi1pk': Attr.gsi1pk },
      values: { ':expiresAt': { N: String(expiresAt) } },
    });
  }

  /**
   * Reads only the sparse GSI, so the cost is O(due). The GSI is eventually consistent: a
   * record marked deleted a moment ago may still be listed; callers DELE only what the
   * current server listing still holds.
   */
  async listDueDeletions(mailboxId: string, nowIso: string): Promise<MessageRecord[]> {
    assertCanonicalIso(nowIso, 'nowIso');
    const pages = this.queryPages('Query', {
      IndexName: PENDING_DELETE_INDEX,
      KeyConditionExpression: DUE_DELETIONS_OF_MAILBOX,
      ExpressionAttributeNames: { '#gsi1pk': Attr.gsi1pk, '#deleteAfter': Attr.deleteAfter },
      ExpressionAttributeValues: { ':pk': { S: mailboxKey(mailboxId) }, ':now': { S: nowIso } },
    });
    const due: MessageRecord[] = [];
    for await (const items of pages) {
      for (const item of items) due.push(recordFromItem(item));
    }
    return due;
  }

  // -------------------------------------------------------------------------------------
  // Reset and capacity

  async resetMailbox(mailboxId: string): Promise<number> {
    const pages = this.queryPages('Query', {
      KeyConditionExpression: ALL_ITEMS_OF_MAILBOX,
      ExpressionAttributeNames: { '#pk': Attr.pk, '#sk': Attr.sk },
      ExpressionAttributeValues: { ':pk': { S: mailboxKey(mailboxId) } },
      ProjectionExpression: '#pk, #sk',
      // A reset must see the writes that just happened, whatever the configuration.
      ConsistentRead: true,
    });
    let removed = 0;
    // Deleting behind the cursor is safe: the next page starts after LastEvaluatedKey.
    for await (const keys of pages) {
      const requests: WriteRequest[] = keys.map((key) => ({ DeleteRequest: { Key: key } }));
      await forEachConcurrently(chunk(requests, BATCH_WRITE_MAX_REQUESTS), BATCH_CONCURRENCY, (batch) =>
        this.batchWrite(batch),
      );
      removed += keys.length;
    }
    return removed;
  }

  consumedCapacity(): ConsumedCapacity {
    return { readUnits: this.readUnits, writeUnits: this.writeUnits };
  }

  resetCapacity(): void {
    this.readUnits = 0;
    this.writeUnits = 0;
  }

  // -------------------------------------------------------------------------------------
  // Helpers

  /**
   * Sends one request and wraps whatever it throws into a StateStoreError; warns when this
   * request turned the direct path off.
   */
  private async send<O extends DynamoDbOperation>(operation: O, input: DynamoDbInput<O>, signal?: AbortSignal): Promise<DynamoDbOutput<O>> {
    const direct = (this.db as Partial<RoutedDynamoDbApi>).direct;
    const wasOff = direct?.disabledReason !== undefined;
    try {
      return await this.db.send(operation, input, signal ? { abortSignal: signal } : {});
    } catch (err) {
      throw toStateStoreError(err, operation, this.tableName);
    } finally {
      if (!wasOff && direct?.disabledReason !== undefined) this.onWarning?.('direct-dynamodb-disabled', { table: this.tableName, reason: direct.disabledReason });
    }
  }

  /** A conditional write: true when written, false when the condition did not hold. */
  private async conditionalWrite(operation: 'PutItem' | 'DeleteItem' | 'UpdateItem', input: DynamoDbInput<'PutItem' | 'DeleteItem' | 'UpdateItem'>): Promise<boolean> {
    try {
      const result = await this.send(operation, input as DynamoDbInput<typeof operation>);
      this.countCapacity('write', result.ConsumedCapacity);
      return true;
    } catch (err) {
      if (isStateStoreError(err, StateStoreErrorCode.CONDITION_FAILED)) return false;
      throw err;
    }
  }

  /** Applies one update to each existing record (missing ones are skipped), 16 at a time. */
  private async updateExistingRecords(
    mailboxId: string,
    identities: readonly string[],
    updateExpression: string,
    expression: { names: Record<string, string>; values: Item },
  ): Promise<void> {
    const pk = mailboxKey(mailboxId);
    const keys = [...new Set(identities)].map((identity) => recordKey(pk, identity));
    await forEachConcurrently(keys, UPDATE_CONCURRENCY, async (key) => {
      const input: DynamoDbInput<'UpdateItem'> = {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: updateExpression,
        ConditionExpression: RECORD_EXISTS,
        ExpressionAttributeNames: { ...expression.names, '#pk': Attr.pk },
        ExpressionAttributeValues: expression.values,
        ReturnConsumedCapacity: 'TOTAL',
      };
      await this.conditionalWrite('UpdateItem', input);
    });
  }

  /** Pages of a Query on the table (or an index), following LastEvaluatedKey. */
  private async *queryPages(
    operation: string,
    query: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  ): AsyncGenerator<Item[]> {
    let startKey: Key | undefined;
    do {
      const input: DynamoDbInput<'Query'> = {
        ...query,
        TableName: this.tableName,
        ExclusiveStartKey: startKey,
        ReturnConsumedCapacity: 'TOTAL',
      };
      const page = await this.send('Query', input);
      this.countCapacity('read', page.ConsumedCapacity);
      yield page.Items ?? [];
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  /** One BatchGetItem of at most 100 keys, retrying unprocessed keys. */
  private async batchGet(keys: Key[]): Promise<Item[]> {
    const items: Item[] = [];
    await this.drainUnprocessed('BatchGetItem', keys, async (pending) => {
      const input: DynamoDbInput<'BatchGetItem'> = {
        RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: this.consistentReads } },
        ReturnConsumedCapacity: 'TOTAL',
      };
      const result = await this.send('BatchGetItem', input);
      this.countCapacity('read', result.ConsumedCapacity);
      items.push(...(result.Responses?.[this.tableName] ?? []));
      return result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    });
    return items;
  }

  /**
   * One BatchWriteItem of at most 25 requests, retrying unprocessed items. With `signal`,
   * nothing is sent once it aborted (the SDK's own retries included).
   */
  private async batchWrite(requests: WriteRequest[], signal?: AbortSignal): Promise<void> {
    await this.drainUnprocessed('BatchWriteItem', requests, async (pending) => {
      const stopped = (): StateStoreError =>
        new StateStoreError(StateStoreErrorCode.ABORTED, `DynamoDB BatchWriteItem on table ${this.tableName} given up: the caller stopped (${pending.length} records not known to be written)`, { operation: 'BatchWriteItem' });
      if (signal?.aborted) throw stopped();
      let result: DynamoDbOutput<'BatchWriteItem'>;
      try {
        result = await this.send('BatchWriteItem', { RequestItems: { [this.tableName]: pending }, ReturnConsumedCapacity: 'TOTAL' }, signal);
      } catch (err) {
        throw signal?.aborted ? stopped() : err;
      }
      this.countCapacity('write', result.ConsumedCapacity);
      return result.UnprocessedItems?.[this.tableName] ?? [];
    });
  }

  /**
   * Sends a batch until nothing is left unprocessed, with capped exponential backoff and
   * full jitter between attempts. The SDK retries failed requests itself; unprocessed
   * parts of a successful batch are the one case it leaves to us.
   */
  private async drainUnprocessed<T>(operation: string, initial: T[], sendOnce: (pending: T[]) => Promise<T[]>): Promise<void> {
    let pending = initial;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > UNPROCESSED_MAX_ATTEMPTS) {
        throw new StateStoreError(
          StateStoreErrorCode.THROTTLED,
          `DynamoDB ${operation} on table ${this.tableName} left ${pending.length} requests unprocessed after ${UNPROCESSED_MAX_ATTEMPTS} attempts`,
          { operation },
        );
      }
      if (attempt > 1) await sleep(backoffDelayMs(attempt - 1));
      pending = await sendOnce(pending);
    }
  }

  /**
   * Adds reported capacity. Responses carry one object (single-item calls, Query) or an
   * array (batch and transact calls); the Read/Write split is used when present, else the
   * total counts as the kind of the call. Public for the stores that share this table and
   * the run's tally (the events outbox).
   */
  countCapacity(kind: CapacityKind, reported: DynamoDbConsumedCapacity | DynamoDbConsumedCapacity[] | undefined): void {
    const entries = reported === undefined ? [] : Array.isArray(reported) ? reported : [reported];
    for (const entry of entries) {
      if (entry.ReadCapacityUnits !== undefined || entry.WriteCapacityUnits !== undefined) {
        this.readUnits += entry.ReadCapacityUnits ?? 0;
        this.writeUnits += entry.WriteCapacityUnits ?? 0;
      } else if (kind === 'read') {
        this.readUnits += entry.CapacityUnits ?? 0;
      } else {
        this.writeUnits += entry.CapacityUnits ?? 0;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Item mapping

function recordKey(pk: string, identity: string): Key {
  return { [Attr.pk]: { S: pk }, [Attr.sk]: { S: messageKey(identity) } };
}

/** Only stored messages are deleted on the server, and only until a QUIT confirmed it. */
function isPendingDeletion(record: MessageRecord): boolean {
  return record.status === 'stored' && record.deleteAfter !== undefined && record.deletedAt === undefined;
}

function recordItem(pk: string, record: MessageRecord): Item {
  if (!RECORD_STATUSES.has(record.status)) throw invalid(`Record status ${JSON.stringify(record.status)} is unknown`);
  assertFiniteNumber(record.size, 'record.size');
  if (record.deleteAfter !== undefined) assertCanonicalIso(record.deleteAfter, 'record.deleteAfter');
  const item: Item = {
    ...recordKey(pk, record.identity),
    [Attr.identity]: { S: record.identity },
    [Attr.uid]: { S: record.uid },
    [Attr.status]: { S: record.status },
    [Attr.size]: { N: String(record.size) },
    [Attr.firstSeenAt]: { S: record.firstSeenAt },
  };
  for (const field of OPTIONAL_RECORD_STRINGS) {
    const value = record[field];
    if (value !== undefined) item[field] = { S: value };
  }
  for (const field of OPTIONAL_RECORD_NUMBERS) {
    const value = record[field];
    if (value === undefined) continue;
    assertFiniteNumber(value, `record.${field}`);
    item[field] = { N: String(value) };
  }
  if (isPendingDeletion(record)) item[Attr.gsi1pk] = { S: pk };
  return item;
}

function recordFromItem(item: Item): MessageRecord {
  const status = requiredString(item, Attr.status);
  if (!RECORD_STATUSES.has(status)) throw invalid(`Stored record has unknown status ${JSON.stringify(status)}`);
  const record: Mutable<MessageRecord> = {
    identity: requiredString(item, Attr.identity),
    uid: requiredString(item, Attr.uid),
    status: status as RecordStatus,
    size: requiredNumber(item, Attr.size),
    firstSeenAt: requiredString(item, Attr.firstSeenAt),
  };
  for (const field of OPTIONAL_RECORD_STRINGS) {
    const value = item[field]?.S;
    if (value !== undefined) record[field] = value;
  }
  for (const field of OPTIONAL_RECORD_NUMBERS) {
    const value = item[field]?.N;
    if (value !== undefined) record[field] = Number(value);
  }
  // Read only: set by expireRecords (and by markDeleted before tombstones were kept).
  const expiresAt = item[Attr.expiresAt]?.N;
  if (expiresAt !== undefined) record.expiresAt = Number(expiresAt);
  return record;
}

function summaryFromItem(item: Item): MailboxSummary {
  return {
    count: requiredNumber(item, Attr.count),
    listingHash: requiredString(item, Attr.listingHash),
    updatedAt: requiredString(item, Attr.updatedAt),
    ...(item[Attr.fingerprintIdentities]?.BOOL === true ? { fingerprintIdentities: true } : {}),
    ...(item[Attr.lastFingerprint]?.S ? { lastFingerprint: item[Attr.lastFingerprint]!.S } : {}),
    ...(item[Attr.auditedAt]?.S ? { auditedAt: item[Attr.auditedAt]!.S } : {}),
  };
}

/** The holder's attributes; a description too long for a small item is cut. */
function holderAttributes(holder: LeaseHolder | undefined): Item {
  if (holder === undefined) return {};
  return {
    [Attr.holder]: { S: holder.description.slice(0, MAX_HOLDER_DESCRIPTION_CHARS) },
    ...(holder.host ? { [Attr.holderHost]: { S: holder.host.slice(0, MAX_HOLDER_DESCRIPTION_CHARS) } } : {}),
    ...(holder.pid !== undefined && Number.isSafeInteger(holder.pid) ? { [Attr.holderPid]: { N: String(holder.pid) } } : {}),
  };
}

function leaseFromItem(item: Item): Lease {
  const acquiredAtMs = Number(item[Attr.leaseAcquiredAtMs]?.N);
  const description = item[Attr.holder]?.S;
  const host = item[Attr.holderHost]?.S;
  const pid = Number(item[Attr.holderPid]?.N);
  return {
    owner: requiredString(item, Attr.owner),
    expiresAtMs: requiredNumber(item, Attr.leaseExpiresAtMs),
    ...(Number.isFinite(acquiredAtMs) ? { acquiredAtMs } : {}),
    ...(description === undefined
      ? {}
      : { holder: { description, ...(host === undefined ? {} : { host }), ...(Number.isSafeInteger(pid) ? { pid } : {}) } }),
  };
}

function requiredString(item: Item, name: string): string {
  const value = item[name]?.S;
  if (value === undefined) throw invalid(`State item lacks string attribute ${name}`);
  return value;
}

function requiredNumber(item: Item, name: string): number {
  const value = Number(item[name]?.N);
  if (!Number.isFinite(value)) throw invalid(`State item lacks number attribute ${name}`);
  return value;
}

// ---------------------------------------------------------------------------------------
// Validation and small utilities

function invalid(message: string): StateStoreError {
  return new StateStoreError(StateStoreErrorCode.INVALID, message);
}

function assertFiniteNumber(value: number, what: string): void {
  if (!Number.isFinite(value)) throw invalid(`${what} must be a finite number, got ${value}`);
}

/** The GSI compares deleteAfter as a string: only one spelling per instant keeps that sound. */
function assertCanonicalIso(value: string, what: string): void {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || new Date(ms).toISOString() !== value) {
    throw invalid(`${what} must be an ISO-8601 UTC time as from Date.toISOString(), got ${JSON.stringify(value)}`);
  }
}

/** TTL value (epoch seconds) `retainDays` after `fromIso`. */
function expiryEpochSeconds(fromIso: string, retainDays: number): number {
  const fromMs = Date.parse(fromIso);
  if (!Number.isFinite(fromMs)) throw invalid(`Time ${JSON.stringify(fromIso)} is not an ISO-8601 time`);
  if (!(Number.isFinite(retainDays) && retainDays >= 0)) throw invalid(`retainDays must be >= 0, got ${retainDays}`);
  return Math.floor(fromMs / 1000) + Math.ceil(retainDays * SECONDS_PER_DAY);
}

function backoffDelayMs(retry: number): number {
  const ceiling = Math.min(UNPROCESSED_MAX_DELAY_MS, UNPROCESSED_BASE_DELAY_MS * 2 ** (retry - 1));
  return Math.random() * ceiling;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * Runs `action` over `items` with at most `limit` in flight. After the first failure no
 * new item starts; the ones in flight finish, then the first error is thrown.
 */
async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  action: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await action(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}
