/**
 * S3-, DynamoDB- and KMS-compatible servers that mailfetch starts by itself for `--local
 * DIR` and `demo`: Node only, no Java, no Docker. s3rver serves S3 from DIR/s3; dynalite
 * serves DynamoDB from a LevelDB store in DIR/dynamodb, so a second run sees the state
 * of the first; the local KMS endpoint (local-kms.ts, in this process: it needs no
 * legacy OpenSSL) keeps its key in DIR/kms, so credentials sealed by one run open in the next.
 *
 * Both run in one child process (embedded-aws-server.ts): s3rver needs OpenSSL's legacy
 * provider for paginated ListObjectsV2, and that switch must not leak into mailfetch's
 * own process. The child exits as soon as the parent goes away, however it goes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import {
  LOOPBACK_HOST,
  isChildMessage,
  type ChildMessage,
  type EmbeddedAwsServerConfig,
  type ParentMessage,
} from './embedded-aws-protocol';
import { startLocalKms } from './local-kms';

export interface EmbeddedAws {
  readonly s3Endpoint: string; // http://127.0.0.1:PORT
  readonly dynamoEndpoint: string;
  /** Ready-made SDK clients pointed at the endpoints (region us-east-1, static dummy credentials S3RVER/S3RVER, forcePathStyle, checksum settings WHEN_REQUIRED). */
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  /** The local KMS endpoint's client, and the key that encrypts the data keys of sealed credentials. */
  readonly kms: KMSClient;
  readonly credentialsKeyArn: string;
  stop(): Promise<void>; // stops the child and the KMS endpoint, destroys the clients; idempotent
}

/** The child process hosting the servers, as seen by the parent. */
export interface AwsServerProcess {
  readonly pid: number | undefined;
  /** Bound port, or null when that server was not requested. */
  readonly s3Port: number | null;
  readonly dynamoPort: number | null;
  /** Asks the child to close its servers and waits for it to exit; idempotent. */
  stop(): Promise<void>;
}

/** Cold start includes tsx compiling the child's TypeScript; ~0.5-1 s is normal, 30 s means broken. */
const STARTUP_TIMEOUT_MS = 30_000;
/** Longer than the child's own shutdown deadline (5 s), after which it is killed. */
const STOP_TIMEOUT_MS = 10_000;
/** The local KMS key material, under DIR/kms (mode 0600): without it, sealed credentials do not open. */
const KMS_KEY_FILE = 'keys.json';
/** How much of the child's stderr is kept to explain a failed start. */
const STDERR_TAIL_CHARS = 4_000;

export const LOCAL_REGION = 'us-east-1';
/** s3rver only accepts these; dynalite accepts anything. Static so no credential chain is consulted. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export async function startEmbeddedAws(dir: string): Promise<EmbeddedAws> {
  const s3Directory = join(dir, 's3');
  const dynamoPath = join(dir, 'dynamodb');
  await createDataDirectory(s3Directory);
  await createDataDirectory(dynamoPath);
  const localKms = await startLocalKms({ keyFile: join(dir, 'kms', KMS_KEY_FILE), region: LOCAL_REGION });
  let servers: AwsServerProcess;
  try {
    servers = await startAwsServerProcess({ s3: { directory: s3Directory }, dynamodb: { path: dynamoPath } });
  } catch (err) {
    await localKms.close();
    throw err;
  }
  const s3Endpoint = localEndpoint(servers.s3Port);
  const dynamoEndpoint = localEndpoint(servers.dynamoPort);
  const s3 = createLocalS3Client(s3Endpoint);
  const dynamodb = createLocalDynamoDbClient(dynamoEndpoint);
  const stop = once(async () => {
    s3.destroy();
    dynamodb.destroy();
    await Promise.all([servers.stop(), localKms.close()]);
  });
  return { s3Endpoint, dynamoEndpoint, s3, dynamodb, kms: localKms.createClient(), credentialsKeyArn: localKms.keyArn, stop };
}

/** An S3 client for s3rver: path-style, dummy credentials, and no flexible checksums. */
export function createLocalS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    // With the default (WHEN_SUPPORTED) a streamed PutObject is sent aws-chunked and
    // s3rver stores the chunk framing inside the object.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export function createLocalDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

