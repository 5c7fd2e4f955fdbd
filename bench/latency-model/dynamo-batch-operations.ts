/**
 * The latency model's multi-item DynamoDB operations: BatchGetItem, BatchWriteItem and
 * TransactWriteItems, with DynamoDB's request limits (100 keys per batch read, 25 puts or
 * deletes per batch write, 100 actions per transaction, no item twice in one request),
 * every request validated before any item changes, nothing ever left unprocessed (the
 * model does not throttle), and capacity per table: each item rounded on its own, a
 * transaction at twice the units. A missing item read in a batch costs nothing (as
 * DynamoDB Local reports it; a GetItem of it costs the minimum). Conditions hold (see
 * dynamo-operations.ts).
 */
import { applyUpdate, checkPlaceholders, project, ValidationError, type ExpressionContext } from './dynamo-expressions';
import { itemSize, readUnits, TRANSACTION_FACTOR, writeUnits, type Item } from './dynamo-item-size';
import {
  addCapacity,
  consumed,
  countUnits,
  expressionContext,
  writeCapacity,
  type Body,
  type Capacity,
  type OperationContext,
} from './dynamo-operations';
import type { DynamoTable } from './dynamo-table';

export const BATCH_GET_MAX_KEYS = 100;
export const BATCH_WRITE_MAX_REQUESTS = 25;
export const TRANSACT_WRITE_MAX_ACTIONS = 100;

interface KeysAndAttributes {
  readonly Keys?: Item[];
  readonly ConsistentRead?: boolean;
  readonly ProjectionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
}

interface WriteRequest {
  readonly PutRequest?: { readonly Item: Item };
  readonly DeleteRequest?: { readonly Key: Item };
}

function consumedList(mode: unknown, capacity: Map<string, Capacity>): Body {
  const list = [...capacity.values()].map((c) => consumed(mode, c)).filter((c) => c !== undefined);
  return list.length > 0 ? { ConsumedCapacity: list } : {};
}

export function batchGetItem(body: Body, ctx: OperationContext): Body {
  const requests = (body.RequestItems ?? {}) as Record<string, KeysAndAttributes>;
  const total = Object.values(requests).reduce((n, r) => n + (r.Keys?.length ?? 0), 0);
  if (total === 0) throw new ValidationError('1 validation error detected: Value at \'requestItems\' failed to satisfy constraint: Member must have length greater than or equal to 1');
  if (total > BATCH_GET_MAX_KEYS) throw new ValidationError('Too many items requested for the BatchGetItem call');
  const plan = Object.entries(requests).map(([name, r]) => {
    const table = ctx.table(name);
    const ec: ExpressionContext = { names: r.ExpressionAttributeNames };
    checkPlaceholders(ec, [r.ProjectionExpression]);
    const ids = new Set((r.Keys ?? []).map((k) => table.keyId(k, true)));
    if (ids.size !== r.Keys?.length) throw new ValidationError('Provided list of item keys contains duplicates');
    return { name, table, r, ec };
  });
  const responses: Record<string, Item[]> = {};
  const capacity = new Map<string, Capacity>();
  for (const { name, table, r, ec } of plan) {
    let units = 0;
    responses[name] = [];
    for (const key of r.Keys ?? []) {
      const item = table.get(key);
      if (item) units += readUnits(itemSize(item), r.ConsistentRead === true);
      if (item) responses[name].push(project(item, r.ProjectionExpression, ec));
    }
    const c: Capacity = { table: name, tableUnits: units, indexUnits: {} };
    countUnits(ctx.tally, 'read', c);
    addCapacity(capacity, c);
  }
  return { Responses: responses, UnprocessedKeys: {}, ...consumedList(body.ReturnConsumedCapacity, capacity) };
}

