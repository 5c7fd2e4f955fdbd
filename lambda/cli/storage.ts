/**
 * Where the command line keeps messages and state: a local directory (`--local DIR`, the
 * default), or a bucket and a table through the AWS SDK's standard configuration (so
 * AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_KMS point it at any
 * compatible endpoint).
 *
 * `--local DIR` layout: messages as plain `.eml` files under DIR/<prefix> (FileMessageSink,
 * `DIR/messages/<mailbox>/<name>.eml` by default), state in the embedded DynamoDB (dynalite's
 * LevelDB store in DIR/dynamodb), the local KMS key in DIR/kms. The state store is the same
 * DynamoDbStateStore as in Lambda; with a bucket, so is the sink (S3MessageSink).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, HeadBucketCommand, S3Client, type BucketLocationConstraint } from '@aws-sdk/client-s3';
import { DataKeyRing } from '../credentials/data-key-ring';
import { SealedCredentialStore } from '../credentials/sealed-credential-store';
import { DEFAULT_PREFIX, ENV } from '../env';
import { EVENTS_REQUEST_HANDLER, EventBridgePublisher } from '../events/eventbridge-publisher';
import { EMBEDDED_DYNAMODB_SUBDIR, EMBEDDED_KMS_SUBDIR, startEmbeddedAws, type EmbeddedAws } from '../local/embedded-aws';
import { DynamoDbMailboxRegistry } from '../registry/dynamodb-mailbox-registry';
import { DynamoDbOutboxStore } from '../state/dynamodb-outbox-store';
import { DynamoDbStateStore } from '../state/dynamodb-state-store';
import { ensureTable } from '../state/table-schema';
import { FileMessageSink } from '../storage/file-message-sink';
import type { MessageSink } from '../storage/message-sink';
import { S3MessageSink } from '../storage/s3-message-sink';
import type { RunMailboxEvents } from '../sync/run-mailbox';
import { MAX_UPLOADS_IN_FLIGHT } from '../sync/run-session';
import { checkAwsSetup } from './aws-preflight';
import { UsageError } from './exit-codes';

/** The directory `--local` defaults to, relative to the working directory. */
export const DEFAULT_LOCAL_DIR = '.mailfetch';
/** The state table inside the embedded DynamoDB. */
export const LOCAL_TABLE = 'mailfetch-state';
/**
 * Directories below DIR that messages may not use: the state store's, the KMS key's, and
 * `s3` (where mailfetch before 0.2 kept messages in s3rver's format).
 */
const RESERVED_LOCAL_SUBDIRS: ReadonlySet<string> = new Set([EMBEDDED_DYNAMODB_SUBDIR, EMBEDDED_KMS_SUBDIR, 's3']);
/** The only region whose CreateBucket must not name a LocationConstraint. */
const DEFAULT_S3_REGION = 'us-east-1';

export type StoreChoice =
  | { readonly kind: 'local'; readonly dir: string; readonly prefix: string }
  | {
      readonly kind: 'aws';
      readonly bucket: string;
      readonly table: string;
      readonly prefix: string;
      readonly forcePathStyle: boolean;
      readonly createMissing: boolean;
      /** MAILFETCH_CREDENTIALS_KEY: the KMS key of sealed credentials (only creating a data key needs it). */
      readonly credentialsKey?: string;
      /** --event-bus or MAILFETCH_EVENT_BUS: where `Mail Stored` events go (none without it). */
      readonly eventBus?: string;
    };

/** The storage options as parsed (see STORAGE_OPTIONS). */
export interface StorageFlags {
  readonly local?: string | undefined;
  readonly bucket?: string | undefined;
  readonly table?: string | undefined;
  readonly prefix?: string | undefined;
  readonly 'force-path-style'?: boolean | undefined;
  readonly 'create-missing'?: boolean | undefined;
  readonly 'event-bus'?: string | undefined;
}

/**
 * Decides the storage from the flags and the environment. Without --local, --bucket or
 * --table (flag or MAILFETCH_BUCKET/MAILFETCH_TABLE): embedded storage under ./.mailfetch,
 * for every command (check reads it without creating it).
 */
