/**
 * SDK middleware for the worker's S3 and DynamoDB clients in one sequence:
 *
 * - planned faults: the nth request (attempt) of a run to a service fails, before it is
 *   sent or after it took effect (its response lost), shaped like the SDK's own errors;
 * - mirrors of what took effect, updated the moment a response arrives (even one the
 *   caller then sees fail): object key -> SHA-256 of its bytes, and stored records. The
 *   fake server's onCommit is synchronous, so it checks against these mirrors.
 */
import { createHash } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { hookRequests } from '../../fixtures/request-hooks';
import type { Fault } from './types';

export type AwsFault = Extract<Fault, { kind: 'aws' }>;
type Service = AwsFault['service'];

const ERRORS: Record<Service, () => Error> = {
  s3: () => Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500 } }),
  dynamodb: () => Object.assign(new Error('Internal server error'), { name: 'InternalServerError', $fault: 'server', $metadata: { httpStatusCode: 500 } }),
};

export function sha256(data: Buffer | Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export class AwsPlan {
  /** Object key -> SHA-256 of the bytes S3 holds under it (as far as responses tell). */
  readonly objects = new Map<string, string>();
  /** Record identity -> SHA-256 of a `stored` record that DynamoDB accepted. */
  readonly records = new Map<string, string>();
  /** Faults that fired, by label (e.g. `aws-s3-after`). */
  readonly fired: string[] = [];
  private faults: AwsFault[] = [];
  private readonly counts: Record<Service, number> = { s3: 0, dynamodb: 0 };

  /** Faults for the next run; counting starts over. */
  startRun(faults: readonly AwsFault[]): void {
    this.faults = [...faults];
    this.counts.s3 = 0;
    this.counts.dynamodb = 0;
  }

  endRun(): void {
    this.faults = [];
  }

  /** SHA-256 digests of every object, per the mirror. */
  storedDigests(): Set<string> {
    return new Set(this.objects.values());
  }

  recordedDigests(): Set<string> {
    return new Set(this.records.values());
  }

  install(client: S3Client | DynamoDBClient, service: Service): void {
    const planned = new WeakMap<object, AwsFault | undefined>();
    hookRequests(
      client,
      {
        name: `mailfetchModelPlan-${service}`,
        before: (request) => {
          const n = ++this.counts[service];
          const fault = this.faults.find((f) => f.service === service && f.nth === n);
          if (fault?.when === 'before') throw this.fire(fault, request.operation);
          planned.set(request, fault);
        },
        after: (request, output) => {
          this.mirror(service, request.operation, request.input, output);
          const fault = planned.get(request);
          if (fault?.when === 'after') throw this.fire(fault, request.operation);
        },
      },
      service,
    );
  }

  private fire(fault: AwsFault, operation: string): Error {
    this.fired.push(`aws-${fault.service}-${fault.when}:${operation}`);
    return ERRORS[fault.service]();
  }

  /** The request took effect: note what it stored. */
  private mirror(service: Service, operation: string, input: Record<string, unknown>, output: Record<string, unknown>): void {
    if (service === 's3' && operation === 'PutObject') {
      const body = input.Body;
      if (!(body instanceof Uint8Array) && typeof body !== 'string') throw new Error(`model: PutObject with a streamed body (${typeof body}); the mirror needs the bytes`);
      this.objects.set(String(input.Key), sha256(body));
    }
    if (service === 'dynamodb' && operation === 'PutItem') this.mirrorItem(input.Item as StoredItem | undefined);
    if (service === 'dynamodb' && operation === 'BatchWriteItem') {
      // What came back unprocessed did not take effect.
      const unprocessed = new Set(Object.values((output.UnprocessedItems ?? {}) as Record<string, BatchRequest[]>).flat().map((r) => JSON.stringify(r)));
      for (const request of Object.values(input.RequestItems as Record<string, BatchRequest[]>).flat()) {
        if (!unprocessed.has(JSON.stringify(request))) this.mirrorItem(request.PutRequest?.Item);
      }
    }
  }

  private mirrorItem(item: StoredItem | undefined): void {
    if (item?.status?.S === 'stored' && item.sha256?.S && item.identity?.S) this.records.set(item.identity.S, item.sha256.S);
  }
}

type StoredItem = Record<string, { S?: string }>;
interface BatchRequest {
  readonly PutRequest?: { readonly Item?: StoredItem };
}