export function batchWriteItem(body: Body, ctx: OperationContext): Body {
  const requests = (body.RequestItems ?? {}) as Record<string, WriteRequest[]>;
  const total = Object.values(requests).reduce((n, r) => n + r.length, 0);
  if (total === 0) throw new ValidationError('1 validation error detected: Value at \'requestItems\' failed to satisfy constraint: Member must have length greater than or equal to 1');
  if (total > BATCH_WRITE_MAX_REQUESTS) throw new ValidationError('Too many items requested for the BatchWriteItem call');
  const plan = Object.entries(requests).map(([name, list]) => {
    const table = ctx.table(name);
    const ids = new Set<string>();
    for (const w of list) {
      if ((w.PutRequest === undefined) === (w.DeleteRequest === undefined)) throw new ValidationError('Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
      if (w.PutRequest) table.validateItem(w.PutRequest.Item);
      ids.add(w.PutRequest ? table.keyId(w.PutRequest.Item, false) : table.keyId(w.DeleteRequest!.Key, true));
    }
    if (ids.size !== list.length) throw new ValidationError('Provided list of item keys contains duplicates');
    return { name, table, list };
  });
  const capacity = new Map<string, Capacity>();
  for (const { name, table, list } of plan) {
    for (const w of list) {
      const { cost } = w.PutRequest ? table.put(w.PutRequest.Item) : table.delete(w.DeleteRequest!.Key);
      const c = writeCapacity(name, cost);
      countUnits(ctx.tally, 'write', c);
      addCapacity(capacity, c);
    }
  }
  return { UnprocessedItems: {}, ...consumedList(body.ReturnConsumedCapacity, capacity) };
}

type TransactAction = Record<'Put' | 'Update' | 'Delete' | 'ConditionCheck', Body | undefined>;

/** One validated transaction action: what it will do to which table. */
interface PlannedWrite {
  readonly table: DynamoTable;
  readonly apply: () => { table: number; indexes: Record<string, number> };
}

export function transactWriteItems(body: Body, ctx: OperationContext): Body {
  const actions = (body.TransactItems ?? []) as TransactAction[];
  if (actions.length === 0 || actions.length > TRANSACT_WRITE_MAX_ACTIONS) {
    throw new ValidationError(`1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length between 1 and ${TRANSACT_WRITE_MAX_ACTIONS}`);
  }
  const seen = new Set<string>();
  const planned = actions.map((action) => {
    const p = planAction(action, ctx);
    if (seen.has(p.id)) throw new ValidationError('Transaction request cannot include multiple operations on one item');
    seen.add(p.id);
    return p;
  });
  const capacity = new Map<string, Capacity>();
  for (const p of planned) {
    const c = writeCapacity(p.table.schema.name, p.apply(), TRANSACTION_FACTOR);
    countUnits(ctx.tally, 'write', c);
    addCapacity(capacity, c);
  }
  return consumedList(body.ReturnConsumedCapacity, capacity);
}

/** Validates one action (placeholders, key, the new item) without changing anything. */
function planAction(action: TransactAction, ctx: OperationContext): PlannedWrite & { id: string } {
  const kinds = (['Put', 'Update', 'Delete', 'ConditionCheck'] as const).filter((k) => action[k] !== undefined);
  if (kinds.length !== 1) throw new ValidationError('TransactItems can only contain one of Check, Put, Update or Delete');
  const kind = kinds[0]!;
  const a = action[kind]!;
  const table = ctx.table(a.TableName);
  const ec = expressionContext(a);
  checkPlaceholders(ec, [a.ConditionExpression as string | undefined, a.UpdateExpression as string | undefined]);
  if (kind === 'Put') {
    const item = a.Item as Item;
    table.validateItem(item);
    return { table, id: `${table.schema.name}\u0001${table.keyId(item, false)}`, apply: () => table.put(item).cost };
  }
  const key = a.Key as Item;
  const id = `${table.schema.name}\u0001${table.keyId(key, true)}`;
  if (kind === 'Delete') return { table, id, apply: () => table.delete(key).cost };
  if (kind === 'ConditionCheck') {
    const item = table.get(key);
    return { table, id, apply: () => ({ table: writeUnits(item ? itemSize(item) : 0), indexes: {} }) };
  }
  if (typeof a.UpdateExpression !== 'string') throw new ValidationError('latency model: Update needs an UpdateExpression');
  const next = applyUpdate(table.get(key) ?? key, a.UpdateExpression, ec);
  table.validateItem(next);
  if (table.keyId(next, false) !== table.keyId(key, true)) throw new ValidationError('One or more parameter values were invalid: Cannot update attribute of the key');
  return { table, id, apply: () => table.put(next).cost };
}
