/**
 * The fleet simulation's local world: DynamoDB Local (state table and registry), s3rver,
 * the local SQS endpoint (run queue and dead-letter queue), the local KMS endpoint
 * (sealed credentials), the local PutEvents endpoint (`Mail Stored` events, on as in the
 * construct) and one fake POP3 server hosting every mailbox's account. The
 * worker's and the dispatcher's clients are real SDK clients pointed at them, each metered
 * (request-meter.ts). Everything listens on 127.0.0.1.
 */
import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { parseMailbox } from '../lambda/config/validate-config';
import type { MailboxConfig } from '../lambda/config/mailbox-config';
import { DataKeyRing } from '../lambda/credentials/data-key-ring';
import { OAuthTokenProvider } from '../lambda/credentials/oauth-token-provider';
import { SealedCredentialStore } from '../lambda/credentials/sealed-credential-store';
import { SecretResolver } from '../lambda/credentials/secret-resolver';
import type { HandlerDeps } from '../lambda/handlers/fetch-mailbox';
import { DynamoDbHostSlots } from '../lambda/hosts/host-slots';
import { LOCAL_CREDENTIALS, LOCAL_REGION, createLocalDynamoDbClient } from '../lambda/local/embedded-aws';
import { createLocalS3Client } from '../test/fixtures/s3rver-process';
import { startLocalKms, type LocalKms } from '../lambda/local/local-kms';
import { startFakePop3, type FakeMessage, type FakePop3Server } from '../lambda/local/pop3-server/fake-pop3-server';
import { DynamoDbMailboxRegistry } from '../lambda/registry/dynamodb-mailbox-registry';
import { newRegistryItem } from '../lambda/registry/registry-item';
import { ensureTable } from '../lambda/state/table-schema';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../test/fixtures/aws-local';
import { startFakeEventBridge, type FakeEventBridge } from '../test/fixtures/fake-eventbridge';
import { startFakeSqs, type FakeQueue, type FakeSqs } from '../test/fixtures/fake-sqs';
import { RequestMeter } from './request-meter';

export const SIM_TABLE = 'fleet-state';
export const SIM_BUCKET = 'fleet-mail';
export const SIM_PREFIX = 'messages/';
export const SIM_NAMESPACE = 'MailfetchFleetSim';
/** Every mailbox polls on the schedule the cost model prices. */
export const SIM_SCHEDULE = 'rate(5 minutes)';
/** The construct publishes to the account's default bus unless told otherwise. */
export const SIM_EVENT_BUS = 'default';
/** The construct's defaults (lib/mail-fetcher-props.ts, lib/run-dispatch.ts). */
export const WORKER_TIMEOUT_SECONDS = 300;
const VISIBILITY_TIMEOUT_SECONDS = 6 * WORKER_TIMEOUT_SECONDS;
const MAX_RECEIVE_COUNT = 5;
/** BatchWriteItem's limit, for registering the fleet. */
const BATCH_WRITE_ITEMS = 25;
const SEAL_CONCURRENCY = 50;

export interface WorldOptions {
  readonly mailboxes: number;
  /** Messages already on each account's server (the simulation baselines them first). */
  readonly existingMessages: number;
  /** The queue's clock runs this many times faster, so the dispatcher's spreading delays pass quickly. */
  readonly sqsTimeScale: number;
  /** Per-host session cap for the one fake server (it stands for the fleet's many hosts). */
  readonly hostSessionLimit: number;
  /** Where worker and dispatcher output goes (every stdout line they write). */
  readonly workerWrite: (line: string) => void;
  readonly dispatcherWrite: (line: string) => void;
}

/** What a simulated Lambda container holds: its clients and caches (one data key Decrypt each). */
export type Container = HandlerDeps;

