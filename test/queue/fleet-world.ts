/**
 * A fleet on local parts for the queue tests: s3rver, DynamoDB Local (state table and
 * registry), the local SQS endpoint (run queue and its dead-letter queue), one fake POP3
 * server that counts how many sessions are open at once, and the worker's HandlerDeps
 * pointing real SDK clients at them.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import type { MailboxConfig } from '../../lambda/config/mailbox-config';
import { OAuthTokenProvider } from '../../lambda/credentials/oauth-token-provider';
import { SecretResolver } from '../../lambda/credentials/secret-resolver';
import type { DispatchDeps } from '../../lambda/dispatch/dispatch-tick';
import { handleQueueEvent, type HandlerDeps } from '../../lambda/handlers/fetch-mailbox';
import { createLogger } from '../../lambda/observability/logger';
import { DynamoDbHostSlots, type HostSlots } from '../../lambda/hosts/host-slots';
import type { BatchResponse, SqsEvent } from '../../lambda/queue/queue-batch';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakePop3, type FakePop3Options, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { startFakeSqs, type FakeQueue, type FakeSqs } from '../fixtures/fake-sqs';

export const TABLE = 'state';
export const BUCKET = 'mail';
const PASSWORD = 'pop-secret-2718';
/** Each POP3 command waits this long: sessions overlap, so a missing cap would show. */
const SESSION_COMMAND_DELAY_MS = 20;

export interface FleetWorld {
  readonly s3: LocalS3;
  readonly dynamo: LocalDynamo;
  readonly sqs: FakeSqs;
  readonly pop3: FakePop3Server;
  readonly queue: FakeQueue;
  readonly dlq: FakeQueue;
  readonly registry: DynamoDbMailboxRegistry;
  readonly lines: string[];
  /** The most POP3 sessions open at once since the last reset. */
  maxSessions: number;
  sessionsOpened: number;
  mailbox(id: string, fields?: Record<string, unknown>): MailboxConfig;
  /** `now`: the clock of the worker's queue decisions (deadline, login delays). @default Date.now */
  deps(hostSlots?: HostSlots, options?: { limits?: Record<string, number>; now?: () => number }): HandlerDeps;
  invoke(deps: HandlerDeps): (event: SqsEvent) => Promise<BatchResponse>;
  /** The dispatcher's dependencies on this world (its lines go to `lines`). */
  dispatchDeps(mailboxesPerMessage: number): DispatchDeps;
  objectsOf(mailboxId: string): Promise<number>;
  waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void>;
}

/**
 * @param queueVisibilitySeconds the run queue's visibility timeout, on the queue's clock
 * @param sqsTimeScale the queue's clock runs this many times faster than real time, so the
 *   dispatcher's delays (up to a minute) pass in seconds
 * @param pop3 more options of the fake POP3 server (profiles, its clock)
 */
export function useFleetWorld(queueVisibilitySeconds: number, sqsTimeScale = 1, pop3: Pick<FakePop3Options, 'profiles' | 'clock'> = {}): FleetWorld {
  const world = { lines: [] as string[], maxSessions: 0, sessionsOpened: 0 } as unknown as FleetWorld & Record<string, unknown>;
  const origin = Date.now();
  const sqsClock = (): number => origin + (Date.now() - origin) * sqsTimeScale;
  beforeAll(async () => {
    const [s3, dynamo, sqs] = await Promise.all([startS3rver(), startDynamoDbLocal(), startFakeSqs({ now: sqsClock })]);
    const server = await startFakePop3({
      ...pop3,
      password: PASSWORD,
      messages: [{ uid: 'm1', bytes: Buffer.from('Subject: one\r\n\r\nhello\r\n') }],
      onConnect: () => {
        world.sessionsOpened++;
        world.maxSessions = Math.max(world.maxSessions, server.openSessions().length);
      },
      onCommand: async () => {
        await sleep(SESSION_COMMAND_DELAY_MS);
      },
    });
    await s3.createBucket(BUCKET);
    await ensureTable(dynamo.dynamodb, TABLE);
    const dlq = sqs.createQueue('runs-dlq');
    const queue = sqs.createQueue('runs', { visibilityTimeoutSeconds: queueVisibilitySeconds, redrive: { deadLetterQueue: dlq, maxReceiveCount: 3 } });
    Object.assign(world, { s3, dynamo, sqs, pop3: server, queue, dlq, registry: new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: TABLE }) });
  }, 120_000);
  afterAll(async () => {
    await Promise.all([world.s3?.stop(), world.dynamo?.stop(), world.sqs?.close(), world.pop3?.close()]);
  });
  world.mailbox = (id, fields = {}) =>
    parseMailbox({ id, host: '127.0.0.1', port: world.pop3.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: { env: 'POP_PASSWORD' }, ...fields });
  world.deps = (hostSlots, options = {}) => {
    const secrets = new SecretResolver({ env: { POP_PASSWORD: PASSWORD } });
    return {
      s3: world.s3.s3,
      dynamodb: world.dynamo.dynamodb,
      bucket: BUCKET,
      table: TABLE,
      prefix: 'messages/',
      safetyMarginMs: 5_000,
      metricsNamespace: 'MailfetchTest',
      secrets,
      oauth: new OAuthTokenProvider({ secrets }),
      registry: world.registry,
      write: (line) => world.lines.push(line),
      queue: {
        sqs: world.sqs.createClient(),
        queueUrl: world.queue.url,
        hostSlots: hostSlots ?? new DynamoDbHostSlots({ client: world.dynamo.dynamodb, tableName: TABLE, ...(options.limits ? { limits: options.limits } : {}) }),
        deferDelaySeconds: () => 0,
        ...(options.now ? { now: options.now } : {}),
      },
    };
  };
  let invocation = 0;
  world.invoke = (deps) => (event) => handleQueueEvent(event, { getRemainingTimeInMillis: () => 60_000, awsRequestId: `req-${++invocation}` }, deps);
  world.dispatchDeps = (mailboxesPerMessage) => ({
    dynamodb: world.dynamo.dynamodb,
    table: TABLE,
    sqs: world.sqs.createClient(),
    queueUrl: world.queue.url,
    metricsNamespace: 'MailfetchTest',
    stalePeriods: 3,
    mailboxesPerMessage,
    log: createLogger({}, { write: (line) => world.lines.push(line) }),
    write: (line) => world.lines.push(line),
  });
  world.objectsOf = async (mailboxId) => {
    const out = await world.s3.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `messages/${mailboxId}/` }));
    return out.KeyCount ?? 0;
  };
  world.waitFor = async (condition, timeoutMs) => {
    const until = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > until) throw new Error('condition not met in time');
      await sleep(50);
    }
  };
  return world;
}
