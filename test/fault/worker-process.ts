/**
 * One worker run in its own process, so a test can kill it for real (SIGKILL) at any
 * moment: mid-upload, between the object and its record, between DELE and QUIT...
 *
 *   node --import tsx test/fault/worker-process.ts '<WorkerProcessConfig as JSON>'
 *
 * It builds real SDK clients for s3rver / DynamoDB Local (optionally with seeded faults),
 * runs one runMailbox through the given POP3 endpoint (the chaos proxy), and reports on
 * stdout, one JSON object per line: {"event":"ready"} before the run starts,
 * {"event":"stored","uid":...} after each message is stored and recorded, and finally
 * {"event":"summary","summary":...,"faults":[...]}.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { MailboxConfig } from '../../lambda/config/mailbox-config';
import { EventBridgePublisher } from '../../lambda/events/eventbridge-publisher';
import { DynamoDbOutboxStore } from '../../lambda/state/dynamodb-outbox-store';
import { openSession, type Pop3SessionOptions } from '../../lambda/pop3';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import { S3MessageSink } from '../../lambda/storage/s3-message-sink';
import { runMailbox } from '../../lambda/sync/run-mailbox';
import { AwsFaults, workerClients } from './aws-faults';
import { Prng } from './prng';

export interface WorkerProcessConfig {
  readonly s3Endpoint: string;
  readonly dynamoEndpoint: string;
  /** The local PutEvents endpoint: Mail Stored events on, the outbox in `table`. */
  readonly eventsEndpoint: string;
  readonly bucket: string;
  readonly table: string;
  readonly mailbox: MailboxConfig;
  /** Engine options: host/port (the proxy), tls, credentials, short timeouts. `ca` as PEM text. */
  readonly pop3: Omit<Pop3SessionOptions, 'tlsOptions' | 'signal'> & { readonly ca?: string };
  /** Added to Date.now(): lets a run start after the lease of a killed one has expired. */
  readonly clockOffsetMs: number;
  readonly runMs: number;
  readonly safetyMarginMs: number;
  readonly maxAttempts: { readonly s3: number; readonly dynamodb: number };
  readonly sink: { readonly singlePartMaxOctets: number; readonly partSizeOctets: number; readonly directPutObject?: boolean };
  readonly state?: { readonly direct?: boolean };
  readonly faults?: { readonly seed: number; readonly rate: number; readonly afterShare: number };
}

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as WorkerProcessConfig;
  const { s3, dynamodb } = workerClients(config);
  const faults = config.faults ? new AwsFaults({ prng: new Prng(config.faults.seed), rate: config.faults.rate, afterShare: config.faults.afterShare }) : undefined;
  if (faults) {
    faults.install(s3, 's3');
    faults.install(dynamodb, 'dynamodb');
  }
  const state = new DynamoDbStateStore({ client: dynamodb, tableName: config.table, ...config.state });
  const sink = new S3MessageSink({ client: s3, bucket: config.bucket, ...config.sink });
  const now = (): number => Date.now() + config.clockOffsetMs;
  const { ca, ...pop3 } = config.pop3;
  const eventBridge = new EventBridgeClient({ endpoint: config.eventsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  const events = { outbox: new DynamoDbOutboxStore({ client: dynamodb, tableName: config.table }), publisher: new EventBridgePublisher({ client: eventBridge }), bucket: config.bucket };
  emit({ event: 'ready' });
  const summary = await runMailbox(
    {
      state,
      sink,
      now,
      openSession: (_mailbox, signal) => openSession({ ...pop3, ...(ca ? { tlsOptions: { ca } } : {}), signal }),
      onStored: ({ uid }) => emit({ event: 'stored', uid }),
      events,
    },
    { mailbox: config.mailbox, deadline: now() + config.runMs, safetyMarginMs: config.safetyMarginMs },
  );
  emit({ event: 'summary', summary, faults: faults?.injected ?? [] });
  s3.destroy();
  dynamodb.destroy();
  eventBridge.destroy();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    emit({ event: 'crash', error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err) });
    process.exit(3);
  },
);