export interface FleetWorld {
  readonly dynamo: LocalDynamo;
  readonly s3: LocalS3;
  readonly sqs: FakeSqs;
  readonly kms: LocalKms;
  /** The worker's `Mail Stored` events: PutEvents requests (`calls()`) and the events accepted. */
  readonly events: FakeEventBridge;
  readonly pop3: FakePop3Server;
  readonly queue: FakeQueue;
  readonly dlq: FakeQueue;
  /** Unmetered: set-up and checks of the simulation itself. */
  readonly admin: { readonly dynamodb: DynamoDBClient; readonly s3: S3Client };
  /** What the worker's and the dispatcher's clients asked of DynamoDB, and the worker of S3. */
  readonly meters: { readonly workerDynamo: RequestMeter; readonly dispatcherDynamo: RequestMeter; readonly workerS3: RequestMeter };
  readonly dispatcherDynamo: DynamoDBClient;
  readonly mailboxIds: readonly string[];
  /** POP3 command lines the server received so far (each a round trip at most). */
  pop3Commands(): number;
  /** The POP3 account of a mailbox. */
  userOf(mailboxId: string): string;
  /** An SQS client with the SDK's retries (a reused connection the endpoint closed is retried, as in AWS). */
  sqsClient(): SQSClient;
  /** A fresh container, as Lambda starts one. */
  container(): Container;
  stop(): Promise<void>;
}

export function mailboxId(i: number): string {
  return `mbx-${String(i).padStart(5, '0')}`;
}

export async function startFleetWorld(options: WorldOptions): Promise<FleetWorld> {
  const origin = Date.now();
  const sqsClock = (): number => origin + (Date.now() - origin) * options.sqsTimeScale;
  const ids = Array.from({ length: options.mailboxes }, (_, i) => mailboxId(i + 1));
  const userOf = (id: string): string => `user-${id}`;
  const passwordOf = (id: string): string => `pw-${id}-${(origin % 100_000).toString(36)}`;
  let commands = 0;
  const [dynamo, s3, sqs, kms, events, pop3] = await Promise.all([
    startDynamoDbLocal(),
    startS3rver(),
    startFakeSqs({ now: sqsClock }),
    startLocalKms(),
    startFakeEventBridge(),
    startFakePop3({
      recordCommands: false,
      onCommand: () => {
        commands++;
        return false;
      },
      accounts: ids.map((id) => ({ user: userOf(id), password: passwordOf(id), messages: existingMail(id, options.existingMessages) })),
    }),
  ]);
  await ensureTable(dynamo.dynamodb, SIM_TABLE);
  await s3.createBucket(SIM_BUCKET);
  const dlq = sqs.createQueue('runs-dlq');
  const queue = sqs.createQueue('runs', { visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS, redrive: { deadLetterQueue: dlq, maxReceiveCount: MAX_RECEIVE_COUNT } });
  const admin = { dynamodb: dynamo.dynamodb, s3: s3.s3 };
  const meters = { workerDynamo: new RequestMeter(), dispatcherDynamo: new RequestMeter(), workerS3: new RequestMeter() };
  const workerDynamo = createLocalDynamoDbClient(dynamo.endpoint);
  const workerS3 = createLocalS3Client(s3.endpoint);
  const dispatcherDynamo = createLocalDynamoDbClient(dynamo.endpoint);
  meters.workerDynamo.attach(workerDynamo, { dynamodb: true });
  meters.dispatcherDynamo.attach(dispatcherDynamo, { dynamodb: true });
  meters.workerS3.attachS3(workerS3);
  const kmsClient = kms.createClient();
  const sqsClients: SQSClient[] = [];
  const sqsClient = (): SQSClient => {
    const client = new SQSClient({ endpoint: sqs.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 });
    sqsClients.push(client);
    return client;
  };
  const workerSqs = sqsClient();

  await registerFleet(admin.dynamodb, kms, ids, (id) => ({ user: userOf(id), password: passwordOf(id) }), pop3.port);

  const container = (): Container => {
    const secrets = new SecretResolver({ sealed: new SealedCredentialStore(new DataKeyRing({ dynamodb: workerDynamo, tableName: SIM_TABLE, kms: kmsClient, kmsKeyId: kms.keyArn })) });
    return {
      s3: workerS3,
      dynamodb: workerDynamo,
      bucket: SIM_BUCKET,
      table: SIM_TABLE,
      prefix: SIM_PREFIX,
      safetyMarginMs: 30_000,
      metricsNamespace: SIM_NAMESPACE,
      secrets,
      oauth: new OAuthTokenProvider({ secrets }),
      registry: new DynamoDbMailboxRegistry({ client: workerDynamo, tableName: SIM_TABLE }),
      write: options.workerWrite,
      queue: {
        sqs: workerSqs,
        queueUrl: queue.url,
        hostSlots: new DynamoDbHostSlots({ client: workerDynamo, tableName: SIM_TABLE, defaultLimit: options.hostSessionLimit }),
      },
      events: { eventBridge: events.createClient(), eventBusName: SIM_EVENT_BUS },
    };
  };
  const stop = async (): Promise<void> => {
    workerDynamo.destroy();
    dispatcherDynamo.destroy();
    workerS3.destroy();
    for (const client of sqsClients) client.destroy();
    await Promise.allSettled([dynamo.stop(), s3.stop(), sqs.close(), kms.close(), events.close(), pop3.close()]);
  };
  return { dynamo, s3, sqs, kms, events, pop3, queue, dlq, admin, meters, dispatcherDynamo, mailboxIds: ids, pop3Commands: () => commands, userOf, sqsClient, container, stop };
}

