/**
 * Review of issue 12 (`Mail Stored` events): the ways a slow, hanging or half-broken world
 * could make the outbox fail a message, hold a run past its deadline, hold memory without
 * bound, or keep events back that could go out. Whole runs on real local servers (dynalite,
 * s3rver, the fake POP3 server, the local PutEvents endpoint); faults come from wrapping the
 * publisher port or hooking the S3 client's requests, as the other event tests do.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientOf } from '../../lambda/client-source';
import { openStorage } from '../../lambda/cli/storage';
import { EventBridgePublisher } from '../../lambda/events/eventbridge-publisher';
import { depsFromEnvironment } from '../../lambda/handlers/fetch-mailbox';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import type { EventPublisher } from '../../lambda/events/event-publisher';
import { eventIdFor, mailStoredDetail } from '../../lambda/events/mail-stored-detail';
import { captureHeaderBlock } from '../../lambda/storage/header-block';
import { EventOutbox, MAX_BATCHES_PUBLISHING } from '../../lambda/sync/event-outbox';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { startDynalite, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakeEventBridge, type FakeEventBridge } from '../fixtures/fake-eventbridge';
import { startFakePop3, type FakeMessage, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { hookRequests } from '../fixtures/request-hooks';
import { createLocalS3Client } from '../fixtures/s3rver-process';
import { SimulatedCrash, WorkerBench, type BenchEvents } from './harness';

function message(uid: string): FakeMessage {
  return { uid, bytes: Buffer.from(`From: billing@vendor.example\r\nSubject: Invoice ${uid}\r\nMessage-ID: <${uid}@vendor.example>\r\n\r\nbody ${uid}\r\n`, 'latin1') };
}

function ok(r: RunSummary | SimulatedCrash): RunSummary {
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A gate publishes wait on until it is opened. */
function gate(): { wait: () => Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { wait: () => opened, open: () => open() };
}