export function storageChoice(flags: StorageFlags, env: NodeJS.ProcessEnv, cwd: string, command: string): StoreChoice {
  const prefix = flags.prefix ?? env[ENV.PREFIX] ?? DEFAULT_PREFIX;
  if (flags.local !== undefined) {
    const clash = (['bucket', 'table', 'force-path-style', 'create-missing', 'event-bus'] as const).filter((f) => flags[f] !== undefined);
    if (clash.length > 0) throw new UsageError(`--local cannot be combined with ${clash.map((f) => `--${f}`).join(', ')}`, command);
    if (flags.local === '') throw new UsageError('--local needs a directory', command);
    return { kind: 'local', dir: absolute(flags.local, cwd), prefix };
  }
  const bucket = flags.bucket ?? nonEmpty(env[ENV.BUCKET]);
  const table = flags.table ?? nonEmpty(env[ENV.TABLE]);
  if (bucket !== undefined && table !== undefined) {
    if (bucket === '' || table === '') throw new UsageError('--bucket and --table need a name', command);
    const credentialsKey = nonEmpty(env[ENV.CREDENTIALS_KEY]);
    const eventBus = flags['event-bus'] ?? nonEmpty(env[ENV.EVENT_BUS]);
    if (eventBus === '') throw new UsageError('--event-bus needs a bus name or ARN', command);
    return {
      kind: 'aws',
      bucket,
      table,
      prefix,
      forcePathStyle: flags['force-path-style'] === true,
      createMissing: flags['create-missing'] === true,
      ...(credentialsKey === undefined ? {} : { credentialsKey }),
      ...(eventBus === undefined ? {} : { eventBus }),
    };
  }
  if (bucket !== undefined) throw new UsageError(`--bucket needs --table (or ${ENV.TABLE}) as well`, command);
  if (table !== undefined) throw new UsageError(`--table needs --bucket (or ${ENV.BUCKET}) as well`, command);
  for (const flag of ['force-path-style', 'create-missing', 'event-bus'] as const) {
    if (flags[flag] !== undefined) throw new UsageError(`--${flag} only applies with --bucket and --table`, command);
  }
  return { kind: 'local', dir: absolute(DEFAULT_LOCAL_DIR, cwd), prefix };
}

/** Open clients for one storage choice; close() ends them (and the embedded servers). */
export interface Storage {
  readonly dynamodb: DynamoDBClient;
  /** The S3 bucket; undefined for --local (messages are files). */
  readonly bucket: string | undefined;
  readonly table: string;
  readonly prefix: string;
  readonly state: DynamoDbStateStore;
  readonly sink: MessageSink;
  /** The mailbox registry in the state table. */
  readonly registry: DynamoDbMailboxRegistry;
  /** Opens (and seals) credentials sealed in the registry items. */
  readonly sealed: SealedCredentialStore;
  /** The --local directory, else undefined. */
  readonly localDir: string | undefined;
  /** `Mail Stored` events (--event-bus), else undefined. */
  readonly events: RunMailboxEvents | undefined;
  /** One line for humans: where messages and state go. */
  readonly description: string;
  /** Where the messages of a mailbox are, for people to open: a directory (ending in the path separator) or an s3:// URL. */
  messageLocation(mailboxId: string): string;
  close(): Promise<void>;
}

export interface OpenStorageOptions {
  /**
   * True: create nothing (check). False: create the bucket and the table when missing,
   * always for embedded storage, with --create-missing for AWS.
   */
  readonly readOnly: boolean;
}

