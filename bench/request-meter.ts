/**
 * Counts what a client asks of an AWS service, for the fleet simulation: calls per
 * operation and, for DynamoDB, the capacity units DynamoDB reports. A middleware asks every
 * DynamoDB call for `ReturnConsumedCapacity: TOTAL` (DynamoDB Local computes it from item
 * sizes as DynamoDB does) and adds up what comes back. A conditional write whose condition
 * fails returns no figure; DynamoDB bills it at least one write unit, which is what is
 * counted (`estimatedWriteUnits` says how many units were counted that way). Likewise a
 * Query or Scan that finds nothing: DynamoDB Local reports 0 units, DynamoDB bills a read
 * of nothing as half a unit (eventually consistent) or one (strongly consistent), which is
 * what is counted (`estimatedReadUnits`).
 *
 * Counted once per call (the `initialize` step runs before the SDK's retries): against
 * local endpoints retries do not happen in practice.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { directDynamoDbFor } from '../lambda/state/routed-dynamodb-api';
import { directPutObjectFor } from '../lambda/storage/direct-put-object';

/** The part of an AWS SDK v3 client the meter needs. */
interface MeterableClient {
  readonly middlewareStack: {
    add(middleware: (next: Next, context: { commandName?: string }) => Next, options: { step: 'initialize'; name: string; override: boolean }): void;
  };
}
type Next = (args: { input: object }) => Promise<{ output: object }>;

export interface OperationTally {
  calls: number;
  readUnits: number;
  writeUnits: number;
}

export interface MeterSnapshot {
  readonly byOperation: Readonly<Record<string, OperationTally>>;
  readonly calls: number;
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Write units counted for failed conditional writes (one each), not reported by DynamoDB. */
  readonly estimatedWriteUnits: number;
  /** Read units counted for Queries and Scans that found nothing (reported as 0 by DynamoDB Local). */
  readonly estimatedReadUnits: number;
}

/** The operations that take ReturnConsumedCapacity. */
const CAPACITY_OPERATIONS: ReadonlySet<string> = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
]);
const READ_OPERATIONS: ReadonlySet<string> = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);
/** A read of nothing still costs this (DynamoDB developer guide, "DynamoDB read and write operations"). */
const EMPTY_READ_UNITS = { eventual: 0.5, strong: 1 } as const;
const EMPTY_READ_OPERATIONS: ReadonlySet<string> = new Set(['Query', 'Scan']);

interface ReportedCapacity {
  readonly CapacityUnits?: number;
  readonly ReadCapacityUnits?: number;
  readonly WriteCapacityUnits?: number;
}

export class RequestMeter {
  private tallies = new Map<string, OperationTally>();
  private estimated = 0;
  private estimatedReads = 0;

