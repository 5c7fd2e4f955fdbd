/**
 * The single-item operations of the latency model's DynamoDB (GetItem, PutItem,
 * UpdateItem, DeleteItem, Query; the batch ones are in dynamo-batch-operations.ts), on the
 * in-memory tables of dynamo-table.ts, with ConsumedCapacity (TOTAL or INDEXES) computed
 * from item sizes.
 *
 * Condition expressions are checked for their placeholders but treated as holding: the
 * bench runs one worker against a fresh table, where every condition the state store
 * writes (lease free or ours, no stored record yet, record exists for an update) holds.
 * A FilterExpression is refused rather than ignored (it would change what a read returns).
 */
import { applyUpdate, checkPlaceholders, parseKeyCondition, project, ValidationError, type ExpressionContext } from './dynamo-expressions';
import { itemSize, readUnits, type AttributeValue, type Item } from './dynamo-item-size';
import type { DynamoTable, WriteCost } from './dynamo-table';
import type { OperationTally } from './latency-tally';

export type Body = Record<string, unknown>;

/** What an operation needs besides its request: the tables and the operation's tally. */
export interface OperationContext {
  table(name: unknown): DynamoTable;
  readonly tally: OperationTally;
}

export interface Capacity {
  readonly table: string;
  readonly tableUnits: number;
  readonly indexUnits: Record<string, number>;
}

/** ConsumedCapacity as DynamoDB returns it for ReturnConsumedCapacity TOTAL or INDEXES. */
export function consumed(mode: unknown, c: Capacity): Body | undefined {
  if (mode !== 'TOTAL' && mode !== 'INDEXES') return undefined;
  const total = c.tableUnits + Object.values(c.indexUnits).reduce((a, b) => a + b, 0);
  if (mode === 'TOTAL') return { TableName: c.table, CapacityUnits: total };
  const gsis = Object.fromEntries(Object.entries(c.indexUnits).map(([name, units]) => [name, { CapacityUnits: units }]));
  return { TableName: c.table, CapacityUnits: total, Table: { CapacityUnits: c.tableUnits }, ...(Object.keys(gsis).length > 0 ? { GlobalSecondaryIndexes: gsis } : {}) };
}

export function writeCapacity(table: string, cost: WriteCost, factor = 1): Capacity {
  const indexUnits = Object.fromEntries(Object.entries(cost.indexes).map(([n, u]) => [n, u * factor]));
  return { table, tableUnits: cost.table * factor, indexUnits };
}

export function addCapacity(into: Map<string, Capacity>, c: Capacity): void {
  const prev = into.get(c.table);
  if (prev === undefined) return void into.set(c.table, c);
  const indexUnits = { ...prev.indexUnits };
  for (const [n, u] of Object.entries(c.indexUnits)) indexUnits[n] = (indexUnits[n] ?? 0) + u;
  into.set(c.table, { table: c.table, tableUnits: prev.tableUnits + c.tableUnits, indexUnits });
}

export function countUnits(tally: OperationTally, kind: 'read' | 'write', c: Capacity): void {
  const units = c.tableUnits + Object.values(c.indexUnits).reduce((a, b) => a + b, 0);
  if (kind === 'read') tally.readUnits += units;
  else tally.writeUnits += units;
}

export function expressionContext(body: Body): ExpressionContext {
  return { names: body.ExpressionAttributeNames as Record<string, string> | undefined, values: body.ExpressionAttributeValues as Record<string, AttributeValue> | undefined };
}

function withReturnValues(mode: unknown, old: Item | undefined, next: Item | undefined): Body {
  if (mode === 'ALL_OLD' && old) return { Attributes: old };
  if (mode === 'ALL_NEW' && next) return { Attributes: next };
  if (mode === 'UPDATED_OLD' || mode === 'UPDATED_NEW') {
    const from = mode === 'UPDATED_OLD' ? old : next;
    const other = mode === 'UPDATED_OLD' ? next : old;
    const changed = Object.keys(from ?? {}).filter((k) => JSON.stringify(from![k]) !== JSON.stringify(other?.[k]));
    if (changed.length > 0) return { Attributes: Object.fromEntries(changed.map((k) => [k, from![k]!])) };
  }
  return {};
}

// ---------------------------------------------------------------------------------------
// Single-item operations

