/**
 * The state table: key schema, key builders and the table definition shared by the
 * DynamoDB adapter, the tests, the CLI's `--create-missing` and the CDK stack.
 * The item layout is documented at the top of `dynamodb-state-store.ts`.
 */
import type { CreateTableCommandInput, DynamoDBClient, TableDescription } from '@aws-sdk/client-dynamodb';
import { StateStoreError, StateStoreErrorCode, toStateStoreError } from './errors';
// The SDK's module is loaded by the table set-up below, not with the key schema: the stores
// import this module, and a worker whose requests all go direct never loads the SDK.
import { dynamoDbSdk } from './sdk-dynamodb-api';

/** Partition key (S): `MBX#<mailboxId>`. */
export const PARTITION_KEY = 'pk';
/** Sort key (S): `MSG#<identity>`, `#SUMMARY` or `#LEASE`. */
export const SORT_KEY = 'sk';
/** TTL attribute (N, epoch seconds): DynamoDB deletes the item some time after it. */
export const TTL_ATTRIBUTE = 'expiresAt';

/** Sparse GSI of the records whose server-side deletion is pending. */
export const PENDING_DELETE_INDEX = 'pendingDelete';
/** GSI partition key (S): `MBX#<mailboxId>`, present only while a deletion is pending. */
export const PENDING_DELETE_PARTITION_KEY = 'gsi1pk';
/** GSI sort key (S, ISO-8601 UTC as from `Date.toISOString()`): also the record's `deleteAfter`. */
export const PENDING_DELETE_SORT_KEY = 'deleteAfter';

export const MAILBOX_KEY_PREFIX = 'MBX#';
export const MESSAGE_KEY_PREFIX = 'MSG#';
/** Starts with `#`, which sorts before `M`: never mistaken for a message key. */
export const SUMMARY_SORT_KEY = '#SUMMARY';
export const LEASE_SORT_KEY = '#LEASE';

/** DynamoDB's limits on key values, in UTF-8 bytes. */
export const MAX_PARTITION_KEY_BYTES = 2048;
export const MAX_SORT_KEY_BYTES = 1024;

/** How long ensureTable waits for a new table to become ACTIVE (on AWS: seconds to a minute). */
const TABLE_ACTIVE_TIMEOUT_S = 300;

/** Partition key of every item of one mailbox. */
export function mailboxKey(mailboxId: string): string {
  return assertKeyValue(`${MAILBOX_KEY_PREFIX}${mailboxId}`, MAX_PARTITION_KEY_BYTES, 'partition key');
}

/** Sort key of a message record. */
export function messageKey(identity: string): string {
  return assertKeyValue(`${MESSAGE_KEY_PREFIX}${identity}`, MAX_SORT_KEY_BYTES, 'sort key');
}

/** Matches a lone UTF-16 surrogate (paired ones are one code point under the `u` flag). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Mailbox ids and identities are untrusted: refuse a key DynamoDB would reject, with a
 * typed error that says why instead of a ValidationException from the service.
 */
function assertKeyValue(value: string, maxBytes: number, what: string): string {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > maxBytes) {
    throw new StateStoreError(
      StateStoreErrorCode.INVALID,
      `State ${what} is ${bytes} bytes in UTF-8; DynamoDB allows at most ${maxBytes}`,
    );
  }
  if (LONE_SURROGATE.test(value)) {
    // It would not survive the UTF-8 round trip: two identities could share one key.
    throw new StateStoreError(StateStoreErrorCode.INVALID, `State ${what} holds a lone UTF-16 surrogate`);
  }
  return value;
}

/**
 * The table definition: on-demand billing (mailbox runs are bursty and small), the base key
 * and the sparse pending-delete GSI. It projects ALL attributes: only pending items are in
 * it, and listDueDeletions returns whole records without a second read.
 */
