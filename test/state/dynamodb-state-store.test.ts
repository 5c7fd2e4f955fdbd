/**
 * DynamoDbStateStore against AWS's own DynamoDB Local, where it goes beyond the StateStore
 * contract (test/contract/state-store.contract.ts, run on DynamoDB Local and the embedded
 * dynalite): the table definition, batching and pagination, throttled batches, DynamoDB's
 * key limits, the item layout of the sparse pending-delete index and TTL, error mapping,
 * and the capacity figures behind the O(new) claim.
 */
import { createServer, type AddressInfo } from 'node:net';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  DynamoDBClient,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import type { DynamoDbApi, DynamoDbInput } from '../../lambda/state/dynamodb-api';
import { sdkDynamoDbApi } from '../../lambda/state/sdk-dynamodb-api';
import { StateStoreError } from '../../lambda/state/errors';
import type { MessageRecord } from '../../lambda/state/state-store';
import { TTL_ATTRIBUTE, ensureTable, mailboxKey, messageKey } from '../../lambda/state/table-schema';
import { createLocalDynamoDbClient, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import { startDynamoDbLocal, type LocalDynamo } from '../fixtures/aws-local';
import { storedRecord } from '../fixtures/stored-record';

const MAILBOX = 'acme.support';
const OTHER_MAILBOX = 'acme.support2';
const NOW = '2026-03-01T12:00:00.000Z';
const SECONDS_PER_DAY = 86_400;
/** Parallel BatchWriteItem calls while seeding: DynamoDB Local has two cores to share. */
const SEED_CONCURRENCY = 8;

let local: LocalDynamo;
let tableSequence = 0;

beforeAll(async () => {
  local = await startDynamoDbLocal();
});
afterAll(() => local?.stop());

/** A fresh table per test: no test sees another's items. */
async function freshTable(): Promise<string> {
  const tableName = `state-${++tableSequence}`;
  await ensureTable(local.dynamodb, tableName);
  return tableName;
}

async function freshStore(options: { consistentReads?: boolean } = {}): Promise<{ store: DynamoDbStateStore; tableName: string }> {
  const tableName = await freshTable();
  return { store: new DynamoDbStateStore({ client: local.dynamodb, tableName, ...options }), tableName };
}

function record(identity: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return storedRecord(MAILBOX, identity, overrides);
}

async function rawRecordItem(tableName: string, mailboxId: string, identity: string): Promise<Record<string, AttributeValue> | undefined> {
  const result = await local.dynamodb.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: mailboxKey(mailboxId) }, sk: { S: messageKey(identity) } },
      ConsistentRead: true,
    }),
  );
  return result.Item;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** Writes records in the documented item layout straight with BatchWriteItem (fast seeding). */
async function seedRecords(
  tableName: string,
  mailboxId: string,
  count: number,
  options: { paddingChars?: number; prefix?: string } = {},
): Promise<string[]> {
  const identities = Array.from({ length: count }, (_, i) => `${options.prefix ?? 'uid'}-${String(i).padStart(6, '0')}`);
  const requests: WriteRequest[] = identities.map((identity) => ({
    PutRequest: {
      Item: {
        pk: { S: mailboxKey(mailboxId) },
        sk: { S: messageKey(identity) },
        identity: { S: identity },
        uid: { S: identity },
        status: { S: 'stored' },
        objectKey: { S: `mail/${mailboxId}/2026/01/${identity}.eml` },
        size: { N: '4321' },
        sha256: { S: 'b'.repeat(64) },
        headerFingerprint: { S: 'c'.repeat(64) },
        firstSeenAt: { S: '2026-01-01T00:00:00.000Z' },
        storedAt: { S: '2026-01-01T00:00:01.000Z' },
        ...(options.paddingChars ? { padding: { S: 'p'.repeat(options.paddingChars) } } : {}),
      },
    },
  }));
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += 25) batches.push(requests.slice(i, i + 25));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      let pending: WriteRequest[] = batches[next++]!;
      while (pending.length > 0) {
        const result = await local.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
        pending = result.UnprocessedItems?.[tableName] ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
  return identities;
}

