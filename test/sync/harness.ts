/**
 * A worker test bench on real local servers: DynamoDB Local for state, s3rver for S3, and a
 * POP3 server (Dovecot or the fake). It can make a run "crash" at a chosen step the way a
 * killed process would: the POP3 connection is dropped without QUIT, and every later S3 or
 * DynamoDB call fails, so nothing after the crash point reaches the outside world.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, CreateBucketCommand } from '@aws-sdk/client-s3';
import { DeleteItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import type { MailboxConfig } from '../../lambda/config/mailbox-config';
import { DEFAULT_LIMITS } from '../../lambda/config/mailbox-config';
import type { Readable } from 'node:stream';
import { hookRequests } from '../fixtures/request-hooks';
import { createLocalS3Client } from '../fixtures/s3rver-process';
import { openSession, type Pop3Client, type Pop3SessionOptions } from '../../lambda/pop3';
import { DynamoDbStateStore, type DynamoDbStateStoreOptions } from '../../lambda/state/dynamodb-state-store';
import type { MessageRecord, StateStore } from '../../lambda/state/state-store';
import { PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, ensureTable } from '../../lambda/state/table-schema';
import type { MessageSink, StoreMessageInput } from '../../lambda/storage/message-sink';
import { S3MessageSink, type S3MessageSinkOptions } from '../../lambda/storage/s3-message-sink';
import { runMailbox, type RunMailboxOptions } from '../../lambda/sync/run-mailbox';
import type { RunSummary } from '../../lambda/sync/run-summary';
import type { LocalDynamo, LocalS3 } from '../fixtures/aws-local';
import type { FakeEventBridge } from '../fixtures/fake-eventbridge';
import { EventBridgePublisher } from '../../lambda/events/eventbridge-publisher';
import type { EventPublisher } from '../../lambda/events/event-publisher';
import { DynamoDbOutboxStore } from '../../lambda/state/dynamodb-outbox-store';
import type { OutboxStore } from '../../lambda/state/outbox-store';

export class SimulatedCrash extends Error {
  /**
   * Multipart uploads the dead process had open (created, or being created, and neither
   * completed nor aborted): nothing can abort them any more, so each is left to the
   * bucket's lifecycle rule, as after a real death. Counted only by the mid-multipart
   * crash, whose S3 client dies with the process; other crash points keep a live client,
   * whose uploads still complete or abort.
   */
  openUploads = 0;

  constructor(point: string) {
    super(`simulated crash at ${point}`);
  }
}

/** Where a run can be made to crash; `n` counts occurrences from 1 within one run. */
export type CrashPoint =
  | { at: 'after-store'; n: number } // object in S3, record not written
  | { at: 'after-record'; n: number } // record written, no DELE yet
  | { at: 'mid-retr'; n: number; afterOctets: number } // message partly read
  | { at: 'before-quit' } // DELEs sent, QUIT never
  | { at: 'mid-multipart' }; // first UploadPart of a multipart upload sent, then dead

export interface BenchOptions {
  readonly s3: LocalS3;
  readonly dynamo: LocalDynamo;
  /** POP3 connection details for the mailbox (host, port, tls, credentials). */
  readonly pop3: Pick<Pop3SessionOptions, 'host' | 'port' | 'tls' | 'tlsOptions' | 'username' | 'password' | 'allowPlaintextAuth' | 'auth' | 'trace'>;
  readonly mailbox?: Partial<MailboxConfig>;
  readonly sink?: Partial<S3MessageSinkOptions>;
  /** State store options over the handler's (client and table are the bench's). */
  readonly state?: Partial<Omit<DynamoDbStateStoreOptions, 'client' | 'tableName'>>;
  /** `Mail Stored` events to a local PutEvents endpoint, with the outbox in the bench's table. @default no events */
  readonly events?: BenchEvents;
}

export interface BenchEvents {
  readonly bus: FakeEventBridge;
  /** Wraps the publisher (to watch or fail what is published). */
  readonly wrapPublisher?: (publisher: EventPublisher) => EventPublisher;
  /** Wraps the outbox store (to fail its writes). */
  readonly wrapOutbox?: (outbox: OutboxStore) => OutboxStore;
}

export class WorkerBench {
  readonly bucket = `mf-${randomUUID().slice(0, 8)}`;
  readonly table = `mf-${randomUUID().slice(0, 8)}`;
  readonly state: DynamoDbStateStore;
  readonly sink: S3MessageSink;
  readonly outbox: DynamoDbOutboxStore;
  private readonly events: { readonly publisher: EventPublisher; readonly outbox: OutboxStore } | undefined;
  mailbox: MailboxConfig;

