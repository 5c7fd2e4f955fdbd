/**
 * DynamoDB requests signed here and sent over kept-alive sockets: every request a run makes
 * (lease, summary, record reads, the batched record writes). Through the SDK a request costs
 * its middleware, schema serialisation and HTTP client; loading the SDK's module costs about
 * 100 ms of CPU per process. DynamoDB's protocol is JSON whose shape is the SDK command's
 * input and output, so here the body is `JSON.stringify(input)` and the answer `JSON.parse`.
 *
 * A fast path, never the only one. Anything but a 200 whose body is an answer of the request's
 * shape is "not done here": the caller sends the same request through the SDK, whose retries
 * and typed errors apply as before. (An update that counts is not sent again once it may
 * have reached DynamoDB: see `countsOnce`.) Two exceptions keep the SDK out of ordinary runs: a
 * ConditionalCheckFailedException (a lease held by another run, a record already stored)
 * is DynamoDB's answer about the data, and becomes the same error the SDK would throw.
 * A request with binary attributes (a new data key's ciphertext) goes through the SDK; binary
 * values in an answer are decoded here, as the SDK decodes them.
 *
 * Where requests go (endpoint, signing region, credentials) comes from a {@link DirectDynamoDbTarget}:
 * an SDK client's configuration (sdk-client-target.ts) or the environment (environment-target.ts).
 */
import { hash } from 'node:crypto';
import { DirectPath, TargetCache, type Interceptor } from '../aws-direct/direct-path';
import { signedRequestHead, type SigningCredentials } from '../aws-direct/sigv4';
import type { DynamoDbInput, DynamoDbOperation } from './dynamodb-api';

/** A request that made no progress for this long is given up (and goes through the SDK). */
export const DIRECT_DYNAMODB_IDLE_TIMEOUT_MS = 10_000;
/** Kept-alive sockets per target: the state store keeps at most 16 updates in flight. */
const DIRECT_DYNAMODB_MAX_SOCKETS = 16;
/** A Query page holds at most 1 MB of items, a little more as JSON; a longer answer goes through the SDK. */
export const DIRECT_DYNAMODB_MAX_ANSWER_OCTETS = 4 * 1024 * 1024;
const TARGET_PREFIX = 'DynamoDB_20120810.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';
/** DynamoDB's error types that say nothing against this request's form (see `outcome`). */
const TRANSIENT_ERROR_TYPES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'InternalServerError',
  'ServiceUnavailable',
  'ExpiredTokenException',
  'InvalidSignatureException',
  'TransactionInProgressException',
]);
/** Errors that answer the request (about the data, not about how it was sent): the caller gets them as the SDK would throw them. */
const ANSWER_ERROR_TYPES = new Set(['ConditionalCheckFailedException']);

/** Where a table's requests go. */
export interface DirectDynamoDbTarget {
  readonly url: URL;
  readonly region: string;
  credentials(): Promise<SigningCredentials>;
  /** Milliseconds to add to the local clock when signing (the SDK's clock-skew correction). */
  clockOffsetMs(): number;
}

/** Resolves where `tableName`'s requests go; undefined: not this way (the SDK sends them). */
export type DirectDynamoDbTargetSource = (tableName: string) => Promise<DirectDynamoDbTarget | undefined>;

/** What an interceptor sees: the operation and the command input the SDK would have sent. */
export interface DirectDynamoDbRequest {
  readonly operation: DynamoDbOperation;
  readonly input: Record<string, unknown>;
}

export interface DirectDynamoDbResponse {
  readonly statusCode: number;
  /** DynamoDB's error type (`ThrottlingException`), from an error answer. */
  readonly errorType?: string | undefined;
  /** An error answer's message. */
  readonly message?: string | undefined;
  /** A 200's answer, as the SDK would return it (without `$metadata`); an error answer's fields. */
  readonly output?: Record<string, unknown> | undefined;
}

