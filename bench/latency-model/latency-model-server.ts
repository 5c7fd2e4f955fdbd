/**
 * Child-process entry of the AWS latency model: starts its S3 and DynamoDB endpoints and
 * serves them until told to stop or until the parent goes away. Its own process, so the
 * endpoints' CPU is never counted in the CPU of a worker process being measured, and
 * never competes with the bench runner's event loop.
 *
 * Started by start-latency-model.ts with `fork(thisFile, [JSON config])`; reports one
 * `ready` (or `failed` and exit code 1), then answers `tallies`, `reset-tallies` and
 * `clear` requests.
 */
import { startLatencyDynamoDb, type LatencyDynamoDb } from './latency-dynamodb';
import { isParentMessage, type ChildMessage, type ServerConfig } from './latency-model-protocol';
import { resolveDelays } from './latency-options';
import { startLatencyS3, type LatencyS3 } from './latency-s3';

/** Time given to the servers to close before the child exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 5_000;

let s3: LatencyS3 | undefined;
let dynamo: LatencyDynamoDb | undefined;
let stopping = false;

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function shutdown(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(exitCode), SHUTDOWN_TIMEOUT_MS).unref();
  await Promise.allSettled([s3?.close(), dynamo?.close()]);
  process.exit(exitCode);
}

function onMessage(message: unknown): void {
  if (!isParentMessage(message)) return;
  if (message.type === 'stop') return void shutdown(0);
  if (message.type === 'tallies') {
    void send({ type: 'answer', id: message.id, tallies: { s3: s3!.tallies.snapshot(), dynamodb: dynamo!.tallies.snapshot() } });
    return;
  }
  if (message.type === 'reset-tallies') {
    s3!.tallies.reset();
    dynamo!.tallies.reset();
  } else {
    s3!.clear();
    dynamo!.clear();
  }
  void send({ type: 'answer', id: message.id });
}

async function main(): Promise<void> {
  process.on('disconnect', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  // Ctrl-C reaches the whole process group; the parent decides when to stop us.
  process.on('SIGINT', () => undefined);
  try {
    const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
    const delays = resolveDelays(config);
    [s3, dynamo] = await Promise.all([startLatencyS3(delays.s3), startLatencyDynamoDb(delays.dynamodb)]);
  } catch (err) {
    await send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    await shutdown(1);
    return;
  }
  process.on('message', onMessage);
  await send({ type: 'ready', s3Endpoint: s3.endpoint, dynamoEndpoint: dynamo.endpoint });
}

main().catch((err: unknown) => {
  console.error('latency-model-server:', err);
  void shutdown(1);
});