export function getItem(body: Body, ctx: OperationContext): Body {
  const ec = expressionContext(body);
  checkPlaceholders(ec, [body.ProjectionExpression as string | undefined]);
  const table = ctx.table(body.TableName);
  const item = table.get(body.Key as Item);
  const c: Capacity = { table: table.schema.name, tableUnits: readUnits(item ? itemSize(item) : 0, body.ConsistentRead === true), indexUnits: {} };
  countUnits(ctx.tally, 'read', c);
  return { ...(item ? { Item: project(item, body.ProjectionExpression as string | undefined, ec) } : {}), ConsumedCapacity: consumed(body.ReturnConsumedCapacity, c) };
}

/** One item written: what `change` did, with its write units and the ReturnValues asked for. */
function singleWrite(body: Body, ctx: OperationContext, change: (table: DynamoTable) => { old: Item | undefined; next?: Item; cost: WriteCost }): Body {
  const table = ctx.table(body.TableName);
  const { old, next, cost } = change(table);
  const c = writeCapacity(table.schema.name, cost);
  countUnits(ctx.tally, 'write', c);
  return { ...withReturnValues(body.ReturnValues, old, next), ConsumedCapacity: consumed(body.ReturnConsumedCapacity, c) };
}

export function putItem(body: Body, ctx: OperationContext): Body {
  checkPlaceholders(expressionContext(body), [body.ConditionExpression as string | undefined]);
  return singleWrite(body, ctx, (table) => table.put(body.Item as Item));
}

export function updateItem(body: Body, ctx: OperationContext): Body {
  return singleWrite(body, ctx, (table) => applyUpdateAction(table, body));
}

function applyUpdateAction(table: DynamoTable, body: Body): { old: Item | undefined; next: Item; cost: WriteCost } {
  const ec = expressionContext(body);
  const expression = body.UpdateExpression;
  if (typeof expression !== 'string') throw new ValidationError('latency model: UpdateItem needs an UpdateExpression (AttributeUpdates is not supported)');
  checkPlaceholders(ec, [expression, body.ConditionExpression as string | undefined]);
  const key = body.Key as Item;
  const old = table.get(key);
  const next = applyUpdate(old ?? key, expression, ec);
  for (const name of Object.keys(key)) {
    if (JSON.stringify(next[name]) !== JSON.stringify(key[name])) throw new ValidationError(`One or more parameter values were invalid: Cannot update attribute ${name}. This attribute is part of the key`);
  }
  const { cost } = table.put(next);
  return { old, next, cost };
}

export function deleteItem(body: Body, ctx: OperationContext): Body {
  checkPlaceholders(expressionContext(body), [body.ConditionExpression as string | undefined]);
  return singleWrite(body, ctx, (table) => table.delete(body.Key as Item));
}

export function query(body: Body, ctx: OperationContext): Body {
  const ec = expressionContext(body);
  const projection = body.ProjectionExpression as string | undefined;
  checkPlaceholders(ec, [body.KeyConditionExpression as string | undefined, body.FilterExpression as string | undefined, projection]);
  if (body.FilterExpression !== undefined) throw new ValidationError('latency model: FilterExpression is not supported');
  if (typeof body.KeyConditionExpression !== 'string') throw new ValidationError('latency model: Query needs a KeyConditionExpression');
  const table = ctx.table(body.TableName);
  const index = body.IndexName === undefined ? undefined : table.schema.indexes.find((i) => i.name === body.IndexName);
  if (body.IndexName !== undefined && index === undefined) throw new ValidationError('The table does not have the specified index');
  if (index && body.ConsistentRead === true) throw new ValidationError('Consistent reads are not supported on global secondary indexes');
  const cond = parseKeyCondition(body.KeyConditionExpression, ec, (index ?? table.schema.key).hash);
  const page = table.query(cond, {
    index,
    forward: body.ScanIndexForward !== false,
    limit: typeof body.Limit === 'number' ? body.Limit : undefined,
    exclusiveStart: body.ExclusiveStartKey as Item | undefined,
  });
  // A Query that reads nothing costs nothing (DynamoDB Local reports 0; a GetItem of a missing item costs the minimum).
  const units = page.bytes === 0 ? 0 : readUnits(page.bytes, index === undefined && body.ConsistentRead === true);
  const c: Capacity = index ? { table: table.schema.name, tableUnits: 0, indexUnits: { [index.name]: units } } : { table: table.schema.name, tableUnits: units, indexUnits: {} };
  countUnits(ctx.tally, 'read', c);
  return {
    ...(body.Select === 'COUNT' ? {} : { Items: page.items.map((i) => project(i, projection, ec)) }),
    Count: page.items.length,
    ScannedCount: page.items.length,
    ...(page.lastKey ? { LastEvaluatedKey: page.lastKey } : {}),
    ConsumedCapacity: consumed(body.ReturnConsumedCapacity, c),
  };
}