  private constructor(private readonly opts: BenchOptions) {
    // The handler's state store (every request direct) unless a test says otherwise.
    this.state = new DynamoDbStateStore({ client: opts.dynamo.dynamodb, tableName: this.table, direct: true, ...opts.state });
    // The handler's sink (directPutObject) unless a test says otherwise.
    this.sink = new S3MessageSink({ client: opts.s3.s3, bucket: this.bucket, directPutObject: true, ...opts.sink });
    this.outbox = new DynamoDbOutboxStore({ client: opts.dynamo.dynamodb, tableName: this.table, capacity: this.state });
    const e = opts.events;
    if (e) {
      const publisher = new EventBridgePublisher({ client: e.bus.createClient() });
      this.events = { publisher: e.wrapPublisher?.(publisher) ?? publisher, outbox: e.wrapOutbox?.(this.outbox) ?? this.outbox };
    }
    this.mailbox = {
      id: 'box-1',
      host: opts.pop3.host,
      port: opts.pop3.port ?? 110,
      tls: opts.pop3.tls ?? 'none',
      username: opts.pop3.username,
      auth: 'auto',
      password: { env: 'UNUSED' },
      allowPlaintextAuth: true,
      retention: 'keep',
      limits: DEFAULT_LIMITS,
      pipelining: true,
      schedule: 'rate(5 minutes)',
      ...opts.mailbox,
    };
  }

  static async create(opts: BenchOptions): Promise<WorkerBench> {
    const bench = new WorkerBench(opts);
    await opts.s3.s3.send(new CreateBucketCommand({ Bucket: bench.bucket }));
    await ensureTable(opts.dynamo.dynamodb, bench.table);
    return bench;
  }

  /** One run; with `crash`, the run dies at that point (the returned value is then meaningless). */
  async run(options: Partial<RunMailboxOptions> & { crash?: CrashPoint; now?: () => number } = {}): Promise<RunSummary | SimulatedCrash> {
    const crash = new Crash(options.crash);
    const now = options.now ?? Date.now;
    try {
      return await runMailbox(
        {
          state: crash.wrapState(this.state),
          sink: crash.wrapSink(options.crash?.at === 'mid-multipart' ? this.crashingSink(crash) : this.sink),
          openSession: async (_mailbox, signal) => crash.wrapClient(await openSession({ ...this.opts.pop3, signal, pipelining: this.mailbox.pipelining })),
          now,
          ...(this.events ? { events: { outbox: crash.guarded(this.events.outbox), publisher: crash.guarded(this.events.publisher), bucket: this.bucket } } : {}),
          // MF_DEBUG=1 prints the run's events: the first thing to look at when a run misbehaves.
          ...(process.env.MF_DEBUG ? { log: (event: string, fields?: Record<string, unknown>) => console.log('run:', event, JSON.stringify(fields ?? {})) } : {}),
        },
        { mailbox: this.mailbox, deadline: now() + 120_000, safetyMarginMs: 10_000, ...options },
      );
    } catch (err) {
      if (crash.crashed) return crash.crashed;
      throw err;
    } finally {
      if (crash.crashed) await crash.settle();
    }
  }

  /**
   * A sink whose S3 client dies after the first UploadPart of a multipart upload: with
   * every upload open at that moment (two large messages may be in flight).
   */
  private crashingSink(crash: Crash): S3MessageSink {
    const client = createLocalS3Client(this.opts.s3.endpoint);
    hookRequests(
      client,
      {
        name: 'simulatedCrash',
        step: 'initialize',
        before: ({ operation }) => {
          if (crash.crashed) throw crash.crashed;
          // Counted once sent: S3 may create the upload even if the answer comes too late.
          if (operation === 'CreateMultipartUpload') crash.openUploads++;
        },
        after: ({ operation }) => {
          if (operation === 'CompleteMultipartUpload' || operation === 'AbortMultipartUpload') crash.openUploads--;
          if (operation === 'UploadPart' && crash.hitOnce('mid-multipart')) crash.trip('mid-multipart');
        },
      },
      's3',
    );
    return new S3MessageSink({ client, bucket: this.bucket, directPutObject: true, ...this.opts.sink });
  }