interface RequestCounter {
  readonly client: DynamoDBClient;
  count(operation: string): number;
}

/** A separate client that counts requests per operation (per HTTP attempt). */
function countingClient(): RequestCounter {
  const client = createLocalDynamoDbClient(local.endpoint);
  const tally = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
      tally.set(operation, (tally.get(operation) ?? 0) + 1);
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'stateStoreRequestCounter' },
  );
  return { client, count: (operation) => tally.get(operation) ?? 0 };
}

/**
 * A client whose first `times` batch calls come back with half of their keys or items
 * unprocessed, as DynamoDB does when it throttles part of a batch.
 */
function halfProcessingClient(real: DynamoDBClient, times: number): DynamoDbApi {
  let remaining = times;
  const sdk = sdkDynamoDbApi(real);
  return {
    async send(operation, input) {
      if (remaining > 0 && operation === 'BatchGetItem') {
        remaining--;
        const given = input as DynamoDbInput<'BatchGetItem'>;
        const [table, request] = Object.entries(given.RequestItems ?? {})[0]!;
        const keys = request.Keys ?? [];
        const half = Math.ceil(keys.length / 2);
        const result = await sdk.send('BatchGetItem', { ...given, RequestItems: { [table]: { ...request, Keys: keys.slice(0, half) } } });
        return { ...result, UnprocessedKeys: { [table]: { ...request, Keys: keys.slice(half) } } } as never;
      }
      if (remaining > 0 && operation === 'BatchWriteItem') {
        remaining--;
        const given = input as DynamoDbInput<'BatchWriteItem'>;
        const [table, requests] = Object.entries(given.RequestItems ?? {})[0]!;
        const half = Math.ceil(requests.length / 2);
        const result = await sdk.send('BatchWriteItem', { ...given, RequestItems: { [table]: requests.slice(0, half) } });
        return { ...result, UnprocessedItems: { [table]: requests.slice(half) } } as never;
      }
      return sdk.send(operation, input);
    },
  };
}