export function createTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: PARTITION_KEY, AttributeType: 'S' },
      { AttributeName: SORT_KEY, AttributeType: 'S' },
      { AttributeName: PENDING_DELETE_PARTITION_KEY, AttributeType: 'S' },
      { AttributeName: PENDING_DELETE_SORT_KEY, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: PARTITION_KEY, KeyType: 'HASH' },
      { AttributeName: SORT_KEY, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: PENDING_DELETE_INDEX,
        KeySchema: [
          { AttributeName: PENDING_DELETE_PARTITION_KEY, KeyType: 'HASH' },
          { AttributeName: PENDING_DELETE_SORT_KEY, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

/**
 * Creates the table if it does not exist, waits until it is ACTIVE and enables TTL on
 * `expiresAt`. Safe to run concurrently and repeatedly. An existing table whose key schema
 * differs is refused (INVALID) rather than used wrongly.
 *
 * Backends without UpdateTimeToLive (dynalite answers UnknownOperationException) are
 * tolerated: that one error is ignored, and items there simply never expire.
 */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const existing = await describeTable(client, tableName);
  let status = existing?.TableStatus;
  if (existing === undefined) {
    status = (await createTable(client, tableName))?.TableStatus;
  } else {
    assertCompatibleSchema(existing, tableName);
  }
  // DynamoDB Local creates tables ACTIVE at once; the waiter would still sleep a second.
  if (status !== 'ACTIVE') await waitUntilActive(client, tableName);
  await enableTimeToLive(client, tableName);
}

async function describeTable(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    const { DescribeTableCommand } = await dynamoDbSdk();
    const result = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return result.Table;
  } catch (err) {
    if (hasName(err, 'ResourceNotFoundException')) return undefined;
    throw toStateStoreError(err, 'DescribeTable', tableName);
  }
}

/** The new table's description; undefined when another process created it first. */
async function createTable(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    const { CreateTableCommand } = await dynamoDbSdk();
    const result = await client.send(new CreateTableCommand(createTableInput(tableName)));
    return result.TableDescription;
  } catch (err) {
    // Another process created it between our DescribeTable and CreateTable.
    if (hasName(err, 'ResourceInUseException')) return undefined;
    throw toStateStoreError(err, 'CreateTable', tableName);
  }
}

async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    // The waiter polls DescribeTable until TableStatus is ACTIVE (GSIs created with the table come up with it).
    const { waitUntilTableExists } = await dynamoDbSdk();
    await waitUntilTableExists({ client, maxWaitTime: TABLE_ACTIVE_TIMEOUT_S, minDelay: 1 }, { TableName: tableName });
  } catch (err) {
    throw toStateStoreError(err, 'DescribeTable (waiting for ACTIVE)', tableName);
  }
}

function assertCompatibleSchema(table: TableDescription, tableName: string): void {
  const keyOf = (schema: TableDescription['KeySchema']): string =>
    (schema ?? []).map((key) => `${key.AttributeName}:${key.KeyType}`).join(',');
  const expected = createTableInput(tableName);
  const problems: string[] = [];
  if (keyOf(table.KeySchema) !== keyOf(expected.KeySchema)) {
    problems.push(`key schema is [${keyOf(table.KeySchema)}], expected [${keyOf(expected.KeySchema)}]`);
  }
  const index = table.GlobalSecondaryIndexes?.find((gsi) => gsi.IndexName === PENDING_DELETE_INDEX);
  const expectedIndex = expected.GlobalSecondaryIndexes?.[0];
  if (index === undefined) {
    problems.push(`global secondary index ${PENDING_DELETE_INDEX} is missing`);
  } else if (keyOf(index.KeySchema) !== keyOf(expectedIndex?.KeySchema)) {
    problems.push(`index ${PENDING_DELETE_INDEX} key schema is [${keyOf(index.KeySchema)}]`);
  }
  if (problems.length > 0) {
    throw new StateStoreError(
      StateStoreErrorCode.INVALID,
      `Table ${tableName} exists but is not a mailfetch state table: ${problems.join('; ')}`,
    );
  }
}

async function enableTimeToLive(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    const { DescribeTimeToLiveCommand, UpdateTimeToLiveCommand } = await dynamoDbSdk();
    const current = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    const status = current.TimeToLiveDescription?.TimeToLiveStatus;
    // Updating an enabled TTL is a ValidationException on AWS: look first.
    if ((status === 'ENABLED' || status === 'ENABLING') && current.TimeToLiveDescription?.AttributeName === TTL_ATTRIBUTE) {
      return;
    }
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    );
  } catch (err) {
    // dynalite has no UpdateTimeToLive: local runs keep expired records, which is harmless.
    if (hasName(err, 'UnknownOperationException')) return;
    throw toStateStoreError(err, 'UpdateTimeToLive', tableName);
  }
}

function hasName(err: unknown, name: string): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === name;
}
