/**
 * The state store's direct requests (lambda/state/direct-dynamodb.ts) against
 * DynamoDB Local, behind a proxy that checks each direct request's SigV4 signature with the
 * SDK's own signer (DynamoDB Local checks none) and can refuse, fail or garble what the
 * direct path gets, but not the SDK's requests: what it writes, and that whatever it cannot
 * do the SDK does, with nothing lost and nothing written twice.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DIRECT_BACKOFF_BASE_MS, DIRECT_BACKOFF_MAX_MS, DIRECT_MAX_FAILURES_IN_A_ROW } from '../../lambda/aws-direct/direct-path';
import { signRequest } from '../../lambda/aws-direct/sigv4';
import { createLocalDynamoDbClient, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import { DIRECT_DYNAMODB_MAX_ANSWER_OCTETS, DirectDynamoDb } from '../../lambda/state/direct-dynamodb';
import { sdkClientTarget } from '../../lambda/state/sdk-client-target';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import { StateStoreErrorCode } from '../../lambda/state/errors';
import type { MessageRecord } from '../../lambda/state/state-store';
import { ensureTable } from '../../lambda/state/table-schema';
import { hookRequests } from '../fixtures/request-hooks';
import { startDynamoDbLocal, type LocalDynamo } from '../fixtures/aws-local';
import { storedRecord } from '../fixtures/stored-record';
import { startProxy, type Meddle, type Proxy } from '../fixtures/dynamodb-proxy';
import { Sha256 } from '../fixtures/sdk-signature';

const MAILBOX = 'acme';

function record(identity: string): MessageRecord {
  return storedRecord(MAILBOX, identity, { listSize: 1250, deleteAfter: '2026-01-02T00:00:00.000Z' });
}

const records = (prefix: string, count: number): MessageRecord[] => Array.from({ length: count }, (_, i) => record(`${prefix}-${i} ü "quoted"`));

describe('direct DynamoDB requests', () => {
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

  /** A fresh table, a proxy in front of DynamoDB Local, and a store that writes its batches directly through it. */
  async function setup(meddle?: Meddle, warnings: unknown[] = []): Promise<{ proxy: Proxy; client: DynamoDBClient; store: DynamoDbStateStore; reader: DynamoDbStateStore }> {
    const tableName = `direct-${++tables}`;
    await ensureTable(local.dynamodb, tableName);
    const proxy = await startProxy(local.endpoint, meddle);
    servers.push(proxy.server);
    const client = createLocalDynamoDbClient(proxy.endpoint);
    const store = new DynamoDbStateStore({ client, tableName, direct: true, onWarning: (event, fields) => warnings.push({ event, fields }) });
    return { proxy, client, store, reader: new DynamoDbStateStore({ client: local.dynamodb, tableName }) };
  }

  async function expectRecorded(reader: DynamoDbStateStore, expected: readonly MessageRecord[]): Promise<void> {
    const found: MessageRecord[] = [];
    for await (const r of reader.listRecords(MAILBOX)) found.push(r);
    expect(found.sort((a, b) => a.identity.localeCompare(b.identity))).toEqual([...expected].sort((a, b) => a.identity.localeCompare(b.identity)));
  }

  it('writes the records the SDK would write, signed as DynamoDB checks it, and counts their capacity', async () => {
    const { proxy, store, reader } = await setup();
    const batch = records('direct', 25);
    await store.putStoredRecords(MAILBOX, batch);
    await expectRecorded(reader, batch);
    expect({ direct: proxy.direct, verified: proxy.verified, sdk: proxy.sdkBatchWrites }).toEqual({ direct: 1, verified: 1, sdk: 0 });
    expect(store.consumedCapacity().writeUnits).toBeGreaterThanOrEqual(25);

    // The same records through the SDK, into another table: the same items.
    const viaSdk = await setup();
    const sdkStore = new DynamoDbStateStore({ client: viaSdk.client, tableName: `direct-${tables}` });
    await sdkStore.putStoredRecords(MAILBOX, batch);
    expect(viaSdk.proxy.sdkBatchWrites).toBe(1);
    await expectRecorded(viaSdk.reader, batch);
  });

  it('signed with the wrong secret: not written, and the SDK writes the batch (the check above can fail)', async () => {
    const { proxy, reader } = await setup();
    const client = new DynamoDBClient({ endpoint: proxy.endpoint, region: LOCAL_REGION, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'not-the-secret' } });
    const direct = new DirectDynamoDb(sdkClientTarget(client));
    const tableName = `direct-${tables}`;
    const outcome = await direct.send('BatchWriteItem', { RequestItems: { [tableName]: [{ PutRequest: { Item: { pk: { S: 'MBX#x' }, sk: { S: 'MSG#y' } } } }] } });
    expect(outcome).toEqual({ kind: 'retry-sdk', reason: 'HTTP 400 InvalidSignatureException' });
    expect(proxy.verified).toBe(0);
    await expectRecorded(reader, []);
    client.destroy();
  });

  it('signs as the SDK signs: the same Authorization for the same request, session token included', async () => {
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'token/with+chars=' };
    const now = new Date('2026-12-06T10:11:12.000Z');
    const body = Buffer.from('{"RequestItems":{}}');
    const headers = { host: 'dynamodb.eu-west-1.amazonaws.com', 'content-length': String(body.length), 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.BatchWriteItem' };
    const sha = createHash('sha256').update(body).digest('hex');
    const ours = signRequest({ method: 'POST', path: '/', headers, payloadSha256Hex: sha }, { region: 'eu-west-1', service: 'dynamodb', credentials, now });
    const sdk = new SignatureV4({ service: 'dynamodb', region: 'eu-west-1', credentials, sha256: Sha256 });
    const signed = await sdk.sign({ method: 'POST', protocol: 'https:', hostname: headers.host, path: '/', query: {}, headers, body }, { signingDate: now });
    expect(ours.authorization).toBe(signed.headers.authorization);
    expect(ours['x-amz-content-sha256']).toBe(sha);
    expect(ours['x-amz-security-token']).toBe(credentials.sessionToken);
  });

  it('items the answer lists as unprocessed are sent again, directly, until none is left', async () => {
    let first = true;
    const { proxy, store, reader } = await setup((input) => {
      if (!first) return undefined;
      first = false;
      const [table, requests] = Object.entries(input.RequestItems)[0]!;
      const half = Math.ceil(requests.length / 2);
      return { forward: { ...input, RequestItems: { [table]: requests.slice(0, half) } }, rewrite: (answer) => JSON.stringify({ ...answer, UnprocessedItems: { [table]: requests.slice(half) } }) };
    });
    const batch = records('unprocessed', 25);
    await store.putStoredRecords(MAILBOX, batch);
    await expectRecorded(reader, batch);
    expect({ direct: proxy.direct, sdk: proxy.sdkBatchWrites }).toEqual({ direct: 2, sdk: 0 });
  });

  it('a throttled or failed direct request: the SDK writes the batch; the path rests, then is used again', async () => {
    const answers = [
      { status: 400, body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'slow down' }) },
      { status: 500, body: '{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}' },
    ];
    for (const answer of answers) {
      let refusals = 1;
      const { proxy, store, reader } = await setup(() => (refusals-- > 0 ? { answer } : undefined));
      const [first, resting, rested] = [records('first', 3), records('resting', 3), records('rested', 3)];
      // The clock stands still until the rest is over (a loaded machine must not end it early).
      const now = Date.now();
      vi.useFakeTimers({ toFake: ['Date'], now });
      try {
        await store.putStoredRecords(MAILBOX, first);
        await store.putStoredRecords(MAILBOX, resting);
        vi.setSystemTime(now + DIRECT_BACKOFF_BASE_MS + 1);
        await store.putStoredRecords(MAILBOX, rested);
      } finally {
        vi.useRealTimers();
      }
      await expectRecorded(reader, [...first, ...resting, ...rested]);
      // direct (refused) and SDK; SDK (resting); direct.
      expect({ direct: proxy.direct, sdk: proxy.sdkBatchWrites }).toEqual({ direct: 2, sdk: 2 });
    }
  });

  it('an answer that is not this batch\'s (garbled, too long, of another shape or another table): the SDK writes the batch again, each item once', async () => {
    const rewrites: ((answer: Record<string, unknown>) => string)[] = [
      () => '{"UnprocessedItems": {',
      () => JSON.stringify({ UnprocessedItems: {}, padding: 'x'.repeat(DIRECT_DYNAMODB_MAX_ANSWER_OCTETS) }),
      ...['null', '[]', '0', '"written"'].map((body) => () => body),
      () => JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ValidationException' }),
      () => JSON.stringify({ UnprocessedItems: null }),
      () => JSON.stringify({ UnprocessedItems: { 'another-table': [] } }),
      (answer) => JSON.stringify({ ...answer, ConsumedCapacity: [{ TableName: 'another-table', CapacityUnits: 10 }] }),
    ];
    for (const rewrite of rewrites) {
      let first = true;
      const { proxy, store, reader } = await setup((input) => {
        if (!first) return undefined;
        first = false;
        return { forward: input, rewrite };
      });
      const batch = records('garbled', 10);
      await store.putStoredRecords(MAILBOX, batch);
      await expectRecorded(reader, batch);
      expect({ direct: proxy.direct, sdk: proxy.sdkBatchWrites }).toEqual({ direct: 1, sdk: 1 });
    }
  });

  it('turns itself off after failing DIRECT_MAX_FAILURES_IN_A_ROW times in a row, with one warning; every record is written', async () => {
    const warnings: unknown[] = [];
    const answer = { status: 500, body: '{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}' };
    const { proxy, store, reader } = await setup(() => ({ answer }), warnings);
    const written: MessageRecord[] = [];
    let now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now });
    try {
      for (let i = 0; i < DIRECT_MAX_FAILURES_IN_A_ROW + 2; i++) {
        const batch = records(`failing-${i}`, 2);
        await store.putStoredRecords(MAILBOX, batch);
        written.push(...batch);
        now += DIRECT_BACKOFF_MAX_MS + 1;
        vi.setSystemTime(now);
      }
    } finally {
      vi.useRealTimers();
    }
    await expectRecorded(reader, written);
    expect(proxy.direct).toBe(DIRECT_MAX_FAILURES_IN_A_ROW);
    expect(warnings).toEqual([{ event: 'direct-dynamodb-disabled', fields: { table: `direct-${tables}`, reason: `${DIRECT_MAX_FAILURES_IN_A_ROW} failures in a row, the last: HTTP 500 InternalServerError` } }]);
  });

  it('a refusal the SDK gets past turns the direct path off for the client, with one warning', async () => {
    const warnings: unknown[] = [];
    const answer = { status: 400, body: '{"__type":"com.amazon.coral.validate#ValidationException","message":"only the direct request"}' };
    const { proxy, store, reader } = await setup(() => ({ answer }), warnings);
    const [one, two] = [records('refused-1', 2), records('refused-2', 2)];
    await store.putStoredRecords(MAILBOX, one);
    await store.putStoredRecords(MAILBOX, two);
    await expectRecorded(reader, [...one, ...two]);
    expect({ direct: proxy.direct, sdk: proxy.sdkBatchWrites }).toEqual({ direct: 1, sdk: 2 });
    expect(warnings).toEqual([{ event: 'direct-dynamodb-disabled', fields: { table: `direct-${tables}`, reason: "refused (HTTP 400 ValidationException) where the SDK's request was taken" } }]);
  });

  it('a refusal the SDK gets too is the store\'s typed error, and the direct path stays on', async () => {
    const { client, proxy } = await setup();
    const store = new DynamoDbStateStore({ client, tableName: 'no-such-table', direct: true });
    await expect(store.putStoredRecords(MAILBOX, records('missing', 2))).rejects.toMatchObject({ code: StateStoreErrorCode.INVALID });
    expect({ direct: proxy.direct, sdk: proxy.sdkBatchWrites }).toEqual({ direct: 1, sdk: 1 });
  });

  it('an endpoint with a path of its own goes through the SDK (it signs such paths its own way)', async () => {
    const client = new DynamoDBClient({ endpoint: 'http://127.0.0.1:9/prefix', region: LOCAL_REGION, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    expect(await new DirectDynamoDb(sdkClientTarget(client)).send('BatchWriteItem', { RequestItems: { t: [{ PutRequest: { Item: { pk: { S: 'x' } } } }] } })).toEqual({ kind: 'retry-sdk', reason: 'not available' });
    client.destroy();
  });

  it('a request with binary attributes goes through the SDK, unsent here', async () => {
    const { proxy, client } = await setup();
    const direct = new DirectDynamoDb(sdkClientTarget(client));
    const outcome = await direct.send('BatchWriteItem', { RequestItems: { [`direct-${tables}`]: [{ PutRequest: { Item: { pk: { S: 'MBX#x' }, sk: { S: 'MSG#y' }, data: { B: new Uint8Array([1, 2]) } } } }] } });
    expect(outcome).toEqual({ kind: 'retry-sdk', reason: 'binary attributes' });
    const set = await direct.send('PutItem', { TableName: `direct-${tables}`, Item: { pk: { S: 'MBX#x' }, sk: { S: 'MSG#y' }, data: { BS: [Buffer.from('a')] } } });
    expect(set).toEqual({ kind: 'retry-sdk', reason: 'binary attributes' });
    expect(proxy.direct).toBe(0);
  });

  it('a caller that stopped: nothing is sent, and a request in flight is cut off, not sent again by the SDK', async () => {
    const { proxy, client, store, reader } = await setup();
    const stopped = new AbortController();
    stopped.abort();
    await expect(store.putStoredRecords(MAILBOX, records('stopped', 2), { signal: stopped.signal })).rejects.toMatchObject({ code: StateStoreErrorCode.ABORTED });
    expect(proxy.direct + proxy.sdkBatchWrites).toBe(0);

    // Held by an interceptor until the caller stops, then let go: the socket is closed before anything is written.
    const stopping = new AbortController();
    const remove = hookRequests(client, { name: 'hold', before: async (request) => void (request.via === 'direct' && (await new Promise((resolve) => setTimeout(resolve, 200)))) }, 'dynamodb');
    setTimeout(() => stopping.abort(), 50);
    await expect(store.putStoredRecords(MAILBOX, records('stopping', 2), { signal: stopping.signal })).rejects.toMatchObject({ code: StateStoreErrorCode.ABORTED });
    remove();
    expect(proxy.direct + proxy.sdkBatchWrites).toBe(0);
    await expectRecorded(reader, []);
  });
});