describe('ensureTable', () => {
  it('creates the table with TTL on expiresAt, is idempotent, and refuses a foreign table', async () => {
    const tableName = await freshTable();
    await ensureTable(local.dynamodb, tableName);
    const ttl = await local.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: TTL_ATTRIBUTE, TimeToLiveStatus: 'ENABLED' });

    await local.dynamodb.send(
      new CreateTableCommand({
        TableName: 'foreign',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await expect(ensureTable(local.dynamodb, 'foreign')).rejects.toThrow(
      /Table foreign exists but is not a mailfetch state table: key schema is \[id:HASH\].*index pendingDelete is missing/,
    );
  });
});

describe('records', () => {
  it('getRecords batches 250 identities with awkward characters, duplicates and missing ones', async () => {
    const counter = countingClient();
    const tableName = await freshTable();
    const store = new DynamoDbStateStore({ client: counter.client, tableName });
    const awkward = ['a/b', 'a+b', '..', '../..', 'with space', ' ', 'x'.repeat(300), 'ü'.repeat(300), 'MSG#nested', '#SUMMARY', '#LEASE', '日本語'];
    const identities = [...awkward, ...Array.from({ length: 250 - awkward.length }, (_, i) => `uid-${i}`)];
    for (let i = 0; i < identities.length; i += 50) {
      await Promise.all(identities.slice(i, i + 50).map((identity) => store.putRecord(MAILBOX, record(identity))));
    }

    const asked = [...identities, ...identities.slice(0, 10), 'not-there-1', 'not-there-2'];
    const read = await store.getRecords(MAILBOX, asked);
    expect([...read.keys()].sort()).toEqual([...identities].sort());
    for (const identity of awkward) expect(read.get(identity)).toEqual(record(identity));
    // 252 distinct keys: 100 + 100 + 52.
    expect(counter.count('BatchGetItem')).toBe(3);
    // The record keys never collide with the summary and lease items.
    expect(await store.getSummary(MAILBOX)).toBeUndefined();
    counter.client.destroy();
  });

  it('retries keys and items DynamoDB left unprocessed', async () => {
    const tableName = await freshTable();
    const plain = new DynamoDbStateStore({ client: local.dynamodb, tableName });
    const identities = await seedRecords(tableName, MAILBOX, 120);
    await plain.putSummary(MAILBOX, { count: 120, listingHash: 'h', updatedAt: NOW });

    const throttled = new DynamoDbStateStore({ client: halfProcessingClient(local.dynamodb, 3), tableName });
    expect((await throttled.getRecords(MAILBOX, identities)).size).toBe(120);

    const throttledWrites = new DynamoDbStateStore({ client: halfProcessingClient(local.dynamodb, 3), tableName });
    expect(await throttledWrites.resetMailbox(MAILBOX)).toBe(121);
    expect(await collect(plain.listRecords(MAILBOX))).toEqual([]);
  });

  it('refuses keys over the DynamoDB limits with a typed INVALID error before any request', async () => {
    const { store } = await freshStore();
    // 600 ASCII characters fit; 600 two-byte characters (1,204 bytes with the prefix) do not.
    expect(await store.putRecord(MAILBOX, record('u'.repeat(600)))).toBe(true);
    const tooLong = 'é'.repeat(600);
    for (const attempt of [
      () => store.putRecord(MAILBOX, record(tooLong)),
      () => store.getRecords(MAILBOX, [tooLong]),
      () => store.markDeleted(MAILBOX, [tooLong], NOW),
      () => store.getSummary('m'.repeat(2_045)),
      () => store.putRecord(MAILBOX, record('lone\uD800surrogate')),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ name: 'StateStoreError', code: 'INVALID', retryable: false });
    }
  });

  it('listRecords pages through more than 1 MB of records and skips summary and lease', async () => {
    const counter = countingClient();
    const tableName = await freshTable();
    const store = new DynamoDbStateStore({ client: counter.client, tableName });
    // 3,000 items of ~600 bytes: ~1.8 MB, so Query must stop at 1 MB at least once.
    const identities = await seedRecords(tableName, MAILBOX, 3_000, { paddingChars: 400 });
    await seedRecords(tableName, OTHER_MAILBOX, 10);
    await store.putSummary(MAILBOX, { count: 3_000, listingHash: 'h', updatedAt: NOW });
    await store.acquireLease(MAILBOX, 'run-a', 0, 1_000);

    const listed = await collect(store.listRecords(MAILBOX));
    expect(listed.map((r) => r.identity)).toEqual(identities);
    expect(listed[0]).not.toHaveProperty('padding');
    expect(counter.count('Query')).toBeGreaterThanOrEqual(2);
    counter.client.destroy();
  });
});

describe('deletions and expiry: item layout', () => {
  it('indexes only pending deletions; markDeleted removes the index entry and the TTL, creates no stub', async () => {
    const { store, tableName } = await freshStore();
    const past = '2026-02-01T00:00:00.000Z';
    await store.putRecord(MAILBOX, record('due', { deleteAfter: past }));
    await store.putRecord(MAILBOX, record('kept'));
    expect((await rawRecordItem(tableName, MAILBOX, 'due'))?.gsi1pk).toBeDefined();
    expect((await rawRecordItem(tableName, MAILBOX, 'kept'))?.gsi1pk).toBeUndefined();

    await store.expireRecords(MAILBOX, ['due'], NOW, 7);
    await store.markDeleted(MAILBOX, ['due', 'never-existed'], NOW);
    const item = await rawRecordItem(tableName, MAILBOX, 'due');
    expect(item?.gsi1pk).toBeUndefined();
    expect(item?.[TTL_ATTRIBUTE]).toBeUndefined();
    expect(await rawRecordItem(tableName, MAILBOX, 'never-existed')).toBeUndefined();
  });

  it('expireRecords writes the TTL attribute in epoch seconds and takes the record out of the index', async () => {
    const { store, tableName } = await freshStore();
    await store.putRecord(MAILBOX, record('gone', { deleteAfter: '2026-02-01T00:00:00.000Z' }));
    await store.expireRecords(MAILBOX, ['gone'], NOW, 7);
    const item = await rawRecordItem(tableName, MAILBOX, 'gone');
    expect(item?.[TTL_ATTRIBUTE]).toEqual({ N: String(Date.parse(NOW) / 1000 + 7 * SECONDS_PER_DAY) });
    expect(item?.gsi1pk).toBeUndefined();
  });

  it('refuses a deleteAfter or a listing time that is not canonical ISO-8601 UTC', async () => {
    const { store } = await freshStore();
    await expect(store.putRecord(MAILBOX, record('x', { deleteAfter: '2026-02-01T00:00:00Z' }))).rejects.toMatchObject({ code: 'INVALID' });
    await expect(store.listDueDeletions(MAILBOX, '2026-03-01 12:00')).rejects.toMatchObject({ code: 'INVALID' });
  });
});

