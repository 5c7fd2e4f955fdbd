/**
 * The latency model's DynamoDB: the AWS JSON endpoint of lambda/local (X-Amz-Target
 * `DynamoDB_20120810.<Operation>`) answering from in-memory tables after the configured
 * delay. Tables, key schemas, global secondary indexes, Query pages, batch and
 * transaction limits and capacity units behave as DynamoDB's do (dynamo-*.ts); condition
 * expressions are treated as holding (dynamo-operations.ts says why). Tables are ACTIVE at
 * once and TTL is recorded but never expires anything.
 */
import { AwsServiceError, startAwsJsonEndpoint, type AwsJsonEndpoint } from '../../lambda/local/aws-json-endpoint';
import { batchGetItem, batchWriteItem, transactWriteItems } from './dynamo-batch-operations';
import { ValidationError } from './dynamo-expressions';
import { deleteItem, getItem, putItem, query, updateItem, type Body, type OperationContext } from './dynamo-operations';
import { DynamoTable, type IndexSchema, type TableSchema } from './dynamo-table';
import { DYNAMODB_OPERATIONS, type DynamoDbOperation } from './latency-options';
import { TallyBook } from './latency-tally';

const TARGET_PREFIX = 'DynamoDB_20120810';

export interface LatencyDynamoDb {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly tallies: TallyBook;
  /** Drops every table. */
  clear(): void;
  close(): Promise<void>;
}

type ItemOperation = (body: Body, ctx: OperationContext) => Body;

const ITEM_OPERATIONS: Partial<Record<DynamoDbOperation, ItemOperation>> = {
  GetItem: getItem,
  PutItem: putItem,
  UpdateItem: updateItem,
  DeleteItem: deleteItem,
  Query: query,
  BatchGetItem: batchGetItem,
  BatchWriteItem: batchWriteItem,
  TransactWriteItems: transactWriteItems,
};

interface StoredTable {
  readonly table: DynamoTable;
  /** The CreateTable request, echoed by DescribeTable. */
  readonly definition: Body;
  readonly createdAt: number;
}

export async function startLatencyDynamoDb(delaysMs: Readonly<Partial<Record<DynamoDbOperation, number>>>): Promise<LatencyDynamoDb> {
  const tables = new Map<string, StoredTable>();
  const tallies = new TallyBook();
  const known: ReadonlySet<string> = new Set(DYNAMODB_OPERATIONS);
  const endpoint: AwsJsonEndpoint = await startAwsJsonEndpoint({
    targetPrefix: TARGET_PREFIX,
    handle: async (operation, body) => {
      if (!known.has(operation)) throw new AwsServiceError(400, 'UnknownOperationException', `latency model: ${operation || '(no target)'} is not supported`);
      const op = operation as DynamoDbOperation;
      const tally = tallies.of(op);
      tally.calls++;
      const result = answer(op, body, { tables, tally });
      await tallies.delay(op, delaysMs[op] ?? 0);
      return result;
    },
  });
  return {
    endpoint: endpoint.endpoint,
    tallies,
    clear: () => tables.clear(),
    close: () => endpoint.close(),
  };
}

function answer(op: DynamoDbOperation, body: Body, state: { tables: Map<string, StoredTable>; tally: OperationContext['tally'] }): Body {
  const ctx: OperationContext = {
    tally: state.tally,
    table: (name) => {
      checkTableName(name);
      const t = state.tables.get(String(name));
      if (t === undefined) throw new AwsServiceError(400, 'ResourceNotFoundException', 'Requested resource not found');
      return t.table;
    },
  };
  try {
    const item = ITEM_OPERATIONS[op];
    if (item) return item(body, ctx);
    return tableOperation(op, body, state.tables);
  } catch (err) {
    if (err instanceof ValidationError) throw new AwsServiceError(400, 'ValidationException', err.message);
    throw err;
  }
}

/** DynamoDB's rule for table and index names. */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

function checkTableName(name: unknown): void {
  if (typeof name !== 'string' || !TABLE_NAME.test(name)) {
    throw new ValidationError("Invalid table/index name.  Table/index names must be between 3 and 255 characters long, and may contain only the characters a-z, A-Z, 0-9, '_', '-', and '.'");
  }
}

