/**
 * Every request the stores make, on the direct path (lambda/state/direct-dynamodb.ts), against
 * DynamoDB Local behind the signature-checking proxy: the same answers as through the SDK,
 * a failed condition answered without the SDK, binary values read through it, and the
 * Lambda worker's environment resolved without any SDK client.
 */
import type { Server } from 'node:http';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEndpointFromEnvironment } from '../../lambda/aws-direct/aws-environment';
import { DIRECT_BACKOFF_BASE_MS, DIRECT_MAX_FAILURES_IN_A_ROW } from '../../lambda/aws-direct/direct-path';
import { createLocalDynamoDbClient, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import { DirectDynamoDb } from '../../lambda/state/direct-dynamodb';
import { StateStoreErrorCode, toStateStoreError } from '../../lambda/state/errors';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import { directDynamoDbFor, dynamoDbFromEnvironment } from '../../lambda/state/routed-dynamodb-api';
import { sdkClientTarget } from '../../lambda/state/sdk-client-target';
import type { MessageRecord } from '../../lambda/state/state-store';
import { ensureTable } from '../../lambda/state/table-schema';
import { startProxy, type Proxy } from '../fixtures/dynamodb-proxy';
import { startDynamoDbLocal, type LocalDynamo } from '../fixtures/aws-local';
import { storedRecord } from '../fixtures/stored-record';

const MAILBOX = 'acme';

function record(identity: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return storedRecord(MAILBOX, identity, { deleteAfter: '2026-01-02T00:00:00.000Z', ...overrides });
}

/** Every StateStore operation once, with what each returned (records sorted by identity). */
async function exercise(store: DynamoDbStateStore): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  out.leased = await store.acquireLease(MAILBOX, 'owner-1', 1_000, 60_000, { description: 'a test run', host: 'h', pid: 1 });
  out.leasedByOther = await store.acquireLease(MAILBOX, 'owner-2', 2_000, 60_000);
  out.lease = await store.getLease(MAILBOX);
  await store.releaseLease(MAILBOX, 'owner-2');
  out.leaseAfterOthersRelease = (await store.getLease(MAILBOX))?.owner;
  await store.releaseLease(MAILBOX, 'owner-1');
  out.leaseAfterRelease = await store.getLease(MAILBOX);
  out.noSummary = await store.getSummary(MAILBOX);
  await store.putSummary(MAILBOX, { count: 3, listingHash: 'h', updatedAt: '2026-01-01T00:00:00.000Z', fingerprintIdentities: true });
  out.summary = await store.getSummary(MAILBOX);
  out.firstPut = await store.putRecord(MAILBOX, record('single ü', { status: 'pending', storedAt: undefined, deleteAfter: undefined }));
  out.putOverPending = await store.putRecord(MAILBOX, record('single ü'));
  out.putOverStored = await store.putRecord(MAILBOX, record('single ü', { size: 1 }));
  await store.putStoredRecords(MAILBOX, Array.from({ length: 25 }, (_, i) => record(`batch-${i}`)));
  const found = await store.getRecords(MAILBOX, ['batch-0', 'batch-24', 'missing', 'single ü', 'batch-0']);
  out.found = [...found.values()].sort(byIdentity);
  await store.markDeleted(MAILBOX, ['batch-1', 'missing'], '2026-01-03T00:00:00.000Z');
  await store.noteListSize(MAILBOX, 'batch-2', 1300);
  await store.expireRecords(MAILBOX, ['batch-3'], '2026-01-03T00:00:00.000Z', 30);
  out.due = (await store.listDueDeletions(MAILBOX, '2026-01-05T00:00:00.000Z')).map((r) => r.identity).sort();
  const all: MessageRecord[] = [];
  for await (const r of store.listRecords(MAILBOX)) all.push(r);
  out.all = all.sort(byIdentity);
  out.byPrefix = (await store.listRecordsByIdentityPrefix(MAILBOX, 'batch-2')).map((r) => r.identity).sort();
  out.capacity = store.consumedCapacity();
  out.removed = await store.resetMailbox(MAILBOX);
  return out;
}

const byIdentity = (a: MessageRecord, b: MessageRecord): number => a.identity.localeCompare(b.identity);

