/**
 * A measured sweep reduced to figures per mailbox check: what the cost model multiplies.
 */
import type { SweepMeasure } from './fleet-sweep';
import type { MeterSnapshot } from './request-meter';

export interface PerCheck {
  readonly checks: number;
  readonly wallSeconds: number;
  readonly checksPerSecond: number;
  /** DynamoDB requests of the worker per check, by operation. */
  readonly dynamoRequests: Readonly<Record<string, number>>;
  readonly readUnits: number;
  /** Of readUnits: counted for Queries that found nothing (DynamoDB Local reports none for them). */
  readonly estimatedReadUnits: number;
  readonly writeUnits: number;
  /** Of writeUnits: counted for failed conditional writes (DynamoDB Local reports none for them). */
  readonly estimatedWriteUnits: number;
  readonly s3Requests: Readonly<Record<string, number>>;
  /** SQS requests per check: sends by the dispatcher, receives that returned a message, deletes, re-sends. */
  readonly sqsRequests: Readonly<Record<string, number>>;
  readonly kmsRequests: number;
  /** EventBridge PutEvents per check: requests (up to 10 events each) and `Mail Stored` events. */
  readonly putEvents: { readonly requests: number; readonly events: number };
  readonly invocations: number;
  readonly mailboxesPerInvocation: number;
  /** Handler wall time per check, ms (invocation time / its mailboxes): what Lambda bills, against local endpoints. */
  readonly handlerMs: number;
  /** CPU of the whole process per check, ms: worker and dispatcher, plus the in-process POP3, SQS and KMS fakes (an upper bound). */
  readonly cpuMs: number;
  readonly pop3Sessions: number;
  /** POP3 command lines per check (pipelined ones share a round trip: an upper bound of round trips after the greeting). */
  readonly pop3Commands: number;
  /** Bytes the worker wrote to stdout per check, by kind. */
  readonly logBytes: { readonly summary: number; readonly emf: number; readonly other: number; readonly total: number };
  readonly logLines: number;
}

export interface PerTick {
  /** The dispatcher's DynamoDB requests and units in one tick (the registry Query and its cursor). */
  readonly dynamoRequests: Readonly<Record<string, number>>;
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly sendMessageBatch: number;
  readonly queueMessages: number;
  readonly logBytes: number;
  readonly seconds: number;
}

export function perCheck(s: SweepMeasure): PerCheck {
  const n = Math.max(1, s.runs.length);
  const per = (x: number): number => x / n;
  const { summary, emf, other } = s.logs;
  return {
    checks: s.runs.length,
    wallSeconds: s.wallMs / 1000,
    checksPerSecond: s.runs.length / (s.wallMs / 1000),
    dynamoRequests: perOperation(s.workerDynamo, n),
    readUnits: per(s.workerDynamo.readUnits),
    estimatedReadUnits: per(s.workerDynamo.estimatedReadUnits),
    writeUnits: per(s.workerDynamo.writeUnits),
    estimatedWriteUnits: per(s.workerDynamo.estimatedWriteUnits),
    s3Requests: perOperation(s.workerS3, n),
    sqsRequests: {
      SendMessageBatch: per(s.sqs.SendMessageBatch ?? 0),
      // The local pollers also poll empty queues without waiting: Lambda long-polls (docs/cost.md).
      ReceiveMessage: per(s.invocations),
      DeleteMessageBatch: per(s.sqs.DeleteMessageBatch ?? 0),
      SendMessage: per(s.sqs.SendMessage ?? 0),
    },
    kmsRequests: per(s.kms),
    putEvents: { requests: per(s.putEvents.requests), events: per(s.putEvents.events) },
    invocations: per(s.invocations),
    mailboxesPerInvocation: s.runs.length / Math.max(1, s.invocations),
    handlerMs: per(s.handlerMs),
    cpuMs: per(s.processCpuMs),
    pop3Sessions: per(s.pop3Sessions),
    pop3Commands: per(s.pop3Commands),
    logBytes: { summary: per(summary.bytes), emf: per(emf.bytes), other: per(other.bytes), total: per(summary.bytes + emf.bytes + other.bytes) },
    logLines: per(summary.lines + emf.lines + other.lines),
  };
}

export function perTick(s: SweepMeasure): PerTick {
  return {
    dynamoRequests: perOperation(s.dispatcherDynamo, 1),
    readUnits: s.dispatcherDynamo.readUnits,
    writeUnits: s.dispatcherDynamo.writeUnits,
    sendMessageBatch: s.sqs.SendMessageBatch ?? 0,
    queueMessages: s.queueMessages,
    logBytes: s.logs.dispatcher.bytes,
    seconds: s.dispatchMs / 1000,
  };
}

function perOperation(m: MeterSnapshot, n: number): Record<string, number> {
  return Object.fromEntries(Object.entries(m.byOperation).map(([op, t]) => [op, t.calls / n]));
}