describe('errors', () => {
  it('maps a missing table to INVALID and an unreachable endpoint to retryable UNAVAILABLE', async () => {
    const missing = new DynamoDbStateStore({ client: local.dynamodb, tableName: 'no-such-table' });
    await expect(missing.getSummary(MAILBOX)).rejects.toMatchObject({
      name: 'StateStoreError',
      code: 'INVALID',
      retryable: false,
      operation: 'GetItem',
      cause: expect.objectContaining({ name: 'ResourceNotFoundException' }),
    });

    const port = await closedPort();
    const client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    const unreachable = new DynamoDbStateStore({ client, tableName: 'state' });
    const failure = await unreachable.getRecords(MAILBOX, ['uid-1']).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StateStoreError);
    expect(failure).toMatchObject({ code: 'UNAVAILABLE', retryable: true, operation: 'BatchGetItem' });
    client.destroy();
  });
});

describe('consumed capacity', () => {
  it('counts reads and writes; a getSummary costs at most one read unit', async () => {
    const { store, tableName } = await freshStore();
    await store.putSummary(MAILBOX, { count: 1, listingHash: 'h'.repeat(64), updatedAt: NOW });
    expect(store.consumedCapacity().writeUnits).toBeGreaterThan(0);
    expect(store.consumedCapacity().readUnits).toBe(0);

    store.resetCapacity();
    await store.getSummary(MAILBOX);
    const consistent = store.consumedCapacity();
    expect(consistent.writeUnits).toBe(0);
    expect(consistent.readUnits).toBeGreaterThan(0);
    expect(consistent.readUnits).toBeLessThanOrEqual(1);

    const eventual = new DynamoDbStateStore({ client: local.dynamodb, tableName, consistentReads: false });
    await eventual.getSummary(MAILBOX);
    expect(eventual.consumedCapacity().readUnits).toBeLessThanOrEqual(0.5);
  });

  it('O(new): getRecords for 10 identities costs the same with 100 or 5,000 records in the mailbox', async () => {
    const { store, tableName } = await freshStore();
    const [small, big] = await Promise.all([
      seedRecords(tableName, 'small', 100),
      seedRecords(tableName, 'big', 5_000),
    ]);
    // Eight known identities and two new ones: a typical steady-state run.
    const ask = (identities: string[]): string[] => [...identities.slice(-8), 'new-1', 'new-2'];

    store.resetCapacity();
    expect((await store.getRecords('small', ask(small))).size).toBe(8);
    const smallUnits = store.consumedCapacity().readUnits;

    store.resetCapacity();
    expect((await store.getRecords('big', ask(big))).size).toBe(8);
    const bigUnits = store.consumedCapacity().readUnits;

    store.resetCapacity();
    expect(await collect(store.listRecords('big'))).toHaveLength(5_000);
    const listUnits = store.consumedCapacity().readUnits;

    expect(smallUnits).toBeGreaterThan(0);
    expect(Math.abs(bigUnits - smallUnits)).toBeLessThanOrEqual(smallUnits * 0.1);
    // The measurement can tell O(mailbox) from O(new): the full diff costs far more.
    expect(listUnits).toBeGreaterThan(bigUnits * 10);
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