export async function openStorage(choice: StoreChoice, options: OpenStorageOptions): Promise<Storage> {
  if (choice.kind === 'local') return openLocalStorage(choice, options);
  // As many kept-alive sockets as a mailbox keeps uploads in flight (mailboxes run one at a time here).
  const s3 = new S3Client({ forcePathStyle: choice.forcePathStyle, requestHandler: { httpsAgent: { keepAlive: true, maxSockets: MAX_UPLOADS_IN_FLIGHT } } });
  const dynamodb = new DynamoDBClient({});
  const kms = new KMSClient({});
  const eventBridge = choice.eventBus === undefined ? undefined : new EventBridgeClient({ requestHandler: EVENTS_REQUEST_HANDLER });
  const close = async (): Promise<void> => {
    s3.destroy();
    dynamodb.destroy();
    kms.destroy();
    eventBridge?.destroy();
  };
  const { bucket, prefix } = choice;
  try {
    await checkAwsSetup(dynamodb);
    if (choice.createMissing && !options.readOnly) await createMissing(s3, dynamodb, bucket, choice.table);
    return assemble({
      // The client is built above: nothing in its middleware a PutObject must carry.
      sink: () => new S3MessageSink({ client: s3, bucket, prefix, directPutObject: true }),
      bucket,
      prefix,
      dynamodb,
      sealed: sealedStore(dynamodb, choice.table, kms, choice.credentialsKey),
      localDir: undefined,
      ...(eventBridge && choice.eventBus !== undefined ? { eventsTo: { client: eventBridge, bus: choice.eventBus } } : {}),
      description: `s3://${bucket}/${prefix}, DynamoDB table ${choice.table}${choice.eventBus === undefined ? '' : `, events to ${choice.eventBus}`}`,
      messageLocation: (mailboxId) => `s3://${bucket}/${prefix}${mailboxId}/`,
      close,
    });
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * `--local DIR`: the embedded DynamoDB (which locks DIR against a second mailfetch) and
 * message files below DIR. Being the only writer, the sink removes every temporary file a
 * crashed run left, not only old ones.
 */
async function openLocalStorage(choice: Extract<StoreChoice, { kind: 'local' }>, options: OpenStorageOptions): Promise<Storage> {
  const { dir, prefix } = choice;
  const problem = localPrefixProblem(prefix);
  if (problem !== undefined) throw new UsageError(`--prefix: ${problem}`);
  const aws = await startLocalServers(dir);
  try {
    if (!options.readOnly) await createTable(aws.dynamodb, LOCAL_TABLE);
    return assemble({
      sink: () => new FileMessageSink({ directory: dir, prefix, staleTempAgeMs: 0 }),
      bucket: undefined,
      prefix,
      dynamodb: aws.dynamodb,
      sealed: sealedStore(aws.dynamodb, LOCAL_TABLE, aws.kms, aws.credentialsKeyArn),
      localDir: dir,
      description: `${dir} (messages as .eml files under ${localMessageDirectory(dir, prefix, '')}, state in ${localStateDirectory(dir)})`,
      messageLocation: (mailboxId) => localMessageDirectory(dir, prefix, mailboxId),
      close: () => aws.stop(),
    });
  } catch (err) {
    await aws.stop();
    throw err;
  }
}

/**
 * With --local, the prefix names a directory below DIR for the messages (`messages/` by
 * default): not the state store's or the KMS key's, so no mailbox id can reach into them.
 */
export function localPrefixProblem(prefix: string): string | undefined {
  const [first, ...rest] = prefix.split('/');
  if (rest.length === 0 || first === '') return `with --local, the prefix must start with a directory name ending in "/" (e.g. ${DEFAULT_PREFIX}), got "${prefix}"`;
  if (RESERVED_LOCAL_SUBDIRS.has(first!)) return `"${first}/" is where --local keeps its own data; use another directory (e.g. ${DEFAULT_PREFIX})`;
  return undefined;
}

/**
 * Sealed credentials of `table`. `kmsKeyId` (the stack output CredentialsKeyArn) is needed
 * to create the first data key; opening existing ones works without it.
 */
export function sealedStore(dynamodb: DynamoDBClient, table: string, kms: KMSClient, kmsKeyId: string | undefined): SealedCredentialStore {
  return new SealedCredentialStore(new DataKeyRing({ dynamodb, tableName: table, kms, ...(kmsKeyId === undefined ? {} : { kmsKeyId }) }));
}

/** The embedded DynamoDB and KMS for `dir`; a failure to start is a StorageSetupError. */
export async function startLocalServers(dir: string): Promise<EmbeddedAws> {
  return startEmbeddedAws(dir).catch((err: unknown) => {
    // dynalite's LevelDB store takes one process at a time.
    const busy = /\bLOCK\b/.test((err as Error).message) ? ` (is another mailfetch using ${dir}?)` : '';
    throw new StorageSetupError(`${(err as Error).message}${busy}`, { cause: err });
  });
}

/** Whether `dir` holds embedded state at all (check does not start servers for nothing). */
export function hasLocalState(dir: string): boolean {
  return existsSync(localStateDirectory(dir));
}

/** Where dynalite keeps the state table's LevelDB store on disk. */
export function localStateDirectory(dir: string): string {
  return join(dir, EMBEDDED_DYNAMODB_SUBDIR);
}

/** The directory holding a mailbox's .eml files with --local (with a separator at the end); `''`: the prefix's directory. */
export function localMessageDirectory(dir: string, prefix: string, mailboxId: string): string {
  const key = `${prefix}${mailboxId}`;
  // Keys use '/' whatever the platform; the directory part of the prefix when no mailbox is given.
  const segments = (mailboxId === '' ? key.slice(0, key.lastIndexOf('/') + 1) : key).split('/').filter(Boolean);
  return join(dir, ...segments) + sep;
}

/** A setup failure outside any mailbox (storage unreachable, bucket not creatable). */
export class StorageSetupError extends Error {
  override readonly name = 'StorageSetupError';
}

interface StorageParts {
  /** Builds the sink; an invalid prefix is a usage error. */
  readonly sink: () => MessageSink;
  readonly bucket: string | undefined;
  readonly prefix: string;
  /** The state table's client. */
  readonly dynamodb: DynamoDBClient;
  /** Holds the table (its ring's). */
  readonly sealed: SealedCredentialStore;
  readonly localDir: string | undefined;
  /** Where Mail Stored events go (--event-bus). @default none */
  readonly eventsTo?: { readonly client: EventBridgeClient; readonly bus: string };
  readonly description: string;
  readonly messageLocation: (mailboxId: string) => string;
  close(): Promise<void>;
}

function assemble(parts: StorageParts): Storage {
  const { bucket, prefix, sealed, dynamodb } = parts;
  const table = sealed.ring.tableName;
  let sink: MessageSink;
  try {
    sink = parts.sink();
  } catch (err) {
    throw new UsageError(`--prefix: ${(err as Error).message}`);
  }
  const state = new DynamoDbStateStore({ client: dynamodb, tableName: table, direct: true });
  const registry = new DynamoDbMailboxRegistry({ client: dynamodb, tableName: table });
  const { localDir, eventsTo, description, messageLocation, close } = parts;
  // The outbox's capacity counts into the run's, as in Lambda.
  const events: RunMailboxEvents | undefined = eventsTo && bucket !== undefined
    ? { outbox: new DynamoDbOutboxStore({ client: dynamodb, tableName: table, capacity: state }), publisher: new EventBridgePublisher({ client: eventsTo.client, eventBusName: eventsTo.bus }), bucket }
    : undefined;
  return { dynamodb, bucket, table, prefix, state, sink, registry, sealed, localDir, events, description, messageLocation, close };
}

async function createMissing(s3: S3Client, dynamodb: DynamoDBClient, bucket: string, table: string): Promise<void> {
  await ensureBucket(s3, bucket);
  await createTable(dynamodb, table);
}

async function createTable(dynamodb: DynamoDBClient, table: string): Promise<void> {
  try {
    await ensureTable(dynamodb, table);
  } catch (err) {
    throw new StorageSetupError(`cannot create or use table ${table}: ${(err as Error).message}`, { cause: err });
  }
}

/** HeadBucket, and CreateBucket when it answers 404. Someone else's bucket is an error. */
export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (err) {
    if (httpStatus(err) !== 404) throw new StorageSetupError(`cannot use bucket ${bucket}: ${describeAwsError(err)}`, { cause: err });
  }
  const region = await s3.config.region();
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        ...(region && region !== DEFAULT_S3_REGION ? { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } } : {}),
      }),
    );
  } catch (err) {
    // Created meanwhile by another process of ours: fine.
    if ((err as { name?: unknown }).name === 'BucketAlreadyOwnedByYou') return;
    throw new StorageSetupError(`cannot create bucket ${bucket}: ${describeAwsError(err)}`, { cause: err });
  }
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function describeAwsError(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown };
  const status = httpStatus(err);
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' && e.message !== name && e.message !== 'UnknownError' ? `: ${e.message}` : '';
  return `${name}${status === undefined ? '' : ` (HTTP ${status})`}${message}`;
}

export function absolute(path: string, cwd: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
