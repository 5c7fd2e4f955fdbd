/**
 * What the AWS latency model delays, and by how much. The defaults are round figures for
 * a Lambda talking to S3 and DynamoDB in the same region: a small S3 write takes tens of
 * milliseconds, a DynamoDB write single-digit milliseconds, a DynamoDB read a little less.
 * Operations not listed answer at once (bucket and table set-up, the bench's own counting).
 */

/** The S3 operations the model answers. */
export const S3_OPERATIONS = [
  'CreateBucket',
  'HeadBucket',
  'DeleteBucket',
  'PutObject',
  'HeadObject',
  'DeleteObject',
  'ListObjectsV2',
  'CreateMultipartUpload',
  'UploadPart',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
] as const;
export type S3Operation = (typeof S3_OPERATIONS)[number];

/** The DynamoDB operations the model answers. */
export const DYNAMODB_OPERATIONS = [
  'CreateTable',
  'DescribeTable',
  'DeleteTable',
  'ListTables',
  'DescribeTimeToLive',
  'UpdateTimeToLive',
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactWriteItems',
] as const;
export type DynamoDbOperation = (typeof DYNAMODB_OPERATIONS)[number];

/** An S3 PUT-class request (PutObject, UploadPart, and the two multipart POSTs). */
export const S3_WRITE_LATENCY_MS = 20;
/** A DynamoDB write: PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems. */
export const DYNAMODB_WRITE_LATENCY_MS = 8;
/** A DynamoDB read: GetItem, Query, BatchGetItem. */
export const DYNAMODB_READ_LATENCY_MS = 5;

export const DEFAULT_S3_DELAYS_MS: Readonly<Partial<Record<S3Operation, number>>> = {
  PutObject: S3_WRITE_LATENCY_MS,
  UploadPart: S3_WRITE_LATENCY_MS,
  CompleteMultipartUpload: S3_WRITE_LATENCY_MS,
  // Not in the brief's list, but a PUT-class request with a write's latency on S3.
  CreateMultipartUpload: S3_WRITE_LATENCY_MS,
};

export const DEFAULT_DYNAMODB_DELAYS_MS: Readonly<Partial<Record<DynamoDbOperation, number>>> = {
  PutItem: DYNAMODB_WRITE_LATENCY_MS,
  UpdateItem: DYNAMODB_WRITE_LATENCY_MS,
  DeleteItem: DYNAMODB_WRITE_LATENCY_MS,
  BatchWriteItem: DYNAMODB_WRITE_LATENCY_MS,
  TransactWriteItems: DYNAMODB_WRITE_LATENCY_MS,
  GetItem: DYNAMODB_READ_LATENCY_MS,
  Query: DYNAMODB_READ_LATENCY_MS,
  BatchGetItem: DYNAMODB_READ_LATENCY_MS,
};

export interface LatencyModelOptions {
  /**
   * Delay per S3 operation, ms, from the end of the request body to the response; merged
   * over the defaults (an operation set to 0 answers at once).
   * @default 20 ms for PutObject, UploadPart, CreateMultipartUpload, CompleteMultipartUpload
   */
  readonly s3DelaysMs?: Partial<Record<S3Operation, number>>;
  /**
   * Delay per DynamoDB operation, ms; merged over the defaults.
   * @default 8 ms per write (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems), 5 ms per read (GetItem, Query, BatchGetItem)
   */
  readonly dynamoDbDelaysMs?: Partial<Record<DynamoDbOperation, number>>;
}

export interface ResolvedDelays {
  readonly s3: Readonly<Partial<Record<S3Operation, number>>>;
  readonly dynamodb: Readonly<Partial<Record<DynamoDbOperation, number>>>;
}

/** The defaults with the options applied; every problem reported at once. */
export function resolveDelays(options: LatencyModelOptions = {}): ResolvedDelays {
  const s3 = { ...DEFAULT_S3_DELAYS_MS, ...options.s3DelaysMs };
  const dynamodb = { ...DEFAULT_DYNAMODB_DELAYS_MS, ...options.dynamoDbDelaysMs };
  const problems = [...Object.entries(s3), ...Object.entries(dynamodb)]
    .filter(([, ms]) => !(Number.isFinite(ms) && ms >= 0))
    .map(([op, ms]) => `${op}: ${String(ms)}`);
  if (problems.length > 0) throw new Error(`latency model: delays must be finite and >= 0 ms (${problems.join(', ')})`);
  return { s3, dynamodb };
}
