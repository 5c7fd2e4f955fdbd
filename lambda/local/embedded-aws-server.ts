/**
 * Child-process entry that hosts s3rver (S3) and dynalite (DynamoDB) for
 * embedded-aws.ts. It runs in its own process because s3rver's paginated
 * ListObjectsV2 needs OpenSSL's legacy provider (its continuation tokens use DES),
 * which must not be switched on in mailfetch's own process.
 *
 * Started with `fork(thisFile, [JSON config])`; reports the bound ports with one
 * `ready` message (or one `failed` message and exit code 1) and stops on a `stop`
 * message or as soon as the parent goes away.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import {
  LOOPBACK_HOST,
  isParentMessage,
  type ChildMessage,
  type EmbeddedAwsServerConfig,
} from './embedded-aws-protocol';
import { installMultipartShim } from './s3rver-multipart-shim';

/** Time given to the servers to close (dynalite flushes LevelDB) before the child exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 5_000;
/**
 * dynalite keeps new tables in CREATING for 500 ms by default to imitate AWS; a local
 * run gains nothing from the wait. Callers still wait for ACTIVE (as on AWS): 0 only
 * makes that wait short.
 */
const DYNALITE_TABLE_STATE_MS = 0;

type Closer = () => Promise<void>;

const closers: Closer[] = [];
let stopping = false;

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function parseConfig(): EmbeddedAwsServerConfig {
  const raw = process.argv[2];
  if (!raw) throw new Error('embedded-aws-server: missing JSON config argument');
  return JSON.parse(raw) as EmbeddedAwsServerConfig;
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

async function startS3rver(directory: string): Promise<number> {
  // Loaded on demand: a child that serves only DynamoDB (or only S3) starts faster.
  const { default: S3rver } = await import('s3rver');
  const s3rver = new S3rver({
    address: LOOPBACK_HOST,
    port: 0,
    directory,
    silent: true,
    // The clients use path-style URLs: there are no bucket host names on loopback.
    vhostBuckets: false,
  });
  installMultipartShim(s3rver, directory);
  const address = await s3rver.run();
  const httpServer = s3rver.httpServer;
  if (httpServer) closers.push(() => closeHttpServer(httpServer));
  return address.port;
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
    throw new Error(`cannot open the LevelDB store at ${path}: ${(err as Error).message}${cause}`, { cause: err });
  }
  await db.close();
}

async function startDynalite(path: string | undefined): Promise<number> {
  if (path) await probeLevelDb(path);
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({
    ...(path ? { path } : {}),
    createTableMs: DYNALITE_TABLE_STATE_MS,
    deleteTableMs: DYNALITE_TABLE_STATE_MS,
    updateTableMs: DYNALITE_TABLE_STATE_MS,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  closers.push(() => closeHttpServer(server));
  return (server.address() as AddressInfo).port;
}

async function closeAll(): Promise<void> {
  const results = await Promise.allSettled(closers.splice(0).map((close) => close()));
  for (const result of results) {
    if (result.status === 'rejected') console.error('embedded-aws-server: close failed:', result.reason);
  }
}

/** Stops everything and exits; safe to call more than once. */
async function shutdown(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // If a server hangs on close, exit anyway: a lingering child is worse than an unflushed one.
  setTimeout(() => process.exit(exitCode), SHUTDOWN_TIMEOUT_MS).unref();
  await closeAll();
  process.exit(exitCode);
}

async function startService<T>(service: 's3rver' | 'dynalite', start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    await send({ type: 'failed', service, message: err instanceof Error ? err.message : String(err) });
    await shutdown(1);
    throw err;
  }
}

async function main(): Promise<void> {
  // The parent going away (exit, crash, kill) closes the IPC channel: never outlive it.
  process.on('disconnect', () => void shutdown(0));
  process.on('message', (message) => {
    if (isParentMessage(message)) void shutdown(0);
  });
  process.on('SIGTERM', () => void shutdown(0));
  // Ctrl-C reaches the whole process group; the parent decides when to stop us, since it
  // may still be saving state after the interrupt. Its exit disconnects us anyway.
  process.on('SIGINT', () => undefined);

  const config = parseConfig();
  const s3 = config.s3;
  const dynamodb = config.dynamodb;
  const s3Port = s3 ? await startService('s3rver', () => startS3rver(s3.directory)) : null;
  const dynamoPort = dynamodb ? await startService('dynalite', () => startDynalite(dynamodb.path)) : null;
  await send({ type: 'ready', s3Port, dynamoPort });
}

main().catch((err: unknown) => {
  console.error('embedded-aws-server:', err);
  void shutdown(1);
});