describe('every store request on the direct path', () => {
  let local: LocalDynamo;
  let tables = 0;
  const servers: Server[] = [];

  beforeAll(async () => {
    local = await startDynamoDbLocal();
  }, 120_000);
  afterAll(async () => {
    for (const server of servers) server.close();
    await local?.stop();
  });

  async function table(): Promise<{ tableName: string; proxy: Proxy }> {
    const tableName = `ops-${++tables}`;
    await ensureTable(local.dynamodb, tableName);
    const proxy = await startProxy(local.endpoint);
    servers.push(proxy.server);
    return { tableName, proxy };
  }

  it('answers as the SDK does, operation by operation, with no request through the SDK', async () => {
    const direct = await table();
    const client = createLocalDynamoDbClient(direct.proxy.endpoint);
    const viaDirect = await exercise(new DynamoDbStateStore({ client, tableName: direct.tableName, direct: true }));
    const sdk = await table();
    const viaSdk = await exercise(new DynamoDbStateStore({ client: createLocalDynamoDbClient(sdk.proxy.endpoint), tableName: sdk.tableName }));
    expect(viaDirect).toEqual(viaSdk);
    // The answers are the operations' real ones, not all alike.
    const due = [...Array.from({ length: 25 }, (_, i) => `batch-${i}`).filter((id) => id !== 'batch-1' && id !== 'batch-3'), 'single ü'].sort();
    expect(viaDirect).toMatchObject({ leased: true, leasedByOther: false, leaseAfterOthersRelease: 'owner-1', leaseAfterRelease: undefined, firstPut: true, putOverPending: true, putOverStored: false, due, byPrefix: ['batch-2', 'batch-20', 'batch-21', 'batch-22', 'batch-23', 'batch-24'], removed: 27 });
    expect((viaDirect.all as MessageRecord[]).find((r) => r.identity === 'batch-2')?.listSize).toBe(1300);
    expect((viaDirect.summary as { count: number }).count).toBe(3);
    expect(direct.proxy.sdkRequests).toBe(0);
    expect(Object.keys(direct.proxy.directByOperation).sort()).toEqual(['BatchGetItem', 'BatchWriteItem', 'DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem']);
    expect(direct.proxy.verified).toBe(direct.proxy.direct);
    expect(sdk.proxy.direct).toBe(0);
  });

  it('a failed condition is the SDK\'s error, answered directly: the path stays on', async () => {
    const { tableName, proxy } = await table();
    const api = directDynamoDbFor(createLocalDynamoDbClient(proxy.endpoint));
    const item = { pk: { S: 'MBX#x' }, sk: { S: '#LEASE' }, owner: { S: 'a' } };
    await api.send('PutItem', { TableName: tableName, Item: item });
    const failed = api.send('PutItem', { TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' });
    await expect(failed).rejects.toMatchObject({ name: 'ConditionalCheckFailedException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
    expect({ sdk: proxy.sdkRequests, direct: proxy.direct, off: api.direct.disabledReason }).toEqual({ sdk: 0, direct: 2, off: undefined });
    // The item a failed condition returns is the SDK's to decode.
    const withItem = api.send('PutItem', { TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' });
    await expect(withItem).rejects.toMatchObject({ name: 'ConditionalCheckFailedException', Item: item });
    expect({ sdk: proxy.sdkRequests, direct: proxy.direct }).toEqual({ sdk: 1, direct: 2 });
  });

  it('a caller that stopped while the direct request was in flight: no SDK request', async () => {
    const { tableName, proxy } = await table();
    const api = directDynamoDbFor(createLocalDynamoDbClient(proxy.endpoint));
    const stopping = new AbortController();
    api.direct.intercept(async (request, send) => {
      stopping.abort();
      return send();
    });
    await expect(api.send('GetItem', { TableName: tableName, Key: { pk: { S: 'x' }, sk: { S: 'y' } } }, { abortSignal: stopping.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(proxy.sdkRequests).toBe(0);
  });

  it('an answer with binary values: decoded here into the bytes the SDK gives, with no request through it', async () => {
    const { tableName, proxy } = await table();
    const key = { pk: { S: 'MBX#x' }, sk: { S: '#KEY' } };
    const bytes = new Uint8Array([0, 1, 62, 63, 254, 255]);
    const item = { ...key, ciphertext: { B: bytes }, set: { BS: [new Uint8Array([1]), new Uint8Array([2, 3])] }, nested: { M: { B: { S: 'a map key named B' }, BS: { N: '1' } } } };
    await local.dynamodb.send(new PutItemCommand({ TableName: tableName, Item: item }));
    const sdk = await local.dynamodb.send(new GetItemCommand({ TableName: tableName, Key: key }));
    const api = directDynamoDbFor(createLocalDynamoDbClient(proxy.endpoint));
    const read = await api.send('GetItem', { TableName: tableName, Key: key });
    expect(read.Item).toEqual(sdk.Item);
    expect(read.Item?.ciphertext?.B).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(read.Item!.ciphertext!.B!).equals(Buffer.from(bytes))).toBe(true);
    expect({ direct: proxy.direct, sdk: proxy.sdkRequests }).toEqual({ direct: 1, sdk: 0 });
  });

  it('the Lambda worker\'s environment: direct to the configured endpoint with the role\'s credentials, no SDK client made', async () => {
    const { tableName, proxy } = await table();
    const env = { AWS_REGION: LOCAL_REGION, AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint, AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey };
    const store = new DynamoDbStateStore({ client: dynamoDbFromEnvironment({}, env), tableName });
    expect(await store.acquireLease(MAILBOX, 'o', 1_000, 60_000)).toBe(true);
    await store.putStoredRecords(MAILBOX, [record('env')]);
    expect([...(await store.getRecords(MAILBOX, ['env'])).keys()]).toEqual(['env']);
    expect({ verified: proxy.verified, direct: proxy.direct, sdk: proxy.sdkRequests }).toEqual({ verified: 3, direct: 3, sdk: 0 });
  });

  it('an answer lost after DynamoDB took the request: the SDK sends it again, unless it is an update that counts', async () => {
    const { tableName, proxy } = await table();
    const cut = await startProxy(local.endpoint, undefined, { cutAfterForward: (operation) => operation === 'UpdateItem' });
    servers.push(cut.server);
    const api = directDynamoDbFor(createLocalDynamoDbClient(cut.endpoint));
    const key = { pk: { S: 'MBX#x' }, sk: { S: '#HEALTH' } };
    // A SET applies once however often it is sent: the SDK sends it again.
    await api.send('UpdateItem', { TableName: tableName, Key: key, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': { S: 'ok' } } });
    expect(cut.sdkRequests).toBe(1);
    // An ADD counts each time: it fails, retryable, and counted once. (After the rest the failure above began.)
    await new Promise((resolve) => setTimeout(resolve, DIRECT_BACKOFF_BASE_MS + 50));
    const counting = api.send('UpdateItem', { TableName: tableName, Key: key, UpdateExpression: 'ADD #n :one', ExpressionAttributeNames: { '#n': 'failures' }, ExpressionAttributeValues: { ':one': { N: '1' } } });
    await expect(counting).rejects.toMatchObject({ name: 'RequestOutcomeUnknown', $fault: 'server' });
    await expect(counting.catch((err: unknown) => toStateStoreError(err, 'UpdateItem', tableName))).resolves.toMatchObject({ code: StateStoreErrorCode.UNAVAILABLE, retryable: true });
    expect(cut.sdkRequests).toBe(1);
    const item = await directDynamoDbFor(createLocalDynamoDbClient(proxy.endpoint)).send('GetItem', { TableName: tableName, Key: key });
    expect(item.Item).toEqual({ ...key, status: { S: 'ok' }, failures: { N: '1' } });
  });

  it('one blip that fails every request in flight counts once: the path rests, and is not turned off', async () => {
    const { tableName, proxy } = await table();
    const api = directDynamoDbFor(createLocalDynamoDbClient(proxy.endpoint));
    let failing = true;
    api.direct.intercept((request, send) => (failing ? Promise.reject(new Error('connection reset by the test')) : send()));
    const key = (i: number): Record<string, { S: string }> => ({ pk: { S: 'MBX#x' }, sk: { S: `MSG#${i}` } });
    // Twice DIRECT_MAX_FAILURES_IN_A_ROW requests at once: each goes through the SDK.
    await Promise.all(Array.from({ length: 2 * DIRECT_MAX_FAILURES_IN_A_ROW }, (_, i) => api.send('GetItem', { TableName: tableName, Key: key(i) })));
    expect({ off: api.direct.disabledReason, sdk: proxy.sdkRequests }).toEqual({ off: undefined, sdk: 2 * DIRECT_MAX_FAILURES_IN_A_ROW });
    failing = false;
    await new Promise((resolve) => setTimeout(resolve, DIRECT_BACKOFF_BASE_MS + 50));
    await api.send('GetItem', { TableName: tableName, Key: key(0) });
    expect({ direct: proxy.direct, sdk: proxy.sdkRequests }).toEqual({ direct: 1, sdk: 2 * DIRECT_MAX_FAILURES_IN_A_ROW });
  });

  it('an endpoint the environment cannot resolve is left to the SDK', async () => {
    const { tableName } = await table();
    const client = createLocalDynamoDbClient('http://127.0.0.1:9/with-a-path');
    expect(await new DirectDynamoDb(sdkClientTarget(client)).send('GetItem', { TableName: tableName, Key: {} })).toEqual({ kind: 'retry-sdk', reason: 'not available' });
  });
});

describe('serviceEndpointFromEnvironment', () => {
  const credentials = { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'secret' };
  const resolve = (env: Record<string, string>): { endpoint: string | undefined; region: string } | undefined => {
    const resolved = serviceEndpointFromEnvironment('dynamodb', env);
    return resolved && { endpoint: resolved.endpoint?.href, region: resolved.region };
  };

  it('a standard region: its public endpoint; a configured endpoint wins, the service\'s own first', () => {
    expect(resolve({ AWS_REGION: 'eu-west-1', ...credentials })).toEqual({ endpoint: undefined, region: 'eu-west-1' });
    expect(resolve({ AWS_REGION: 'il-central-1', AWS_USE_FIPS_ENDPOINT: 'false', AWS_USE_DUALSTACK_ENDPOINT: '', ...credentials })).toEqual({ endpoint: undefined, region: 'il-central-1' });
    expect(resolve({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://localhost:1/', AWS_ENDPOINT_URL_DYNAMODB: 'https://ddb.example:8443', ...credentials })).toEqual({ endpoint: 'https://ddb.example:8443/', region: 'us-east-1' });
    expect(resolve({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://localhost:1', ...credentials })).toEqual({ endpoint: 'http://localhost:1/', region: 'us-east-1' });
    expect(resolve({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://localhost:1', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true', ...credentials })).toEqual({ endpoint: undefined, region: 'us-east-1' });
    // An empty variable is unset, as the SDK reads it: the general one applies.
    expect(resolve({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: '', AWS_ENDPOINT_URL: 'http://localhost:4566', ...credentials })).toEqual({ endpoint: 'http://localhost:4566/', region: 'us-east-1' });
  });

  it('what only the SDK resolves: other partitions, FIPS, dual-stack, endpoints with a path, no region or no credentials', () => {
    for (const region of ['us-gov-west-1', 'cn-north-1', 'us-iso-east-1', 'eu-isoe-west-1', 'local']) expect(resolve({ AWS_REGION: region, ...credentials }), region).toBeUndefined();
    expect(resolve({ AWS_REGION: 'us-east-1', AWS_USE_FIPS_ENDPOINT: 'true', ...credentials })).toBeUndefined();
    expect(resolve({ AWS_REGION: 'us-east-1', AWS_USE_DUALSTACK_ENDPOINT: 'true', ...credentials })).toBeUndefined();
    // A flag the SDK reads as neither true nor false (it refuses `TRUE`): the SDK judges.
    for (const name of ['AWS_USE_FIPS_ENDPOINT', 'AWS_USE_DUALSTACK_ENDPOINT', 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS']) {
      expect(resolve({ AWS_REGION: 'us-east-1', [name]: 'TRUE', ...credentials }), name).toBeUndefined();
    }
    // The SDK takes the region from AWS_REGION only.
    expect(resolve({ AWS_DEFAULT_REGION: 'eu-west-1', ...credentials })).toBeUndefined();
    expect(resolve({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: 'https://proxy.example/ddb', ...credentials })).toBeUndefined();
    expect(resolve({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: 'ftp://x', ...credentials })).toBeUndefined();
    expect(resolve(credentials)).toBeUndefined();
    expect(resolve({ AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKID' })).toBeUndefined();
  });
});