/**
 * `answered`: the request took effect and this is its output; `failed`: DynamoDB's answer is
 * an error about the data (thrown as the SDK would); `uncertain`: no answer to an update
 * that must not be applied twice (thrown, retryable); `retry-sdk`: nothing known to have
 * happened, the SDK should send it; `refused`: a 4xx the SDK may get past (then this path
 * turns itself off).
 */
export type DirectDynamoDbOutcome =
  | { readonly kind: 'answered'; readonly output: Record<string, unknown> }
  | { readonly kind: 'failed'; readonly error: DirectServiceError }
  /** No answer to an update that counts (see `countsOnce`): it may have been applied, so it is not sent again. */
  | { readonly kind: 'uncertain'; readonly error: DirectServiceError }
  | { readonly kind: 'retry-sdk'; readonly reason: string }
  | { readonly kind: 'refused'; readonly reason: string };

/** A service error as the SDK throws it: named after DynamoDB's type, with `$fault` and `$metadata`. */
export class DirectServiceError extends Error {
  readonly $metadata: { readonly httpStatusCode: number | undefined };
  constructor(
    type: string,
    message: string,
    statusCode: number | undefined,
    readonly $fault: 'client' | 'server' = 'client',
  ) {
    super(message);
    this.name = type;
    this.$metadata = { httpStatusCode: statusCode };
  }
}

export class DirectDynamoDb {
  private readonly targets = new TargetCache<DirectDynamoDbTarget>();
  private readonly path = new DirectPath<DirectDynamoDbRequest, DirectDynamoDbResponse>({
    maxSockets: DIRECT_DYNAMODB_MAX_SOCKETS,
    idleTimeoutMs: DIRECT_DYNAMODB_IDLE_TIMEOUT_MS,
    maxBodyOctets: DIRECT_DYNAMODB_MAX_ANSWER_OCTETS,
  });

  constructor(private readonly resolveTarget: DirectDynamoDbTargetSource) {}

  /** Why the path is off, if it is. */
  get disabledReason(): string | undefined {
    return this.path.disabledReason;
  }

  /** Turns the path off for good: the SDK sends every request from now on. */
  disable(reason: string): void {
    this.path.disable(reason);
  }

  /** @returns a function that removes the interceptor. */
  intercept(interceptor: Interceptor<DirectDynamoDbRequest, DirectDynamoDbResponse>): () => void {
    return this.path.intercept(interceptor);
  }

  /**
   * Sends one request, or says why the SDK should. Once `signal` aborted nothing is sent, and
   * a request in flight is cut off (its socket closed).
   */
  async send<O extends DynamoDbOperation>(operation: O, input: DynamoDbInput<O>, signal?: AbortSignal): Promise<DirectDynamoDbOutcome> {
    if (this.disabledReason !== undefined || this.path.resting) return { kind: 'retry-sdk', reason: 'not available' };
    const fields = input as unknown as Record<string, unknown>;
    const tableName = tableOf(fields);
    if (tableName === undefined) return { kind: 'retry-sdk', reason: 'not one table' };
    // The item a failed condition returns is the SDK's to decode (it may hold bytes).
    if (fields.ReturnValuesOnConditionCheckFailure === 'ALL_OLD') return { kind: 'retry-sdk', reason: 'return values on a failed condition' };
    const body = jsonBody(input);
    if (body === undefined) return { kind: 'retry-sdk', reason: 'binary attributes' };
    const target = await this.targets.get(tableName, () => this.resolveTarget(tableName));
    if (target === undefined) return { kind: 'retry-sdk', reason: 'not available' };
    const result = await this.attempt(target, { operation, input: fields }, body, tableName, signal);
    // A caller that stopped says nothing about the path; an answer about the data says it works.
    if (!signal?.aborted) this.path.noteOutcome(pathFailure(result));
    return result;
  }

