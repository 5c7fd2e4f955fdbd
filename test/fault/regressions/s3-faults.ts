/**
 * S3 clients for the worker's sink with a fault built in, as SDK middleware (the way
 * test/fault/aws-faults.ts hooks them): one PutObject that fails once, or every PutObject
 * slowed down. The middleware sits at the `initialize` step, outside the SDK's retry loop,
 * so one injected failure reaches the sink as one failed store.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { hookRequests } from '../../fixtures/request-hooks';
import { createLocalS3Client } from '../../fixtures/s3rver-process';

/** The shape of the SDK's own 500 (retryable: the sink reports UPLOAD_FAILED, retryable). */
function internalError(): Error {
  return Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500 } });
}

export interface FailingPuts {
  readonly client: S3Client;
  /** Keys whose PutObject succeeded, as they succeed (synchronously visible to onCommit). */
  readonly stored: Set<string>;
  /** PutObjects failed so far. */
  failures: number;
}

/** PutObject of a key for which `shouldFail(key)` is true the first time fails once with a 500. */
export function failFirstPutOf(endpoint: string, shouldFail: (key: string) => boolean): FailingPuts {
  const client = createLocalS3Client(endpoint);
  const failedOnce = new Set<string>();
  const out: FailingPuts = { client, stored: new Set(), failures: 0 };
  // A direct PutObject fails too (unrecorded), so the SDK's attempt that follows is the one failure.
  hookRequests(
    client,
    {
      name: 'failFirstPutOf',
      step: 'initialize',
      before: ({ operation, input, via }) => {
        const key = String(input.Key ?? '');
        if (operation !== 'PutObject' || !shouldFail(key) || failedOnce.has(key)) return;
        if (via === 'direct') throw internalError();
        failedOnce.add(key);
        out.failures++;
        throw internalError();
      },
      after: ({ operation, input }) => {
        if (operation === 'PutObject') out.stored.add(String(input.Key ?? ''));
      },
    },
    's3',
  );
  return out;
}

/** Every PutObject takes `delayMs` longer (a slow or distant S3). */
export function slowPuts(endpoint: string, delayMs: number): S3Client {
  const client = createLocalS3Client(endpoint);
  hookRequests(
    client,
    {
      name: 'slowPuts',
      step: 'initialize',
      before: async ({ operation }) => {
        if (operation === 'PutObject') await new Promise((resolve) => setTimeout(resolve, delayMs));
      },
    },
    's3',
  );
  return client;
}