/** A few small messages already on the server: an idle mailbox that keeps its mail still lists it. */
function existingMail(id: string, count: number): FakeMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    uid: `${id}-old-${i + 1}`,
    bytes: Buffer.from(`From: sender@example.com\r\nTo: ${id}@example.com\r\nSubject: old ${i + 1}\r\nMessage-ID: <${id}.old.${i + 1}@example.com>\r\n\r\nkept on the server\r\n`),
  }));
}

/**
 * Seals each mailbox's password with the table's data key (as `mailfetch mailboxes add`
 * does) and writes the registry items 25 at a time: set-up, not measured.
 */
async function registerFleet(
  dynamodb: DynamoDBClient,
  kms: LocalKms,
  ids: readonly string[],
  account: (id: string) => { user: string; password: string },
  port: number,
): Promise<void> {
  const operator = new SealedCredentialStore(new DataKeyRing({ dynamodb, tableName: SIM_TABLE, kms: kms.createClient(), kmsKeyId: kms.keyArn }));
  const first = ids[0];
  // The first seal creates data key version 1; the others reuse it without another Query.
  if (first !== undefined) await operator.seal('warm-up', { mailboxId: first, field: 'password' });
  const at = new Date().toISOString();
  const configs: MailboxConfig[] = new Array(ids.length);
  for (let i = 0; i < ids.length; i += SEAL_CONCURRENCY) {
    await Promise.all(
      ids.slice(i, i + SEAL_CONCURRENCY).map(async (id, j) => {
        const { user, password } = account(id);
        const sealed = await operator.seal(password, { mailboxId: id, field: 'password' }, 1);
        configs[i + j] = parseMailbox({ id, host: '127.0.0.1', port, tls: 'none', allowPlaintextAuth: true, username: user, password: { sealed }, schedule: SIM_SCHEDULE });
      }),
    );
  }
  for (let i = 0; i < configs.length; i += BATCH_WRITE_ITEMS) {
    let pending = configs.slice(i, i + BATCH_WRITE_ITEMS).map((c) => ({ PutRequest: { Item: newRegistryItem(c, at, true) } }));
    while (pending.length > 0) {
      const out = await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [SIM_TABLE]: pending } }));
      pending = (out.UnprocessedItems?.[SIM_TABLE] ?? []) as typeof pending;
    }
  }
}