  private async attempt(target: DirectDynamoDbTarget, request: DirectDynamoDbRequest, body: Buffer, tableName: string, signal: AbortSignal | undefined): Promise<DirectDynamoDbOutcome> {
    let response: DirectDynamoDbResponse;
    try {
      response = await this.path.through(request, (sent) => this.post(target, sent.operation, sent === request ? body : jsonBody(sent.input), signal));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      // The request may have reached DynamoDB. Sent again (the SDK would), an update that counts would count twice.
      if (countsOnce(request) && (err as { name?: unknown }).name !== 'RequestAbortedError') {
        return { kind: 'uncertain', error: new DirectServiceError('RequestOutcomeUnknown', `${request.operation} sent, no answer (${reason}): it may have been applied, and is not sent again`, undefined, 'server') };
      }
      return { kind: 'retry-sdk', reason };
    }
    return outcome(request.operation, response, tableName);
  }

  private async post(target: DirectDynamoDbTarget, operation: DynamoDbOperation, body: Buffer | undefined, signal: AbortSignal | undefined): Promise<DirectDynamoDbResponse> {
    if (body === undefined) throw new Error('an interceptor gave binary attributes');
    const credentials = await target.credentials();
    const head = signedRequestHead(
      {
        method: 'POST',
        path: '/',
        headers: { host: target.url.host, 'content-length': String(body.length), 'content-type': CONTENT_TYPE, 'x-amz-target': TARGET_PREFIX + operation },
        payloadSha256Hex: hash('sha256', body, 'hex'),
      },
      { region: target.region, service: 'dynamodb', credentials, now: new Date(Date.now() + target.clockOffsetMs()) },
    );
    const response = await this.path.pool(target.url).request(head, body, signal);
    if (response.truncated) return { statusCode: response.statusCode, errorType: 'AnswerTooLong' };
    return answerOf(response.statusCode, response.body);
  }
}

/** Why the outcome counts against the path, if it does: an answer (an error about the data included) says it works. */
function pathFailure(result: DirectDynamoDbOutcome): string | undefined {
  switch (result.kind) {
    case 'answered':
    case 'failed':
      return undefined;
    case 'uncertain':
      return result.error.message;
    case 'retry-sdk':
      return result.reason;
    case 'refused':
      return result.reason;
  }
}

/**
 * An update that counts (`ADD`, or arithmetic in a `SET`: the registry's health and version
 * counters): applied twice, it counts twice. Any `+` or `-` in the expression is taken for
 * one (placeholders name the attributes and values).
 */
function countsOnce(request: DirectDynamoDbRequest): boolean {
  const expression = request.input.UpdateExpression;
  return request.operation === 'UpdateItem' && typeof expression === 'string' && /\bADD\b|[+-]/i.test(expression);
}

/** The one table a request names (the stores never send to two at once). */
function tableOf(input: Record<string, unknown>): string | undefined {
  if (typeof input.TableName === 'string') return input.TableName;
  const items = input.RequestItems;
  if (typeof items !== 'object' || items === null) return undefined;
  const tables = Object.keys(items);
  return tables.length === 1 ? tables[0] : undefined;
}

/**
 * The request's JSON, or undefined when it holds binary values: the SDK sends those as
 * base64, JSON.stringify as objects. An unescaped `"B":{` or `"BS":[{` can only come from
 * such a value (or a map attribute named B, which then goes through the SDK too).
 */
function jsonBody(input: unknown): Buffer | undefined {
  const json = JSON.stringify(input);
  if (json.includes('"B":{') || json.includes('"BS":[{')) return undefined;
  return Buffer.from(json, 'utf8');
}

/**
 * The answer's meaning; a 200 whose body is not a JSON object counts as no answer. Binary
 * values come as base64 and are given as bytes, as the SDK gives them: in DynamoDB's JSON a
 * string under the key `B` (or strings under `BS`) can only be such a value (an attribute or
 * map key named B holds an object), so the text is revived only when it has `"B":` or `"BS":`.
 */