/** Forks embedded-aws-server.ts and resolves once it reports its ports. */
export async function startAwsServerProcess(config: EmbeddedAwsServerConfig): Promise<AwsServerProcess> {
  const { modulePath, execArgv } = serverModule();
  const child = fork(modulePath, [JSON.stringify(config)], {
    execArgv,
    // stdout is not ours to write to (the CLI may print machine-readable output);
    // stderr is kept to explain failures.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const stderr = collectStderr(child);
  let ready: Extract<ChildMessage, { type: 'ready' }>;
  try {
    ready = await waitUntilReady(child, stderr);
  } catch (err) {
    await killChild(child);
    throw err;
  }
  stderr.forwardFromNowOn();
  let stopping = false;
  // Requests would only fail with ECONNREFUSED: say why.
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`embedded AWS servers exited unexpectedly (code ${code}, signal ${signal})\n`);
  });
  // A forgotten stop() must not keep the CLI alive: the child goes when the parent does.
  child.unref();
  child.channel?.unref();
  (child.stderr as Socket | null)?.unref();
  return {
    pid: child.pid,
    s3Port: ready.s3Port,
    dynamoPort: ready.dynamoPort,
    stop: once(() => {
      stopping = true;
      return stopChild(child);
    }),
  };
}

/**
 * The child runs from TypeScript through tsx (resolved from this package, so the CLI's
 * working directory does not matter) or, once compiled to JavaScript, directly.
 * --openssl-legacy-provider is what makes s3rver's DES continuation tokens work.
 */
function serverModule(): { modulePath: string; execArgv: string[] } {
  const thisFile = fileURLToPath(import.meta.url);
  const extension = extname(thisFile);
  const modulePath = join(thisFile, '..', `embedded-aws-server${extension}`);
  const execArgv = ['--openssl-legacy-provider'];
  if (extension === '.ts') {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    execArgv.push('--import', pathToFileURL(tsx).href);
  }
  return { modulePath, execArgv };
}

interface StderrCollector {
  tail(): string;
  forwardFromNowOn(): void;
}

function collectStderr(child: ChildProcess): StderrCollector {
  let tail = '';
  let forward = false;
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (forward) process.stderr.write(chunk);
    else tail = (tail + chunk).slice(-STDERR_TAIL_CHARS);
  });
  return {
    tail: () => tail.trim(),
    forwardFromNowOn: () => {
      forward = true;
    },
  };
}

function waitUntilReady(
  child: ChildProcess,
  stderr: StderrCollector,
): Promise<Extract<ChildMessage, { type: 'ready' }>> {
  return new Promise((resolve, reject) => {
    const fail = (reason: string): void => {
      cleanup();
      const output = stderr.tail();
      reject(new Error(`embedded AWS servers failed to start: ${reason}${output ? `\n${output}` : ''}`));
    };
    const onMessage = (message: unknown): void => {
      if (!isChildMessage(message)) return;
      if (message.type === 'failed') return fail(`${message.service}: ${message.message}`);
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(`the server process exited early (code ${code}, signal ${signal})`);
    const onError = (err: Error): void => fail(`could not run the server process: ${err.message}`);
    const timer = setTimeout(() => fail(`no answer within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    function cleanup(): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function killChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  child.kill('SIGKILL');
  await waitForExit(child, STOP_TIMEOUT_MS);
}

/** Graceful first (dynalite flushes LevelDB), SIGKILL if the child does not go. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  // Keep the event loop alive until the child is gone.
  child.ref();
  child.channel?.ref();
  if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage);
  else child.kill('SIGTERM');
  if (!(await waitForExit(child, STOP_TIMEOUT_MS))) await killChild(child);
}

function localEndpoint(port: number | null): string {
  if (port === null) throw new Error('embedded AWS: a requested server reported no port');
  return `http://${LOOPBACK_HOST}:${port}`;
}

async function createDataDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (err) {
    throw new Error(`embedded AWS: cannot create data directory ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function once(action: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= action());
}
