/**
 * DynamoDB adapter of {@link OutboxStore}, in the state table: one item per batch in the
 * mailbox's partition, `sk = #OUTBOX#<createdAt>#<random>` (outside the `MSG#` range, so
 * record queries never meet it; resetMailbox removes it with the rest), `identities` a
 * string list. 25 identities are a few hundred bytes: one write unit to add, one to remove.
 */
import { randomBytes } from 'node:crypto';
import type { QueryCommandInput } from '@aws-sdk/client-dynamodb';
import type { DynamoDbApi, DynamoDbInput, DynamoDbOperation, DynamoDbOutput, DynamoDbTarget } from './dynamodb-api';
import { StateStoreError, StateStoreErrorCode, toStateStoreError } from './errors';
import { dynamoDbApiOf } from './sdk-dynamodb-api';
import { MAX_OUTBOX_IDENTITIES, type OutboxBatch, type OutboxStore } from './outbox-store';
import type { DynamoDbStateStore } from './dynamodb-state-store';
import { MAX_SORT_KEY_BYTES, PARTITION_KEY, SORT_KEY, mailboxKey } from './table-schema';

export const OUTBOX_SORT_KEY_PREFIX = '#OUTBOX#';
const BATCH_ID_RANDOM_BYTES = 8;

export interface DynamoDbOutboxStoreOptions {
  /** The port, or an SDK client (see DynamoDbStateStoreOptions.client). */
  readonly client: DynamoDbTarget;
  readonly tableName: string;
  /** Counts the capacity the outbox consumes into the run's (the state store's). @default not counted */
  readonly capacity?: Pick<DynamoDbStateStore, 'countCapacity'>;
}

export class DynamoDbOutboxStore implements OutboxStore {
  private readonly db: DynamoDbApi;

  constructor(private readonly options: DynamoDbOutboxStoreOptions) {
    this.db = dynamoDbApiOf(options.client);
  }

  async add(mailboxId: string, identities: readonly string[], nowIso: string, options: { readonly signal?: AbortSignal } = {}): Promise<OutboxBatch> {
    if (identities.length < 1 || identities.length > MAX_OUTBOX_IDENTITIES) {
      throw new StateStoreError(StateStoreErrorCode.INVALID, `an outbox batch holds 1 to ${MAX_OUTBOX_IDENTITIES} identities, not ${identities.length}`, { operation: 'PutItem' });
    }
    const id = `${nowIso}#${randomBytes(BATCH_ID_RANDOM_BYTES).toString('hex')}`;
    const sk = sortKeyOf(id);
    if (options.signal?.aborted) throw new StateStoreError(StateStoreErrorCode.ABORTED, `outbox batch of ${identities.length} not written: the caller stopped`, { operation: 'PutItem' });
    const input: DynamoDbInput<'PutItem'> = {
      TableName: this.options.tableName,
      ReturnConsumedCapacity: 'TOTAL',
      Item: {
        [PARTITION_KEY]: { S: mailboxKey(mailboxId) },
        [SORT_KEY]: { S: sk },
        identities: { L: identities.map((identity) => ({ S: identity })) },
        createdAt: { S: nowIso },
      },
    };
    const written = await this.send('PutItem', input, options.signal);
    this.options.capacity?.countCapacity('write', written.ConsumedCapacity);
    return { id, identities: [...identities], createdAt: nowIso };
  }

  async list(mailboxId: string, limit: number): Promise<OutboxBatch[]> {
    const batches: OutboxBatch[] = [];
    let startKey: QueryCommandInput['ExclusiveStartKey'];
    do {
      const input: DynamoDbInput<'Query'> = {
        TableName: this.options.tableName,
        ReturnConsumedCapacity: 'TOTAL',
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
        ExpressionAttributeValues: { ':pk': { S: mailboxKey(mailboxId) }, ':prefix': { S: OUTBOX_SORT_KEY_PREFIX } },
        // Every run asks, so half a read unit matters at fleet scale. A stale answer is
        // harmless: a batch already settled is sent again (same eventIds) and its settle is
        // conditional; one written a moment ago waits for the next run.
        ConsistentRead: false,
        Limit: limit - batches.length,
        ExclusiveStartKey: startKey,
      };
      const page = await this.send('Query', input);
      this.options.capacity?.countCapacity('read', page.ConsumedCapacity);
      for (const item of page.Items ?? []) {
        batches.push({
          id: (item[SORT_KEY]?.S ?? '').slice(OUTBOX_SORT_KEY_PREFIX.length),
          identities: (item.identities?.L ?? []).map((v) => v.S ?? '').filter((s) => s !== ''),
          createdAt: item.createdAt?.S ?? '',
        });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && batches.length < limit);
    return batches;
  }

  async settle(mailboxId: string, batch: OutboxBatch, remaining: readonly string[]): Promise<void> {
    const key = { [PARTITION_KEY]: { S: mailboxKey(mailboxId) }, [SORT_KEY]: { S: sortKeyOf(batch.id) } };
    if (remaining.length === 0) {
      const deleted = await this.send('DeleteItem', { TableName: this.options.tableName, Key: key, ReturnConsumedCapacity: 'TOTAL' });
      this.options.capacity?.countCapacity('write', deleted.ConsumedCapacity);
      return;
    }
    const input: DynamoDbInput<'UpdateItem'> = {
      TableName: this.options.tableName,
      ReturnConsumedCapacity: 'TOTAL',
      Key: key,
      UpdateExpression: 'SET identities = :remaining',
      // A batch another run already settled stays settled.
      ConditionExpression: 'attribute_exists(#pk)',
      ExpressionAttributeNames: { '#pk': PARTITION_KEY },
      ExpressionAttributeValues: { ':remaining': { L: remaining.map((identity) => ({ S: identity })) } },
    };
    try {
      const updated = await this.send('UpdateItem', input);
      this.options.capacity?.countCapacity('write', updated.ConsumedCapacity);
    } catch (err) {
      if (!(err instanceof StateStoreError && err.code === StateStoreErrorCode.CONDITION_FAILED)) throw err;
    }
  }

  private async send<O extends DynamoDbOperation>(operation: O, input: DynamoDbInput<O>, signal?: AbortSignal): Promise<DynamoDbOutput<O>> {
    try {
      return await this.db.send(operation, input, signal ? { abortSignal: signal } : {});
    } catch (err) {
      throw toStateStoreError(err, operation, this.options.tableName);
    }
  }
}

function sortKeyOf(batchId: string): string {
  const sk = `${OUTBOX_SORT_KEY_PREFIX}${batchId}`;
  if (Buffer.byteLength(sk) > MAX_SORT_KEY_BYTES) throw new StateStoreError(StateStoreErrorCode.INVALID, 'outbox batch id too long', { operation: 'outbox' });
  return sk;
}