function answerOf(statusCode: number, body: Buffer): DirectDynamoDbResponse {
  let parsed: unknown;
  try {
    const text = body.toString('utf8');
    parsed = body.includes('"B":') || body.includes('"BS":') ? JSON.parse(text, bytesOfBinaryValues) : JSON.parse(text);
  } catch {
    return { statusCode, errorType: statusCode === 200 ? 'UnreadableAnswer' : undefined };
  }
  if (statusCode !== 200) {
    const fields = isPlainObject(parsed) ? parsed : {};
    const type = fields.__type;
    const message = typeof fields.message === 'string' ? fields.message : typeof fields.Message === 'string' ? fields.Message : undefined;
    return { statusCode, errorType: typeof type === 'string' ? type.slice(type.lastIndexOf('#') + 1).slice(0, 100) : undefined, message, output: fields };
  }
  return isPlainObject(parsed) ? { statusCode, output: parsed } : { statusCode, errorType: 'UnreadableAnswer' };
}

function bytesOfBinaryValues(key: string, value: unknown): unknown {
  if (key === 'B' && typeof value === 'string') return base64Bytes(value);
  if (key === 'BS' && Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.map(base64Bytes);
  return value;
}

/** Bytes of their own, as the SDK gives them (not a view of Buffer's shared pool). */
function base64Bytes(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'base64'));
}

function outcome(operation: DynamoDbOperation, response: DirectDynamoDbResponse, tableName: string): DirectDynamoDbOutcome {
  const { statusCode, errorType, output } = response;
  const reason = `HTTP ${statusCode}${errorType ? ` ${errorType}` : ''}`;
  if (statusCode === 200 && errorType === undefined) {
    const answer = output !== undefined && answerOfShape(operation, output, tableName) ? output : undefined;
    return answer ? { kind: 'answered', output: answer } : { kind: 'retry-sdk', reason: `${reason} with an answer of another shape` };
  }
  if (statusCode === 400 && errorType !== undefined && ANSWER_ERROR_TYPES.has(errorType)) {
    return { kind: 'failed', error: new DirectServiceError(errorType, response.message ?? errorType, statusCode) };
  }
  const transient = statusCode >= 500 || statusCode === 200 || statusCode === 429 || statusCode === 408 || TRANSIENT_ERROR_TYPES.has(errorType ?? '');
  return transient ? { kind: 'retry-sdk', reason } : { kind: 'refused', reason };
}

/**
 * A 200's body as DynamoDB answers this request: no error type, and for a batch,
 * unprocessed requests and capacity of this table only. Anything else is not taken for an answer: the
 * SDK sends the request again (every request the stores send may be sent twice).
 */
function answerOfShape(operation: DynamoDbOperation, output: Record<string, unknown>, tableName: string): boolean {
  if ('__type' in output) return false;
  if (operation === 'BatchWriteItem' && !batchAnswer(output.UnprocessedItems, tableName, Array.isArray)) return false;
  if (operation === 'BatchGetItem' && !(batchAnswer(output.Responses, tableName, Array.isArray) && batchAnswer(output.UnprocessedKeys, tableName, isPlainObject))) return false;
  return capacityOf(output.ConsumedCapacity, tableName);
}

/** `{ [tableName]: value }` (or nothing) whose value passes `check`. */
function batchAnswer(byTable: unknown, tableName: string, check: (value: unknown) => boolean): boolean {
  if (byTable === undefined) return true;
  if (!isPlainObject(byTable)) return false;
  return Object.keys(byTable).every((table) => table === tableName && check(byTable[table]));
}

function capacityOf(consumed: unknown, tableName: string): boolean {
  if (consumed === undefined) return true;
  const entries = Array.isArray(consumed) ? consumed : [consumed];
  return entries.every((c) => isPlainObject(c) && (c.TableName === undefined || c.TableName === tableName));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
