/**
 * Seeded S3 and DynamoDB failures, injected as SDK client middleware on real clients
 * pointed at s3rver / DynamoDB Local. Each HTTP attempt (the middleware sits inside the
 * SDK's retry loop, like countS3Requests) fails with probability `rate`, either
 *
 * - before it is sent: the server never sees it; or
 * - after it was sent and answered: the request TOOK EFFECT but the caller sees an error,
 *   as when a response is lost on the way back. This is what idempotency must survive: a
 *   retried PutItem then meets its own earlier write.
 *
 * The errors are shaped like the SDK's own (name, $fault, $metadata.httpStatusCode, or a
 * socket error code), so the SDK's retry strategy and our classifiers treat them as real.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import { hookRequests } from '../fixtures/request-hooks';
import type { Prng } from './prng';

/**
 * Clients for the worker under test: the settings of createLocalS3Client /
 * createLocalDynamoDbClient, plus `maxAttempts` (low, so that faults surface).
 */
export function workerClients(config: { s3Endpoint: string; dynamoEndpoint: string; maxAttempts: { s3: number; dynamodb: number } }): { s3: S3Client; dynamodb: DynamoDBClient } {
  const s3 = new S3Client({
    endpoint: config.s3Endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: config.maxAttempts.s3,
  });
  const dynamodb = new DynamoDBClient({ endpoint: config.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: config.maxAttempts.dynamodb });
  return { s3, dynamodb };
}

export type Service = 's3' | 'dynamodb';

export interface InjectedFault {
  readonly service: Service;
  readonly operation: string;
  readonly when: 'before' | 'after';
  readonly error: string;
  readonly at: number;
}

export interface AwsFaultOptions {
  readonly prng: Prng;
  /** Probability that one attempt fails. */
  readonly rate: number;
  /** Share of failures injected after the request took effect. @default 0.5 */
  readonly afterShare?: number;
  /** Operations never failed (e.g. the lease, to keep a scenario moving). @default none */
  readonly spare?: readonly string[];
}

type ErrorFactory = () => Error;

const serviceError = (name: string, status: number, message: string, fault: 'server' | 'client'): ErrorFactory => () =>
  Object.assign(new Error(message), { name, $fault: fault, $metadata: { httpStatusCode: status } });

const socketError = (code: string, message: string): ErrorFactory => () => Object.assign(new Error(message), { code });

const ERRORS: Record<Service, readonly (readonly [string, ErrorFactory])[]> = {
  s3: [
    ['InternalError 500', serviceError('InternalError', 500, 'We encountered an internal error. Please try again.', 'server')],
    ['SlowDown 503', serviceError('SlowDown', 503, 'Please reduce your request rate.', 'server')],
    ['ServiceUnavailable 503', serviceError('ServiceUnavailable', 503, 'Service is unable to handle request.', 'server')],
    ['ECONNRESET', socketError('ECONNRESET', 'socket hang up')],
    ['EPIPE', socketError('EPIPE', 'write EPIPE')],
  ],
  dynamodb: [
    ['InternalServerError 500', serviceError('InternalServerError', 500, 'Internal server error', 'server')],
    ['ThrottlingException 400', serviceError('ThrottlingException', 400, 'Rate of requests exceeds the allowed throughput.', 'client')],
    [
      'ProvisionedThroughputExceededException 400',
      serviceError('ProvisionedThroughputExceededException', 400, 'The level of configured provisioned throughput for the table was exceeded.', 'client'),
    ],
    ['ServiceUnavailable 503', serviceError('ServiceUnavailable', 503, 'Service unavailable', 'server')],
    ['ECONNRESET', socketError('ECONNRESET', 'socket hang up')],
  ],
};

/** Fault injection for a set of clients; `enabled` can be switched off for clean recovery runs. */
export class AwsFaults {
  readonly injected: InjectedFault[] = [];
  enabled = true;
  /** Probability that one attempt fails; may be changed between runs. */
  rate: number;
  private readonly afterShare: number;
  private readonly spare: ReadonlySet<string>;

  constructor(private readonly options: AwsFaultOptions) {
    this.afterShare = options.afterShare ?? 0.5;
    this.rate = options.rate;
    this.spare = new Set(options.spare ?? []);
  }

  /** Faults injected into one operation (e.g. `AbortMultipartUpload`), optionally of one kind. */
  count(operation: string, when?: 'before' | 'after'): number {
    return this.injected.filter((f) => f.operation === operation && (when === undefined || f.when === when)).length;
  }

  install(client: S3Client | DynamoDBClient, service: Service): void {
    const decisions = new WeakMap<object, ReturnType<AwsFaults['decide']>>();
    hookRequests(
      client,
      {
        name: `mailfetchFaults-${service}`,
        before: (request) => {
          const decision = this.decide(service, request.operation);
          if (decision?.when === 'before') throw this.record(service, request.operation, decision);
          decisions.set(request, decision);
        },
        after: (request) => {
          const decision = decisions.get(request);
          if (decision?.when === 'after') throw this.record(service, request.operation, decision);
        },
      },
      service,
    );
  }

  private decide(service: Service, operation: string): { when: 'before' | 'after'; error: readonly [string, ErrorFactory] } | undefined {
    if (!this.enabled || this.spare.has(operation)) return undefined;
    const prng = this.options.prng;
    if (!prng.chance(this.rate)) return undefined;
    return { when: prng.chance(this.afterShare) ? 'after' : 'before', error: prng.pick(ERRORS[service]) };
  }

  private record(service: Service, operation: string, d: { when: 'before' | 'after'; error: readonly [string, ErrorFactory] }): Error {
    this.injected.push({ service, operation, when: d.when, error: d.error[0], at: Date.now() });
    return d.error[1]();
  }
}