describe('review: Mail Stored events', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let bus: FakeEventBridge;
  const servers: FakePop3Server[] = [];

  beforeAll(async () => {
    [s3, dynamo, bus] = await Promise.all([startS3rver(), startDynalite(), startFakeEventBridge()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.close()), s3?.stop(), dynamo?.stop(), bus?.close()]);
  });

  async function setup(messages: FakeMessage[], events: Omit<BenchEvents, 'bus'> = {}, sink: { client?: LocalS3['s3'] } = {}): Promise<{ bench: WorkerBench; server: FakePop3Server }> {
    const server = await startFakePop3({ messages });
    servers.push(server);
    const bench = await WorkerBench.create({
      s3,
      dynamo,
      pop3: { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
      mailbox: { retention: 'delete' },
      events: { bus, ...events },
      ...(sink.client ? { sink: { client: sink.client } } : {}),
    });
    return { bench, server };
  }

  /** The eventIds each stored record of the bench should have had an event with. */
  async function expectedEventIds(bench: WorkerBench): Promise<Set<string>> {
    const records = (await bench.records()).filter((r) => r.status === 'stored');
    return new Set(records.map((r) => eventIdFor({ mailbox: bench.mailbox.id, identity: r.identity, sha256: r.sha256! })));
  }

  function sentEventIds(bench: WorkerBench): Set<string> {
    return new Set(bus.events.filter((e) => e.detail.bucket === bench.bucket).map((e) => e.detail.eventId as string));
  }

  /** Run 1 with every entry of the bench refused: its events stay in the outbox. */
  async function leaveInOutbox(bench: WorkerBench): Promise<void> {
    bus.failEntries((entry) => (entry.detail.bucket === bench.bucket ? 'InternalFailure' : undefined));
    try {
      expect(ok(await bench.run())).toMatchObject({ eventsPublished: 0, errors: [] });
    } finally {
      bus.failEntries(undefined);
    }
    expect((await bench.outbox.list(bench.mailbox.id, 10)).length).toBeGreaterThan(0);
  }

  it('a PutEvents that never answers while earlier events are re-sent: the run still fetches the new mail and returns by its deadline', async () => {
    let hang = false;
    const hung = gate();
    const { bench, server } = await setup([message('u1'), message('u2')], {
      wrapPublisher: (inner): EventPublisher => ({
        publish: async (details) => {
          if (hang) await hung.wait();
          return inner.publish(details);
        },
      }),
    });
    await leaveInOutbox(bench);
    server.addMessages([message('u3'), message('u4')]);

    hang = true;
    const deadline = Date.now() + 6_000;
    try {
      const run = bench.run({ deadline, safetyMarginMs: 2_000 });
      // A run that is still going well after its deadline is stuck for good (Lambda kills it).
      const outcome = await Promise.race([run, sleep(deadline + 6_000 - Date.now()).then(() => 'still running' as const)]);
      expect(outcome).not.toBe('still running');
      expect(ok(outcome as RunSummary | SimulatedCrash)).toMatchObject({ fetched: 2, deleted: 2 });
    } finally {
      hang = false;
      hung.open();
    }
    // Nothing lost: the next run sends whatever the hung one could not (some perhaps twice, same eventIds).
    ok(await bench.run());
    expect(sentEventIds(bench)).toEqual(await expectedEventIds(bench));
    expect(await bench.outbox.list(bench.mailbox.id, 10)).toEqual([]);
  });

  it(`a slow PutEvents holds at most ${MAX_BATCHES_PUBLISHING} batches (and their header blocks) in flight; the others still go out in the same run`, async () => {
    const count = 30 * MAX_BATCHES_PUBLISHING;
    const messages = Array.from({ length: count }, (_, i) => message(`m${String(i).padStart(4, '0')}`));
    let publishing = 0;
    let mostPublishing = 0;
    const { bench, server } = await setup(messages, {
      wrapPublisher: (inner): EventPublisher => ({
        publish: async (details) => {
          publishing++;
          mostPublishing = Math.max(mostPublishing, publishing);
          try {
            // EventBridge answers only once the session has ended (QUIT took the deletions).
            while (server.messages.length > 0) await sleep(10);
            return await inner.publish(details);
          } finally {
            publishing--;
          }
        },
      }),
    });
    const summary = ok(await bench.run());
    expect(summary).toMatchObject({ fetched: count, deleted: count, eventsPublished: count, eventsFailed: 0 });
    expect(mostPublishing).toBeLessThanOrEqual(MAX_BATCHES_PUBLISHING);
    expect(sentEventIds(bench)).toEqual(await expectedEventIds(bench));
    expect(await bench.outbox.list(bench.mailbox.id, 10)).toEqual([]);
  });

  it('one stored object that cannot be read (archived by a lifecycle transition) does not hold back the re-sent events of the rest of its batch', async () => {
    const client = createLocalS3Client(s3.endpoint);
    const archive: { key?: string } = {};
    hookRequests(
      client,
      {
        name: 'archivedObject',
        before: ({ operation, input }) => {
          if (operation === 'GetObject' && archive.key !== undefined && input.Key === archive.key) {
            throw Object.assign(new Error('The operation is not valid for the object\'s storage class'), { name: 'InvalidObjectState', $metadata: { httpStatusCode: 403 } });
          }
        },
      },
      's3',
    );
    const { bench } = await setup([message('u1'), message('u2'), message('u3')], {}, { client });
    await leaveInOutbox(bench);
    const records = await bench.records();
    const archived = records.find((r) => r.uid === 'u2')!;
    archive.key = archived.objectKey;

    const second = ok(await bench.run());
    expect(second.eventsPublished).toBe(2);
    const expected = await expectedEventIds(bench);
    expected.delete(eventIdFor({ mailbox: bench.mailbox.id, identity: archived.identity, sha256: archived.sha256! }));
    expect(sentEventIds(bench)).toEqual(expected);
    // Only the unreadable one is kept for a later run.
    expect((await bench.outbox.list(bench.mailbox.id, 10)).flatMap((b) => b.identities)).toEqual([archived.identity]);
    client.destroy();
  });

  it('batches whose events EventBridge keeps refusing do not starve newer ones: a drain that can take only the oldest still gets to the rest', async () => {
    const { bench, server } = await setup([message('u1')]);
    await leaveInOutbox(bench);
    server.addMessages([message('u2')]);
    await leaveInOutbox(bench);
    expect((await bench.outbox.list(bench.mailbox.id, 10)).map((b) => b.identities)).toEqual([['u1'], ['u2']]);
    // u1's event is refused for good (as an entry EventBridge will never take would be).
    const stopRefusing = bus.addEntryFault((entry) => (entry.detail.bucket === bench.bucket && entry.detail.uidl === 'u1' ? 'InvalidArgument' : undefined));
    try {
      const outbox = new EventOutbox({
        outbox: bench.outbox,
        publisher: new EventBridgePublisher({ client: bus.createClient() }),
        state: bench.state,
        sink: bench.sink,
        mailboxId: bench.mailbox.id,
        bucket: bench.bucket,
        now: Date.now,
        log: () => undefined,
      });
      // One batch per drain stands for MAX_OUTBOX_BATCHES_PER_RUN (40) stuck ones.
      for (let run = 0; run < 3; run++) await outbox.drain(Date.now() + 60_000, 1);
      expect([...sentEventIds(bench)]).toHaveLength(1);
      expect(bus.events.find((e) => e.detail.bucket === bench.bucket)?.detail.uidl).toBe('u2');
      expect((await bench.outbox.list(bench.mailbox.id, 10)).map((b) => b.identities)).toEqual([['u1']]);
    } finally {
      stopRefusing();
    }
  });

  it('a header block longer than the 64 KiB captured: the fields cut off are named in truncated (as "headers"), not silently absent', async () => {
    const received = Array.from({ length: 800 }, (_, i) => `Received: from relay${i}.example.org by mx.example.org; Sat, 5 Dec 2026 10:00:00 +0000`).join('\r\n');
    const message = Buffer.from(`${received}\r\nFrom: billing@vendor.example\r\nSubject: Invoice 42\r\n\r\nbody\r\n`, 'latin1');
    const facts = { mailbox: 'm', bucket: 'b', key: 'messages/m/u1.eml', size: message.length, sha256: '0'.repeat(64), uidl: 'u1', identity: 'u1', firstSeenAt: new Date(0).toISOString(), storedAt: new Date(0).toISOString() };

    const detail = await mailStoredDetail(facts, captureHeaderBlock(message));

    expect(detail.from).toBeUndefined();
    expect(detail.truncated).toContain('headers');
    // A header block that fits is not marked.
    expect((await mailStoredDetail(facts, captureHeaderBlock(Buffer.from('Subject: x\r\n\r\nbody')))).truncated).toEqual([]);
  });

  it('the EventBridge clients of the worker and of the command line give up on a PutEvents that never answers (a run would wait for it until its deadline)', async () => {
    // Accepts connections and never answers: a proxy or endpoint that swallows requests.
    const sockets: Socket[] = [];
    const blackHole: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const port = (blackHole.address() as { port: number }).port;
    const env = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: `http://127.0.0.1:${port}`,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    const storage = await openStorage({ kind: 'aws', bucket: 'cli-hang', table: 'cli-hang-state', prefix: 'messages/', forcePathStyle: true, createMissing: true, eventBus: 'mail-bus' }, { readOnly: false });
    const worker = depsFromEnvironment({ ...process.env, MAILFETCH_BUCKET: 'cli-hang', MAILFETCH_TABLE: 'cli-hang-state', MAILFETCH_EVENT_BUS: 'mail-bus' });
    // The worker makes its EventBridge client on the first publish: this is that client.
    const workerBus = await clientOf(worker.events!.eventBridge);
    try {
      const facts = { mailbox: 'm', bucket: 'cli-hang', key: 'messages/m/u1.eml', size: 1, sha256: '0'.repeat(64), uidl: 'u1', identity: 'u1', firstSeenAt: new Date().toISOString(), storedAt: new Date().toISOString() };
      const detail = await mailStoredDetail(facts, Buffer.from('Subject: x\r\n'));
      const publishers = { cli: storage.events!.publisher, worker: new EventBridgePublisher({ client: workerBus, eventBusName: 'mail-bus' }) };
      const outcomes = await Promise.all(
        Object.entries(publishers).map(async ([who, publisher]) => [who, await Promise.race([publisher.publish([detail]), sleep(90_000).then(() => 'no answer' as const)])] as const),
      );
      for (const [, outcome] of outcomes) expect(outcome).toMatchObject({ published: [], failed: [{ eventId: detail.eventId }] });
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      workerBus.destroy();
      await storage.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
    }
  }, 120_000);
});
