/**
 * dynalite, a DynamoDB implementation on LevelDB, in this process on a loopback port: the
 * state store of `--local DIR` (persisted in a LevelDB directory) and, in memory, of tests
 * that need neither transactions nor TTL. The same DynamoDbStateStore adapter talks to it
 * over the DynamoDB wire protocol as it talks to DynamoDB.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { requireLocalAccessKey, type LocalAccessKey } from './local-access-key';
import { LOOPBACK_HOST } from './loopback';

/**
 * dynalite keeps new tables in CREATING for 500 ms by default to imitate AWS; a local
 * run gains nothing from the wait. Callers still wait for ACTIVE (as on AWS): 0 only
 * makes that wait short.
 */
const DYNALITE_TABLE_STATE_MS = 0;

export interface EmbeddedDynamoDbOptions {
  /** LevelDB directory (created when missing); one process at a time. @default in memory */
  readonly path?: string;
  /** Answer only requests signed with this key (local-access-key.ts). @default any request */
  readonly accessKey?: LocalAccessKey;
}

export interface EmbeddedDynamoDb {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** Closes the server and its LevelDB store; idempotent. */
  close(): Promise<void>;
}

export async function startEmbeddedDynamoDb(options: EmbeddedDynamoDbOptions = {}): Promise<EmbeddedDynamoDb> {
  if (options.path !== undefined) await probeLevelDb(options.path);
  const server = dynalite({
    ...(options.path === undefined ? {} : { path: options.path }),
    createTableMs: DYNALITE_TABLE_STATE_MS,
    deleteTableMs: DYNALITE_TABLE_STATE_MS,
    updateTableMs: DYNALITE_TABLE_STATE_MS,
  });
  if (options.accessKey) requireLocalAccessKey(server, options.accessKey);
  await listen(server);
  // A forgotten close() must not keep the CLI alive; requests in flight hold their own sockets.
  server.unref();
  const endpoint = `http://${LOOPBACK_HOST}:${(server.address() as AddressInfo).port}`;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= closeHttpServer(server));
  try {
    await answersRequests(endpoint, options.path, options.accessKey?.credentials);
  } catch (err) {
    await close();
    throw err;
  }
  return { endpoint, close };
}

/**
 * dynalite opens LevelDB in the background and, when that fails, answers every request
 * with "Database is closed". Two processes starting on one directory at once both pass
 * probeLevelDb; one request here makes sure this one holds the store (the other fails).
 */
async function answersRequests(endpoint: string, path: string | undefined, credentials = { accessKeyId: 'local', secretAccessKey: 'local' }): Promise<void> {
  // Static credentials, so that no credential chain is consulted.
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }));
  } catch (err) {
    const where = path === undefined ? 'in memory' : `at ${path} (LOCK: is another mailfetch using it?)`;
    throw new Error(`dynalite: cannot open the LevelDB store ${where}: ${(err as Error).message}`, { cause: err });
  } finally {
    client.destroy();
  }
}

/** The `level` package as dynalite sees it; only what the probe needs. */
interface LevelModule {
  Level: new (path: string) => { open(): Promise<void>; close(): Promise<void> };
}

/**
 * dynalite opens its LevelDB lazily and swallows the open error: a store that cannot
 * be opened (locked by another process, unreadable, corrupt) only shows up as a crash
 * on the first request. Open it once here to fail at start with the real cause.
 */
async function probeLevelDb(path: string): Promise<void> {
  // The very `level` dynalite uses, resolved from dynalite's own location.
  const requireFromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const { Level } = requireFromDynalite('level') as LevelModule;
  const db = new Level(path);
  try {
    await db.open();
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    throw new Error(`dynalite: cannot open the LevelDB store at ${path}: ${(err as Error).message}${cause}`, { cause: err });
  }
  await db.close();
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Closes an http.Server (dynalite's close() also closes LevelDB) and drops keep-alive
 * sockets, which would otherwise hold close() open.
 */
function closeHttpServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