function tableOperation(op: DynamoDbOperation, body: Body, tables: Map<string, StoredTable>): Body {
  if (op === 'ListTables') return { TableNames: [...tables.keys()].sort() };
  checkTableName(body.TableName);
  const name = String(body.TableName);
  const stored = tables.get(name);
  if (op === 'CreateTable') {
    if (stored) throw new AwsServiceError(400, 'ResourceInUseException', `Table already exists: ${name}`);
    const created: StoredTable = { table: new DynamoTable(tableSchema(body)), definition: body, createdAt: Date.now() / 1000 };
    tables.set(name, created);
    return { TableDescription: describe(created) };
  }
  if (stored === undefined) throw new AwsServiceError(400, 'ResourceNotFoundException', `Requested resource not found: Table: ${name} not found`);
  switch (op) {
    case 'DescribeTable':
      return { Table: describe(stored) };
    case 'DeleteTable':
      tables.delete(name);
      return { TableDescription: { ...describe(stored), TableStatus: 'DELETING' } };
    case 'DescribeTimeToLive': {
      const attribute = stored.table.ttlAttribute;
      return { TimeToLiveDescription: attribute ? { TimeToLiveStatus: 'ENABLED', AttributeName: attribute } : { TimeToLiveStatus: 'DISABLED' } };
    }
    case 'UpdateTimeToLive': {
      const spec = body.TimeToLiveSpecification as { AttributeName: string; Enabled: boolean };
      stored.table.ttlAttribute = spec.Enabled ? spec.AttributeName : undefined;
      return { TimeToLiveSpecification: spec };
    }
    default:
      throw new AwsServiceError(400, 'UnknownOperationException', `latency model: ${op} is not supported`);
  }
}

interface KeyElement {
  readonly AttributeName: string;
  readonly KeyType: 'HASH' | 'RANGE';
}

function keySchema(elements: readonly KeyElement[] | undefined): { hash: string; range?: string } {
  const hash = elements?.find((k) => k.KeyType === 'HASH')?.AttributeName;
  const range = elements?.find((k) => k.KeyType === 'RANGE')?.AttributeName;
  if (hash === undefined) throw new ValidationError('One or more parameter values were invalid: Invalid KeySchema: Some index key attribute have no definition');
  return range === undefined ? { hash } : { hash, range };
}

function tableSchema(body: Body): TableSchema {
  const definitions = (body.AttributeDefinitions ?? []) as { AttributeName: string; AttributeType: string }[];
  const types = Object.fromEntries(definitions.map((d) => [d.AttributeName, d.AttributeType]));
  const indexes: IndexSchema[] = ((body.GlobalSecondaryIndexes ?? []) as { IndexName: string; KeySchema: KeyElement[] }[]).map((g) => ({
    name: g.IndexName,
    ...keySchema(g.KeySchema),
  }));
  const key = keySchema(body.KeySchema as KeyElement[] | undefined);
  const undefinedKeys = [key, ...indexes].flatMap((k) => [k.hash, k.range]).filter((a): a is string => a !== undefined && types[a] === undefined);
  if (undefinedKeys.length > 0) throw new ValidationError(`One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions: ${undefinedKeys.join(', ')}`);
  return { name: String(body.TableName), key, types, indexes };
}

function describe(t: StoredTable): Body {
  const d = t.definition;
  const gsis = (d.GlobalSecondaryIndexes ?? []) as Body[];
  return {
    TableName: d.TableName,
    TableStatus: 'ACTIVE',
    KeySchema: d.KeySchema,
    AttributeDefinitions: d.AttributeDefinitions,
    CreationDateTime: t.createdAt,
    ItemCount: t.table.itemCount,
    BillingModeSummary: { BillingMode: d.BillingMode ?? 'PROVISIONED' },
    ...(gsis.length > 0 ? { GlobalSecondaryIndexes: gsis.map((g) => ({ ...g, IndexStatus: 'ACTIVE' })) } : {}),
  };
}