  /** Every object under the bucket: key -> bytes. */
  async objects(): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    let token: string | undefined;
    do {
      const page = await this.opts.s3.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const got = await this.opts.s3.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: o.Key! }));
        out.set(o.Key!, Buffer.from(await got.Body!.transformToByteArray()));
      }
      token = page.NextContinuationToken;
    } while (token);
    return out;
  }

  async metadata(key: string): Promise<{ contentType: string | undefined; meta: Record<string, string> }> {
    const head = await this.opts.s3.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    return { contentType: head.ContentType, meta: head.Metadata ?? {} };
  }

  async records(): Promise<MessageRecord[]> {
    const out: MessageRecord[] = [];
    for await (const r of this.state.listRecords(this.mailbox.id)) out.push(r);
    return out;
  }

  /**
   * What DynamoDB's TTL does (DynamoDB Local never deletes expired items): removes every
   * item whose TTL attribute is at or before `nowMs`. Returns how many went.
   */
  async sweepExpired(nowMs: number): Promise<number> {
    const client = this.opts.dynamo.dynamodb;
    let removed = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: this.table, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        const ttl = item[TTL_ATTRIBUTE]?.N;
        if (ttl === undefined || Number(ttl) * 1000 > nowMs) continue;
        await client.send(new DeleteItemCommand({ TableName: this.table, Key: { [PARTITION_KEY]: item[PARTITION_KEY]!, [SORT_KEY]: item[SORT_KEY]! } }));
        removed++;
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return removed;
  }
}

/** The crash switch: once tripped, the world outside the process sees nothing more. */
class Crash {
  crashed: SimulatedCrash | undefined;
  private readonly clients: Pop3Client[] = [];
  private readonly counts = new Map<string, number>();
  private readonly pending: Promise<unknown>[] = [];

  constructor(private readonly point: CrashPoint | undefined) {}

  private hit(at: CrashPoint['at']): boolean {
    const n = (this.counts.get(at) ?? 0) + 1;
    this.counts.set(at, n);
    const p = this.point;
    return p !== undefined && p.at === at && (!('n' in p) || p.n === n);
  }

  /** True the first time `at` is reached, when it is the crash point. */
  hitOnce(at: CrashPoint['at']): boolean {
    return this.hit(at);
  }

  /** Multipart uploads open on the crashing S3 client (see SimulatedCrash.openUploads). */
  openUploads = 0;

  trip(point: string): never {
    if (this.crashed === undefined) {
      this.crashed = new SimulatedCrash(point);
      this.crashed.openUploads = this.openUploads;
    }
    for (const c of this.clients) c.close(); // dropped without QUIT: the server rolls back
    throw this.crashed;
  }

  private guard(): void {
    if (this.crashed) throw this.crashed;
  }

  async settle(): Promise<void> {
    await Promise.allSettled(this.pending);
  }

  /** `inner` whose every call fails once the run crashed (before it starts, and when it returns). */
  guarded<T extends object>(inner: T): T {
    return new Proxy(inner, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          this.guard();
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          this.guard();
          return result;
        };
      },
    });
  }

  wrapState(inner: StateStore): StateStore {
    return new Proxy(inner, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (prop !== 'consumedCapacity' && prop !== 'resetCapacity') this.guard();
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          // A batch of stored records counts as one record each: the crash comes after
          // the write that made the n-th record durable.
          const records = prop === 'putRecord' ? 1 : prop === 'putStoredRecords' ? (args[1] as unknown[]).length : 0;
          if (records > 0) {
            return (result as Promise<unknown>).then((r) => {
              this.guard();
              let hit = false;
              for (let i = 0; i < records; i++) hit = this.hit('after-record') || hit;
              if (hit) this.trip('after-record');
              return r;
            });
          }
          return result;
        };
      },
    });
  }

  wrapSink(inner: MessageSink): MessageSink {
    return {
      objectKey: (m, i) => inner.objectKey(m, i),
      readHeaderBlock: (key) => inner.readHeaderBlock(key),
      store: async (input: StoreMessageInput) => {
        this.guard();
        if (this.point?.at === 'mid-retr' && this.hit('mid-retr')) {
          await readSome(input.body, this.point.afterOctets);
          this.trip('mid-retr');
        }
        const stored = await inner.store(input);
        this.guard();
        if (this.hit('after-store')) this.trip('after-store');
        return stored;
      },
    };
  }

  wrapClient(client: Pop3Client): Pop3Client {
    this.clients.push(client);
    const quit = client.quit.bind(client);
    client.quit = async () => {
      this.guard();
      if (this.hit('before-quit')) this.trip('before-quit');
      return quit();
    };
    return client;
  }
}

async function readSome(stream: Readable, octets: number): Promise<void> {
  let seen = 0;
  for await (const chunk of stream) {
    seen += (chunk as Buffer).length;
    if (seen >= octets) return;
  }
}
