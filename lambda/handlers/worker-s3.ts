/**
 * The worker's S3 side: the sink, its direct PutObject and the SDK client. The handler
 * imports this module when a run first stores a message (or reads one back to re-send its
 * event): most scheduled runs find nothing new and never load it. The S3 SDK itself is
 * loaded later still, by the first request the direct path does not take (a large message,
 * a read, a refusal), or at once where the environment does not say where S3 is.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { DirectPutObject } from '../storage/direct-put-object';
import { directPutObjectFromEnvironment } from '../storage/environment-s3-target';
import { MAX_UPLOADS_IN_FLIGHT } from '../sync/run-session';

export { S3MessageSink } from '../storage/s3-message-sink';

/** The container's client, once made: its clock-skew correction serves the direct requests too. */
let made: S3Client | undefined;
let direct: DirectPutObject | null | undefined;

/** The container's S3 client, from the environment (region and credentials). */
export async function workerS3Client(): Promise<S3Client> {
  const { S3Client } = await import('../storage/s3-sdk');
  // cacheMiddleware: resolve each command's middleware stack once, not on every request
  // (the saving is measured in docs/benchmarks.md). Safe here: nothing adds middleware to
  // this client after it is created.
  // As many kept-alive sockets as one mailbox keeps uploads in flight (the SDK's default is 50).
  made = new S3Client({ cacheMiddleware: true, requestHandler: { httpsAgent: { keepAlive: true, maxSockets: MAX_UPLOADS_IN_FLIGHT } } });
  return made;
}

/**
 * The container's direct PutObject, to the S3 the environment names (its sockets serve every
 * run); undefined where only the SDK's endpoint rules can tell (the sink then takes the
 * endpoint from the client).
 */
export function workerDirectPutObject(env: NodeJS.ProcessEnv = process.env): DirectPutObject | undefined {
  if (direct === undefined) direct = directPutObjectFromEnvironment(env, { clockOffsetMs: () => made?.config.systemClockOffset ?? 0 }) ?? null;
  return direct ?? undefined;
}