  /** Meters `client` (any AWS SDK v3 client); `dynamodb` also asks for and counts capacity. */
  attach(client: MeterableClient, options: { dynamodb?: boolean } = {}): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const operation = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
        const tally = this.tally(operation);
        tally.calls++;
        const capacity = options.dynamodb === true && CAPACITY_OPERATIONS.has(operation);
        if (capacity) (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity ??= 'TOTAL';
        try {
          const result = await next(args);
          if (capacity) {
            const readBefore = tally.readUnits;
            this.addCapacity(operation, tally, (result.output as { ConsumedCapacity?: ReportedCapacity | ReportedCapacity[] }).ConsumedCapacity);
            if (EMPTY_READ_OPERATIONS.has(operation) && tally.readUnits === readBefore) {
              const units = (args.input as { ConsistentRead?: boolean }).ConsistentRead === true ? EMPTY_READ_UNITS.strong : EMPTY_READ_UNITS.eventual;
              tally.readUnits += units;
              this.estimatedReads += units;
            }
          }
          return result;
        } catch (err) {
          if (capacity && (err as Error).name === 'ConditionalCheckFailedException') {
            tally.writeUnits += 1;
            this.estimated += 1;
          }
          throw err;
        }
      },
      { step: 'initialize', name: 'fleetSimRequestMeter', override: true },
    );
    if (options.dynamodb === true) this.attachDirectDynamoDb(client as unknown as DynamoDBClient);
  }

  /** The stores' direct DynamoDB requests of the client, which bypass the SDK, counted as the middleware counts. */
  private attachDirectDynamoDb(client: DynamoDBClient): void {
    directDynamoDbFor(client).direct.intercept(async (request, send) => {
      const tally = this.tally(request.operation);
      tally.calls++;
      const input: Record<string, unknown> = { ...request.input, ReturnConsumedCapacity: request.input.ReturnConsumedCapacity ?? 'TOTAL' };
      const response = await send({ ...request, input });
      if (response.statusCode === 200 && response.output) {
        const readBefore = tally.readUnits;
        this.addCapacity(request.operation, tally, response.output.ConsumedCapacity as ReportedCapacity | ReportedCapacity[] | undefined);
        if (EMPTY_READ_OPERATIONS.has(request.operation) && tally.readUnits === readBefore) {
          const units = input.ConsistentRead === true ? EMPTY_READ_UNITS.strong : EMPTY_READ_UNITS.eventual;
          tally.readUnits += units;
          this.estimatedReads += units;
        }
      } else if (response.errorType === 'ConditionalCheckFailedException') {
        tally.writeUnits += 1;
        this.estimated += 1;
      }
      return response;
    });
  }

  /** Meters an S3 client: its SDK calls and the sink's direct PutObjects, which bypass the SDK. */
  attachS3(client: S3Client): void {
    this.attach(client as unknown as MeterableClient);
    directPutObjectFor(client).intercept((request, send) => {
      this.tally(request.operation).calls++;
      return send();
    });
  }

  snapshot(): MeterSnapshot {
    const byOperation: Record<string, OperationTally> = {};
    let calls = 0;
    let readUnits = 0;
    let writeUnits = 0;
    for (const [operation, t] of [...this.tallies].sort(([a], [b]) => a.localeCompare(b))) {
      byOperation[operation] = { ...t };
      calls += t.calls;
      readUnits += t.readUnits;
      writeUnits += t.writeUnits;
    }
    return { byOperation, calls, readUnits, writeUnits, estimatedWriteUnits: this.estimated, estimatedReadUnits: this.estimatedReads };
  }

  reset(): void {
    this.tallies = new Map();
    this.estimated = 0;
    this.estimatedReads = 0;
  }

  private tally(operation: string): OperationTally {
    let t = this.tallies.get(operation);
    if (t === undefined) {
      t = { calls: 0, readUnits: 0, writeUnits: 0 };
      this.tallies.set(operation, t);
    }
    return t;
  }

  private addCapacity(operation: string, tally: OperationTally, reported: ReportedCapacity | ReportedCapacity[] | undefined): void {
    for (const c of reported === undefined ? [] : Array.isArray(reported) ? reported : [reported]) {
      if (c.ReadCapacityUnits !== undefined || c.WriteCapacityUnits !== undefined) {
        tally.readUnits += c.ReadCapacityUnits ?? 0;
        tally.writeUnits += c.WriteCapacityUnits ?? 0;
      } else if (READ_OPERATIONS.has(operation)) {
        tally.readUnits += c.CapacityUnits ?? 0;
      } else {
        tally.writeUnits += c.CapacityUnits ?? 0;
      }
    }
  }
}

/** The difference `after - before`, per operation (a sweep's share of a meter's totals). */
export function meterDelta(before: MeterSnapshot, after: MeterSnapshot): MeterSnapshot {
  const byOperation: Record<string, OperationTally> = {};
  for (const [operation, t] of Object.entries(after.byOperation)) {
    const b = before.byOperation[operation] ?? { calls: 0, readUnits: 0, writeUnits: 0 };
    const d = { calls: t.calls - b.calls, readUnits: t.readUnits - b.readUnits, writeUnits: t.writeUnits - b.writeUnits };
    if (d.calls > 0) byOperation[operation] = d;
  }
  return {
    byOperation,
    calls: after.calls - before.calls,
    readUnits: after.readUnits - before.readUnits,
    writeUnits: after.writeUnits - before.writeUnits,
    estimatedWriteUnits: after.estimatedWriteUnits - before.estimatedWriteUnits,
    estimatedReadUnits: after.estimatedReadUnits - before.estimatedReadUnits,
  };
}
