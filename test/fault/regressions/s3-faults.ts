/**
 * S3 clients for the worker's sink with a fault built in, as SDK middleware (the way
 * test/fault/aws-faults.ts hooks them): one PutObject that fails once, or every PutObject
 * slowed down. The middleware sits at the `initialize` step, outside the SDK's retry loop,
 * so one injected failure reaches the sink as one failed store.
 */
import type { S3Client } from '@aws-sdk/client-s3';
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
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: string }).Key ?? '';
      const put = context.commandName === 'PutObjectCommand';
      if (put && shouldFail(key) && !failedOnce.has(key)) {
        failedOnce.add(key);
        out.failures++;
        throw internalError();
      }
      const result = await next(args);
      if (put) out.stored.add(key);
      return result;
    },
    { step: 'initialize', name: 'failFirstPutOf' },
  );
  return out;
}

/** Every PutObject takes `delayMs` longer (a slow or distant S3). */
export function slowPuts(endpoint: string, delayMs: number): S3Client {
  const client = createLocalS3Client(endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') await new Promise((resolve) => setTimeout(resolve, delayMs));
      return next(args);
    },
    { step: 'initialize', name: 'slowPuts' },
  );
  return client;
}
