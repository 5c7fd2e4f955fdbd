/**
 * Review of issue 11: batched stored records under DynamoDB trouble, against a server that
 * hides retrieved mail at QUIT (Gmail) and deletes what was DELE'd. A batch that DynamoDB
 * throttles part of (UnprocessedItems until the adapter gives up) must leave every message
 * of the session on the server (no QUIT), and clean runs must then store each message once.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import { directDynamoDbFor } from '../../lambda/state/routed-dynamodb-api';
import { createLocalDynamoDbClient } from '../../lambda/local/embedded-aws';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakePop3, type FakeMailRecord, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { gmail } from '../fixtures/pop3-profiles';
import { SimulatedCrash, WorkerBench } from './harness';

type Item = Record<string, { S?: string }>;
interface PutRequest {
  PutRequest?: { Item?: Item };
}

const MESSAGES = 60;
const mail = (n: number): string => `Message-ID: <b${n}@test>\r\nSubject: batch ${n}\r\n\r\nbody ${n}\r\n`;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function ok(r: RunSummary | SimulatedCrash): RunSummary {
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

/**
 * Throttles the `nth` BatchWriteItem of stored records: its first half is written, the
 * rest comes back unprocessed, and so does every retry of that rest (the adapter gives up).
 * Through the SDK and through the direct path alike.
 */
function throttleBatch(client: DynamoDBClient, nth: number): { armed: boolean; throttled: Set<string>; direct: number } {
  const state = { armed: true, throttled: new Set<string>(), seen: 0, direct: 0 };
  const idOf = (r: PutRequest): string => r.PutRequest!.Item!.identity!.S!;
  /** The requests to hold back, or undefined to let the batch pass. */
  const held = (requests: PutRequest[]): PutRequest[] | undefined => {
    if (!state.armed || !requests.some((r) => r.PutRequest?.Item?.status?.S === 'stored')) return undefined;
    if (requests.some((r) => state.throttled.has(idOf(r)))) return requests;
    if (++state.seen !== nth) return undefined;
    // The second half, or the one record of a batch of one (a server without pipelining
    // often has a single upload in flight when a batch goes): never nothing.
    const rest = requests.slice(Math.floor(requests.length / 2));
    for (const r of rest) state.throttled.add(idOf(r));
    return rest;
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = (args as { input?: { RequestItems?: Record<string, PutRequest[]> } }).input;
      if (context.commandName !== 'BatchWriteItemCommand' || !input?.RequestItems) return next(args);
      const [table, requests] = Object.entries(input.RequestItems)[0]!;
      const hold = held(requests);
      if (!hold) return next(args);
      const passed = requests.filter((r) => !hold.includes(r));
      const out: { output: Record<string, unknown>; response?: unknown } =
        passed.length > 0 ? ((await next({ ...args, input: { ...input, RequestItems: { [table]: passed } } } as typeof args)) as unknown as { output: Record<string, unknown> }) : { output: { $metadata: {} }, response: {} };
      out.output.UnprocessedItems = { [table]: hold };
      return out as never;
    },
    { step: 'initialize', name: 'reviewThrottleBatch' },
  );
  directDynamoDbFor(client).direct.intercept(async (request, send) => {
    if (request.operation !== 'BatchWriteItem') return send();
    state.direct++;
    const [table, requests] = Object.entries(request.input.RequestItems as Record<string, PutRequest[]>)[0]!;
    const hold = held(requests);
    if (!hold) return send();
    const passed = requests.filter((r) => !hold.includes(r));
    const response = passed.length > 0 ? await send({ ...request, input: { ...request.input, RequestItems: { [table]: passed as WriteRequest[] } } }) : { statusCode: 200, output: {} };
    if (response.statusCode !== 200) return response;
    return { ...response, output: { ...response.output, UnprocessedItems: { [table]: hold as WriteRequest[] } } };
  });
  return state;
}

const STORED_RECORD_WRITES: ReadonlySet<string> = new Set(['BatchWriteItemCommand', 'PutItemCommand', 'TransactWriteItemsCommand']);

/**
 * Holds the first write of stored records before it is sent, until `release()`;
 * `landed` resolves once it has been written after all. Through the SDK and the direct path alike.
 */
