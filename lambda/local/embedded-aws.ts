/**
 * The AWS-compatible endpoints mailfetch starts by itself for `--local DIR` and `demo`,
 * in this process, Node only (no Java, no Docker): dynalite serves DynamoDB from a
 * LevelDB store in DIR/dynamodb, so a second run sees the state of the first; the local
 * KMS endpoint (local-kms.ts) keeps its key in DIR/kms, so credentials sealed by one run
 * open in the next. Messages need no server: FileMessageSink writes them as files.
 *
 * LevelDB takes one process at a time, so a DIR in use by another mailfetch is refused at
 * start (with the cause), and whoever holds it is the only writer below DIR.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './local-credentials';
import { newLocalAccessKey } from './local-access-key';
import { startLocalKms } from './local-kms';

export interface EmbeddedAws {
  readonly dynamoEndpoint: string; // http://127.0.0.1:PORT
  /** A ready-made client pointed at the endpoint (region us-east-1, static dummy credentials). */
  readonly dynamodb: DynamoDBClient;
  /** The local KMS endpoint's client, and the key that encrypts the data keys of sealed credentials. */
  readonly kms: KMSClient;
  readonly credentialsKeyArn: string;
  stop(): Promise<void>; // closes dynalite (flushing LevelDB) and the KMS endpoint, destroys the clients; idempotent
}

/** The local KMS key material, under DIR/kms (mode 0600): without it, sealed credentials do not open. */
const KMS_KEY_FILE = 'keys.json';
/** Where dynalite keeps its LevelDB store, below DIR. */
export const EMBEDDED_DYNAMODB_SUBDIR = 'dynamodb';
/** Where the local KMS keeps its key, below DIR. */
export const EMBEDDED_KMS_SUBDIR = 'kms';

export { LOCAL_CREDENTIALS, LOCAL_REGION };

export async function startEmbeddedAws(dir: string): Promise<EmbeddedAws> {
  const dynamoPath = join(dir, EMBEDDED_DYNAMODB_SUBDIR);
  await createDataDirectory(dynamoPath);
  // Loaded when local mode starts: dynalite (with its LevelDB addon) stays out of everything
  // that only needs this module's constants (the benchmark's client, the command's other paths).
  const { startEmbeddedDynamoDb } = await import('./embedded-dynamodb');
  // Other users of the machine reach 127.0.0.1 too: the endpoints answer this process only.
  const accessKey = newLocalAccessKey();
  const dynamo = await startEmbeddedDynamoDb({ path: dynamoPath, accessKey });
  let localKms: Awaited<ReturnType<typeof startLocalKms>>;
  try {
    localKms = await startLocalKms({ keyFile: join(dir, EMBEDDED_KMS_SUBDIR, KMS_KEY_FILE), region: LOCAL_REGION, accessKey });
  } catch (err) {
    await dynamo.close();
    throw err;
  }
  const dynamodb = createLocalDynamoDbClient(dynamo.endpoint, accessKey.credentials);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      dynamodb.destroy();
      await Promise.all([dynamo.close(), localKms.close()]);
    })());
  return { dynamoEndpoint: dynamo.endpoint, dynamodb, kms: localKms.createClient(), credentialsKeyArn: localKms.keyArn, stop };
}

/** A client for a local DynamoDB endpoint. @param credentials what it signs with @default LOCAL_CREDENTIALS */
export function createLocalDynamoDbClient(endpoint: string, credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } = LOCAL_CREDENTIALS): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials });
}

/** The store holds the registry and sealed credentials: its directory is its owner's only. */
const DATA_DIRECTORY_MODE = 0o700;

async function createDataDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: DATA_DIRECTORY_MODE });
    // Also when it existed (made by an earlier version, or by hand); LevelDB's own files follow the umask.
    await chmod(path, DATA_DIRECTORY_MODE);
  } catch (err) {
    throw new Error(`embedded AWS: cannot create data directory ${path}: ${(err as Error).message}`, { cause: err });
  }
}
