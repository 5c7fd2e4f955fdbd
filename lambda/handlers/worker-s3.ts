/**
 * The worker's S3 side: the client and the sink. The handler imports this module when a run
 * first stores a message (or reads one back to re-send its event): most scheduled runs find
 * nothing new and never load it, and the Lambda bundle keeps it, with the S3 SDK, in a chunk
 * of its own that a cold start does not parse.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { MAX_UPLOADS_IN_FLIGHT } from '../sync/run-session';

export { S3MessageSink } from '../storage/s3-message-sink';

/** The container's S3 client, from the environment (region and credentials). */
export function workerS3Client(): S3Client {
  // cacheMiddleware: resolve each command's middleware stack once, not on every request
  // (two requests per stored message; the saving is measured in docs/benchmarks.md).
  // Safe here: nothing adds middleware to this client after it is created.
  // As many kept-alive sockets as one mailbox keeps uploads in flight (the SDK's default is 50).
  return new S3Client({ cacheMiddleware: true, requestHandler: { httpsAgent: { keepAlive: true, maxSockets: MAX_UPLOADS_IN_FLIGHT } } });
}