function stallFirstBatch(client: DynamoDBClient): { stalled: Promise<void>; release: () => void; landed: Promise<void> } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let onStalled!: () => void;
  const stalled = new Promise<void>((resolve) => (onStalled = resolve));
  let onLanded!: () => void;
  const landed = new Promise<void>((resolve) => (onLanded = resolve));
  let first = true;
  const stall = async <T>(items: (Item | undefined)[], write: () => Promise<T>): Promise<T> => {
    if (!first || !items.some((item) => item?.status?.S === 'stored')) return write();
    first = false;
    onStalled();
    await gate;
    const out = await write();
    onLanded();
    return out;
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      // Whichever write carries the stored records (a batch today; a single or transactional write after a fix).
      const input = (args as { input?: { Item?: Item; RequestItems?: Record<string, PutRequest[]>; TransactItems?: { Put?: { Item?: Item } }[] } }).input;
      if (!STORED_RECORD_WRITES.has(String(context.commandName))) return next(args);
      const items = [input?.Item, ...Object.values(input?.RequestItems ?? {}).flat().map((r) => r.PutRequest?.Item), ...(input?.TransactItems ?? []).map((t) => t.Put?.Item)];
      return stall(items, () => next(args));
    },
    { step: 'initialize', name: 'reviewStallBatch' },
  );
  directDynamoDbFor(client).direct.intercept((request, send) => {
    const input = request.input as { Item?: Item; RequestItems?: Record<string, PutRequest[]> };
    return STORED_RECORD_WRITES.has(`${request.operation}Command`) ? stall([input.Item, ...Object.values(input.RequestItems ?? {}).flat().map((r) => r.PutRequest?.Item)], () => send()) : send();
  });
  return { stalled, release, landed };
}

