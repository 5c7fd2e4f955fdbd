/**
 * The DynamoDB requests of a run, as one port: an operation's name, the input its SDK
 * command takes and the output it returns. The stores (state, outbox, registry, host slots,
 * data keys) send through it, so which way a request goes is decided in one place:
 *
 * - `sdkDynamoDbApi` (sdk-dynamodb-api.ts): the AWS SDK, its module loaded by the first request;
 * - `routedDynamoDbApi` (routed-dynamodb-api.ts): signed here and sent over kept-alive
 *   sockets (direct-dynamodb.ts), the SDK behind it for everything that path does not take.
 *
 * Only types come from the SDK here: a store that imports this port loads none of its code.
 */
import type {
  BatchGetItemCommandInput,
  BatchGetItemCommandOutput,
  BatchWriteItemCommandInput,
  BatchWriteItemCommandOutput,
  DeleteItemCommandInput,
  DeleteItemCommandOutput,
  DynamoDBClient,
  GetItemCommandInput,
  GetItemCommandOutput,
  PutItemCommandInput,
  PutItemCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  UpdateItemCommandInput,
  UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';

export interface DynamoDbOperations {
  readonly BatchGetItem: { readonly input: BatchGetItemCommandInput; readonly output: BatchGetItemCommandOutput };
  readonly BatchWriteItem: { readonly input: BatchWriteItemCommandInput; readonly output: BatchWriteItemCommandOutput };
  readonly DeleteItem: { readonly input: DeleteItemCommandInput; readonly output: DeleteItemCommandOutput };
  readonly GetItem: { readonly input: GetItemCommandInput; readonly output: GetItemCommandOutput };
  readonly PutItem: { readonly input: PutItemCommandInput; readonly output: PutItemCommandOutput };
  readonly Query: { readonly input: QueryCommandInput; readonly output: QueryCommandOutput };
  readonly UpdateItem: { readonly input: UpdateItemCommandInput; readonly output: UpdateItemCommandOutput };
}

export type DynamoDbOperation = keyof DynamoDbOperations;
export type DynamoDbInput<O extends DynamoDbOperation> = DynamoDbOperations[O]['input'];
export type DynamoDbOutput<O extends DynamoDbOperation> = DynamoDbOperations[O]['output'];

export interface DynamoDbSendOptions {
  /** Once aborted, nothing more is sent and a request in flight is given up. */
  readonly abortSignal?: AbortSignal | undefined;
}

export interface DynamoDbApi {
  /**
   * Sends one request. Rejects as the SDK does: a service error is named after DynamoDB's
   * error type (`ConditionalCheckFailedException`), carries `$fault` and `$metadata`.
   */
  send<O extends DynamoDbOperation>(operation: O, input: DynamoDbInput<O>, options?: DynamoDbSendOptions): Promise<DynamoDbOutput<O>>;
}

/** What the stores take: the port, or an SDK client (then sent through the SDK). */
export type DynamoDbTarget = DynamoDbApi | DynamoDBClient;

/** Whether `target` is an SDK client rather than the port. */
export function isSdkClient(target: DynamoDbTarget): target is DynamoDBClient {
  return 'middlewareStack' in target && 'config' in target;
}
