/**
 * The bench's AWS latency model (bench/latency-model/) driven by the real SDK clients and
 * by the worker's own adapters (S3MessageSink, DynamoDbStateStore): it must answer what
 * they send as S3 and DynamoDB would (checksums echoed, multipart XML, Query by key and
 * by the pending-delete index, batch limits, capacity from item sizes), count what it was
 * asked, and hold each answer for at least the configured delay (its recorded delay, not
 * the test's clock).
 */
import { Readable } from 'node:stream';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatencyModel, type LatencyModel } from '../../bench/latency-model/start-latency-model';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import type { MessageRecord } from '../../lambda/state/state-store';
import { ensureTable } from '../../lambda/state/table-schema';
import { S3MessageSink } from '../../lambda/storage/s3-message-sink';

const MIB = 1024 * 1024;
const MAILBOX = 'bench';
/** Short delays keep the test quick; the defaults are checked by name below. */
const S3_PUT_MS = 12;
const DYNAMO_WRITE_MS = 6;
const DYNAMO_READ_MS = 4;

let model: LatencyModel;
let s3: S3Client;
let dynamodb: DynamoDBClient;
let sequence = 0;

beforeAll(async () => {
  model = await startLatencyModel({
    s3DelaysMs: { PutObject: S3_PUT_MS, UploadPart: S3_PUT_MS, CompleteMultipartUpload: S3_PUT_MS },
    dynamoDbDelaysMs: { PutItem: DYNAMO_WRITE_MS, UpdateItem: DYNAMO_WRITE_MS, BatchWriteItem: DYNAMO_WRITE_MS, Query: DYNAMO_READ_MS, BatchGetItem: DYNAMO_READ_MS },
  });
  // The handler's settings (SDK default checksums), not s3rver's WHEN_REQUIRED.
  s3 = new S3Client({ endpoint: model.s3Endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  dynamodb = new DynamoDBClient({ endpoint: model.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
});

afterAll(async () => {
  s3?.destroy();
  dynamodb?.destroy();
  await model?.stop();
});

async function freshBucket(): Promise<string> {
  const bucket = `bucket-${++sequence}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

async function freshTable(): Promise<string> {
  const table = `table-${++sequence}`;
  await ensureTable(dynamodb, table);
  return table;
}

function record(identity: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return {
    identity,
    uid: identity,
    status: 'stored',
    objectKey: `messages/${MAILBOX}/${identity}.eml`,
    size: 10_000,
    sha256: 'a'.repeat(64),
    firstSeenAt: '2026-01-01T00:00:00.000Z',
    storedAt: '2026-01-01T00:00:01.000Z',
    ...overrides,
  };
}

function message(octets: number): Buffer {
  const head = Buffer.from('From: a@example.com\r\nSubject: latency\r\n\r\n', 'latin1');
  return Buffer.concat([head, Buffer.alloc(octets - head.length, 'x')]);
}

describe('latency model: S3', () => {
  it('answers PutObject with an ETag and the SHA-256 it was sent, and HeadObject with size and metadata', async () => {
    const bucket = await freshBucket();
    const body = message(10_000);
    const sha256 = createHash('sha256').update(body).digest('base64');
    await model.resetTallies();

    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm/1.eml', Body: body, ChecksumSHA256: sha256, Metadata: { uidl: 'u1' } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'm/1.eml' }));

    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(put.ChecksumSHA256).toBe(sha256);
    expect(head).toMatchObject({ ContentLength: 10_000, ETag: put.ETag, Metadata: { uidl: 'u1' } });
    const { s3: tally } = await model.tallies();
    expect(tally.PutObject).toMatchObject({ calls: 1, bytesIn: 10_000 });
    expect(tally.PutObject!.minDelayMs).toBeGreaterThanOrEqual(S3_PUT_MS);
    expect(tally.HeadObject).toMatchObject({ calls: 1, delayedMs: 0 });
  });

  it('stores through S3MessageSink as one PutObject or as a multipart upload, and lists what it stored', async () => {
    const bucket = await freshBucket();
    const sink = new S3MessageSink({ client: s3, bucket, singlePartMaxOctets: MIB, partSizeOctets: 5 * MIB, queueSize: 2, directPutObject: true });
    const input = (identity: string, octets: number) => ({ mailboxId: MAILBOX, identity, uid: identity, body: Readable.from([message(octets)]), sizeHint: octets, firstSeenAt: '2026-01-01T00:00:00.000Z' });
    await model.resetTallies();

    const small = await sink.store(input('small', 20_000));
    const large = await sink.store(input('large', 6 * MIB));

    const heads = await Promise.all([small, large].map((s) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: s.key }))));
    expect(heads.map((h) => h.ContentLength)).toEqual([20_000, 6 * MIB]);
    expect(heads[1]!.ETag).toMatch(/-2"$/);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'messages/' }));
    expect(listed.Contents?.map((c) => c.Key).sort()).toEqual([large.key, small.key].sort());
    const { s3: tally } = await model.tallies();
    expect(Object.fromEntries(Object.entries(tally).map(([op, t]) => [op, t.calls]))).toEqual({
      PutObject: 1,
      CreateMultipartUpload: 1,
      UploadPart: 2,
      CompleteMultipartUpload: 1,
      HeadObject: 2,
      ListObjectsV2: 1,
    });
    expect(tally.UploadPart!.bytesIn).toBe(6 * MIB);
    for (const op of ['UploadPart', 'CompleteMultipartUpload']) expect(tally[op]!.minDelayMs).toBeGreaterThanOrEqual(S3_PUT_MS);
  });

  it('pages ListObjectsV2 in key order and refuses what S3 refuses', async () => {
    const bucket = await freshBucket();
    for (const key of ['b', 'a', 'c']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));

    const first = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 2 }));
    const second = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 2, ContinuationToken: first.NextContinuationToken }));

    expect(first.Contents?.map((c) => c.Key)).toEqual(['a', 'b']);
    expect(first.IsTruncated).toBe(true);
    expect(second.Contents?.map((c) => c.Key)).toEqual(['c']);
    expect(second.IsTruncated).toBe(false);
    await expect(s3.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' }))).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });
});

describe('latency model: DynamoDB', () => {
  it('runs the state store: lease, records, batch reads, Query by prefix and by the pending-delete index, updates, reset', async () => {
    const table = await freshTable();
    const store = new DynamoDbStateStore({ client: dynamodb, tableName: table });
    await model.resetTallies();

    expect(await store.acquireLease(MAILBOX, 'me', Date.now(), 60_000)).toBe(true);
    expect(await store.getSummary(MAILBOX)).toBeUndefined();
    for (const id of ['a1', 'a2', 'b1']) expect(await store.putRecord(MAILBOX, record(id))).toBe(true);
    await store.putRecord(MAILBOX, record('due', { deleteAfter: '2026-01-02T00:00:00.000Z' }));
    await store.noteListSize(MAILBOX, 'a1', 10_042);
    const got = await store.getRecords(MAILBOX, ['a1', 'b1', 'missing']);
    const prefixed = await store.listRecordsByIdentityPrefix(MAILBOX, 'a');
    const dueBefore = await store.listDueDeletions(MAILBOX, '2026-02-01T00:00:00.000Z');
    await store.markDeleted(MAILBOX, ['due'], '2026-02-01T00:00:01.000Z');
    const dueAfter = await store.listDueDeletions(MAILBOX, '2026-02-01T00:00:00.000Z');
    await store.putSummary(MAILBOX, { count: 4, listingHash: 'h', updatedAt: '2026-02-01T00:00:02.000Z' });
    const all: MessageRecord[] = [];
    for await (const r of store.listRecords(MAILBOX)) all.push(r);
    await store.releaseLease(MAILBOX, 'me');
    const summary = await store.getSummary(MAILBOX);
    const removed = await store.resetMailbox(MAILBOX);

    expect([...got.keys()].sort()).toEqual(['a1', 'b1']);
    expect(got.get('a1')).toMatchObject({ listSize: 10_042, size: 10_000 });
    expect(prefixed.map((r) => r.identity)).toEqual(['a1', 'a2']);
    expect(dueBefore.map((r) => r.identity)).toEqual(['due']);
    expect(dueAfter).toEqual([]);
    expect(all.map((r) => r.identity)).toEqual(['a1', 'a2', 'b1', 'due']);
    expect(all.find((r) => r.identity === 'due')?.deletedAt).toBe('2026-02-01T00:00:01.000Z');
    expect(summary).toEqual({ count: 4, listingHash: 'h', updatedAt: '2026-02-01T00:00:02.000Z' });
    // The summary and the four records; the lease was released.
    expect(removed).toBe(5);

    const { dynamodb: tally } = await model.tallies();
    const units = Object.values(tally).reduce((sum, t) => ({ read: sum.read + t.readUnits, write: sum.write + t.writeUnits }), { read: 0, write: 0 });
    // The store asks for ConsumedCapacity on every call: it must add up to the model's own count.
    expect(store.consumedCapacity()).toEqual({ readUnits: units.read, writeUnits: units.write });
    // Lease 1, four records 1 each plus 1 for the one in the index, summary 1, list size 1,
    // markDeleted 1 + 1 (out of the index), lease release 1, reset 5 deletes.
    expect(units.write).toBe(1 + 4 + 1 + 1 + 1 + 2 + 1 + 5);
    expect(tally.BatchWriteItem?.calls).toBe(1);
    expect(tally.PutItem!.minDelayMs).toBeGreaterThanOrEqual(DYNAMO_WRITE_MS);
    expect(tally.Query!.minDelayMs).toBeGreaterThanOrEqual(DYNAMO_READ_MS);
    expect(tally.BatchGetItem!.minDelayMs).toBeGreaterThanOrEqual(DYNAMO_READ_MS);
  });

  it('BatchWriteItem: up to 25 puts and deletes, a unit per started KB of each item, no more than 25, no key twice', async () => {
    const table = await freshTable();
    const put = (sk: string, pad = 0): WriteRequest => ({ PutRequest: { Item: { pk: { S: 'P' }, sk: { S: sk }, pad: { S: 'x'.repeat(pad) } } } });
    await model.resetTallies();

    const result = await dynamodb.send(
      new BatchWriteItemCommand({ RequestItems: { [table]: [put('big', 1500), ...Array.from({ length: 24 }, (_, i) => put(`s${i}`))] }, ReturnConsumedCapacity: 'TOTAL' }),
    );
    const tooMany = dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [table]: Array.from({ length: 26 }, (_, i) => put(`t${i}`)) } }));
    const twice = dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [table]: [put('d'), { DeleteRequest: { Key: { pk: { S: 'P' }, sk: { S: 'd' } } } }] } }));

    expect(result.UnprocessedItems).toEqual({});
    expect(result.ConsumedCapacity).toEqual([{ TableName: table, CapacityUnits: 2 + 24 }]);
    await expect(tooMany).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(twice).rejects.toMatchObject({ name: 'ValidationException', message: 'Provided list of item keys contains duplicates' });
    const page = await dynamodb.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'P' } }, Select: 'COUNT' }));
    expect(page.Count).toBe(25);
  });

  it('TransactWriteItems applies every action at twice the units; UpdateItem and Query pages follow DynamoDB', async () => {
    const table = await freshTable();
    const key = (sk: string): Record<string, AttributeValue> => ({ pk: { S: 'P' }, sk: { S: sk } });
    const big = 'y'.repeat(300 * 1024);
    for (const sk of ['q1', 'q2', 'q3', 'q4', 'q5', 'q6']) await dynamodb.send(new PutItemCommand({ TableName: table, Item: { ...key(sk), big: { S: big } } }));

    const tx = await dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { ...key('t1'), n: { N: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
          { Update: { TableName: table, Key: key('q1'), UpdateExpression: 'SET #n = if_not_exists(#n, :zero) + :one REMOVE big', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':zero': { N: '0' }, ':one': { N: '1' } } } },
          { Delete: { TableName: table, Key: key('q2') } },
        ],
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    const twice = await dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [{ Delete: { TableName: table, Key: key('q3') } }, { Delete: { TableName: table, Key: key('q3') } }] })).catch((err: Error) => err);
    const updated = await dynamodb.send(new UpdateItemCommand({ TableName: table, Key: key('q1'), UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } }, ReturnValues: 'ALL_NEW' }));
    const unused = await dynamodb.send(new GetItemCommand({ TableName: table, Key: key('q1'), ExpressionAttributeNames: { '#x': 'x' } })).catch((err: Error) => err);
    const page = (start?: Record<string, AttributeValue>) =>
      dynamodb.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p AND sk BETWEEN :a AND :z', ExpressionAttributeValues: { ':p': { S: 'P' }, ':a': { S: 'q' }, ':z': { S: 'r' } }, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL', ExclusiveStartKey: start }));
    const first = await page();
    const second = await page(first.LastEvaluatedKey);

    // t1: 1 unit, q1: 300 KB before the update (301 units), q2: 300 KB deleted; all doubled.
    expect(tx.ConsumedCapacity).toEqual([{ TableName: table, CapacityUnits: 2 * (1 + 301 + 301) }]);
    expect(twice).toMatchObject({ name: 'ValidationException', message: 'Transaction request cannot include multiple operations on one item' });
    expect(updated.Attributes).toEqual({ ...key('q1'), n: { N: '2' } });
    expect(unused).toMatchObject({ name: 'ValidationException' });
    // A page stops before 1 MB: q1 (now 10 bytes: pk 3, sk 4, n 3) and three 300 KB items;
    // read units from their total size, rounded up to 4 KB once.
    const bigItem = 3 + 4 + 3 + 300 * 1024;
    expect(first.Items?.map((i) => i.sk!.S)).toEqual(['q1', 'q3', 'q4', 'q5']);
    expect(first.LastEvaluatedKey).toEqual(key('q5'));
    expect(first.ConsumedCapacity?.CapacityUnits).toBe(Math.ceil((10 + 3 * bigItem) / 4096));
    expect(second.Items?.map((i) => i.sk!.S)).toEqual(['q6']);
    expect(second.LastEvaluatedKey).toBeUndefined();
  });

  it('charges reads as DynamoDB Local does: a missing GetItem the minimum, an empty Query or a missing batch key nothing, an index write extra', async () => {
    const table = await freshTable();
    const key = { pk: { S: 'P' }, sk: { S: 'k' } };

    const get = await dynamodb.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }));
    const getEventual = await dynamodb.send(new GetItemCommand({ TableName: table, Key: key, ReturnConsumedCapacity: 'TOTAL' }));
    const empty = await dynamodb.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'P' } }, ReturnConsumedCapacity: 'TOTAL' }));
    const batch = await dynamodb.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [key], ConsistentRead: true } }, ReturnConsumedCapacity: 'TOTAL' }));
    const indexed = await dynamodb.send(new PutItemCommand({ TableName: table, Item: { ...key, gsi1pk: { S: 'P' }, deleteAfter: { S: '2026-01-01T00:00:00.000Z' } }, ReturnConsumedCapacity: 'INDEXES' }));

    expect([get, getEventual, empty].map((r) => r.ConsumedCapacity?.CapacityUnits)).toEqual([1, 0.5, 0]);
    expect(batch.ConsumedCapacity).toEqual([{ TableName: table, CapacityUnits: 0 }]);
    expect(indexed.ConsumedCapacity).toEqual({ TableName: table, CapacityUnits: 2, Table: { CapacityUnits: 1 }, GlobalSecondaryIndexes: { pendingDelete: { CapacityUnits: 1 } } });
  });

  it('refuses what DynamoDB refuses: a missing table, a GSI read asked to be consistent', async () => {
    await expect(dynamodb.send(new GetItemCommand({ TableName: 'nope', Key: { pk: { S: 'x' }, sk: { S: 'y' } } }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const table = await freshTable();
    const consistentIndex = dynamodb.send(
      new QueryCommand({ TableName: table, IndexName: 'pendingDelete', KeyConditionExpression: 'gsi1pk = :p', ExpressionAttributeValues: { ':p': { S: 'x' } }, ConsistentRead: true }),
    );
    await expect(consistentIndex).rejects.toMatchObject({ name: 'ValidationException' });
  });
});