describe('stored-record batches under throttling (review of issue 11)', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  const servers: FakePop3Server[] = [];
  beforeAll(async () => {
    [s3, dynamo] = await Promise.all([startS3rver(), startDynamoDbLocal()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.close()), s3?.stop(), dynamo?.stop()]);
  });

  /** A worker on a Gmail-like server that deletes, its records written through `client`. */
  const gmailBench = (server: FakePop3Server, client: DynamoDBClient, direct: boolean): Promise<WorkerBench> =>
    WorkerBench.create({
      s3,
      dynamo: { ...dynamo, dynamodb: client },
      pop3: { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
      mailbox: { hidesRetrievedMail: true, retention: 'delete' },
      state: { direct },
    });

  for (const direct of [false, true]) {
    const path = direct ? 'direct BatchWriteItem' : 'BatchWriteItem through the SDK';
    it(`${path}: a throttled batch after a durable one: no QUIT (nothing hidden or removed), then every message stored once and gone`, { timeout: 120_000 }, async () => {
      // Everything that leaves at a QUIT, checked after each run against the bucket and the records.
      const left: FakeMailRecord[] = [];
      const server = await startFakePop3({ profiles: [gmail()], onCommit: (e) => left.push(...e.removed, ...e.hidden) });
      servers.push(server);
      for (let n = 1; n <= MESSAGES; n++) server.deliver(mail(n));
      const client = createLocalDynamoDbClient(dynamo.endpoint);
      const throttle = throttleBatch(client, 2);
      const bench = await gmailBench(server, client, direct);
      const assertLeftAreStored = async (): Promise<void> => {
        const objects = await bench.objects();
        const records = new Map((await bench.records()).map((r) => [r.identity, r]));
        for (const m of left) {
          const rec = records.get(m.uid);
          expect(rec?.status, `record of ${m.uid}`).toBe('stored');
          expect(rec?.sha256).toBe(sha(m.bytes));
          expect(objects.get(rec!.objectKey!)?.equals(m.bytes), `object of ${m.uid}`).toBe(true);
        }
      };

      const first = ok(await bench.run());
      expect(throttle.throttled.size, `batches seen: the first run's errors ${JSON.stringify(first.errors)}`).toBeGreaterThan(0);
      expect(throttle.direct > 0, 'batches sent directly').toBe(direct);
      expect(first.complete).toBe(false);
      expect(first.errors.map((e) => e.code)).toContain('THROTTLED');
      // A message of the throttled batch was retrieved and not recorded: the session ends without QUIT.
      expect(left).toEqual([]);
      expect(server.truth.onServer()).toHaveLength(MESSAGES);
      await assertLeftAreStored();

      throttle.armed = false;
      for (let i = 0; i < 4 && server.truth.onServer().length > 0; i++) {
        ok(await bench.run());
        await assertLeftAreStored();
      }
      expect(server.truth.onServer()).toEqual([]);
      const objects = await bench.objects();
      expect(objects.size).toBe(MESSAGES);
      expect([...objects.values()].map((b) => b.toString('latin1')).sort()).toEqual(Array.from({ length: MESSAGES }, (_, i) => mail(i + 1)).sort());
    });

    // The run gave up on a session whose record batch was still unsent (a stalled request, a
    // drain retry in its backoff, a Lambda frozen and thawed): gatedState refuses only calls
    // made after that, so the batch is written later, unconditionally, over the records of the
    // successor run, which had stored, deleted and marked the same messages meanwhile.
    it(`${path}: a record batch of a session the run gave up on does not land over a successor run's records (deletion marks kept)`, { timeout: 120_000 }, async () => {
      const server = await startFakePop3({ profiles: [gmail()] });
      servers.push(server);
      const count = 20;
      for (let n = 1; n <= count; n++) server.deliver(mail(n));
      const client = createLocalDynamoDbClient(dynamo.endpoint);
      const stall = stallFirstBatch(client);
      const bench = await gmailBench(server, client, direct);
      // stop starting at +3 s, abort at +4 s, give up on the session at +5 s
      const abandoned = ok(await bench.run({ deadline: Date.now() + 6_000, safetyMarginMs: 2_000 }));
      await stall.stalled;
      expect(abandoned.errors.map((e) => e.code)).toContain('DEADLINE');
      expect(server.truth.onServer()).toHaveLength(count);
      expect(server.truth.hidden()).toEqual([]);

      const successor = ok(await bench.run());
      expect(successor.deleted).toBe(count);
      expect(server.truth.onServer()).toEqual([]);
      const marked = await bench.records();
      expect(marked).toHaveLength(count);
      expect(marked.filter((r) => r.deletedAt === undefined).map((r) => r.uid)).toEqual([]);

      // The abandoned session's batch is let go now.
      stall.release();
      await Promise.race([stall.landed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
      const after = await bench.records();
      expect(after.filter((r) => r.deletedAt === undefined).map((r) => r.uid)).toEqual([]);
    });
  }

  // The model's mailboxes hold a handful of messages; here dozens are between RETR and their
  // record when the process dies (objects stored, batches pending or just durable, DELEs sent).
  for (const crash of [{ at: 'after-store', n: 40 }, { at: 'after-record', n: 30 }, { at: 'before-quit' }] as const) {
    it(`deep overlap, ${MESSAGES} messages, a crash ${crash.at}${'n' in crash ? ` #${crash.n}` : ''}: nothing leaves unstored, then each message is stored once and gone`, { timeout: 120_000 }, async () => {
      const left: FakeMailRecord[] = [];
      const server = await startFakePop3({ profiles: [gmail()], onCommit: (e) => left.push(...e.removed, ...e.hidden) });
      servers.push(server);
      for (let n = 1; n <= MESSAGES; n++) server.deliver(mail(n));
      const bench = await WorkerBench.create({
        s3,
        dynamo,
        pop3: { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
        mailbox: { hidesRetrievedMail: true, retention: 'delete' },
      });
      expect(await bench.run({ crash })).toBeInstanceOf(SimulatedCrash);
      expect(left).toEqual([]);
      const later = Date.now() + 10 * 60_000; // past the dead run's lease
      for (let i = 0; i < 4 && server.truth.onServer().length > 0; i++) ok(await bench.run({ now: () => later + i * 60_000 }));
      expect(server.truth.onServer()).toEqual([]);
      const objects = await bench.objects();
      const records = new Map((await bench.records()).map((r) => [r.identity, r]));
      expect(objects.size).toBe(MESSAGES);
      for (const m of left) {
        const rec = records.get(m.uid);
        expect(rec?.sha256, `record of ${m.uid}`).toBe(sha(m.bytes));
        expect(objects.get(rec!.objectKey!)?.equals(m.bytes), `object of ${m.uid}`).toBe(true);
      }
      expect(left).toHaveLength(MESSAGES);
    });
  }
});
