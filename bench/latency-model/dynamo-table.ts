/**
 * One in-memory DynamoDB table of the latency model: items by partition and sort key, its
 * global secondary indexes (maintained by scanning, which is cheap at bench sizes), Query
 * pages in key order capped at 1 MB like DynamoDB's, and the write units every change
 * costs, table and indexes (a GSI write costs one put, one delete, or both when the
 * item's index key changed).
 */
import type { KeyCondition, RangeCondition } from './dynamo-expressions';
import { ValidationError } from './dynamo-expressions';
import { itemSize, MAX_ITEM_BYTES, writeUnits, type AttributeValue, type Item } from './dynamo-item-size';
import { compareUtf8 } from './utf8-order';

/** DynamoDB returns at most 1 MB of items per Query page. */
export const QUERY_PAGE_MAX_BYTES = 1024 * 1024;

export interface KeySchema {
  readonly hash: string;
  readonly range?: string;
}

export interface IndexSchema extends KeySchema {
  readonly name: string;
}

export interface TableSchema {
  readonly name: string;
  readonly key: KeySchema;
  /** Declared attribute types (S, N or B) of every key attribute, table and indexes. */
  readonly types: Readonly<Record<string, string>>;
  readonly indexes: readonly IndexSchema[];
}

/** Write units of one change: the table's and each index's. */
export interface WriteCost {
  readonly table: number;
  readonly indexes: Record<string, number>;
}

export interface QueryOptions {
  readonly index?: IndexSchema;
  readonly forward: boolean;
  readonly limit?: number;
  readonly exclusiveStart?: Item;
}

export interface QueryPage {
  readonly items: Item[];
  /** Bytes of every item read (what the read units are computed from). */
  readonly bytes: number;
  readonly lastKey?: Item;
}

interface Partition {
  readonly items: Map<string, Item>;
  /** Items in sort-key order, rebuilt after an insert or delete. */
  sorted?: Item[];
}

export class DynamoTable {
  private readonly partitions = new Map<string, Partition>();
  ttlAttribute: string | undefined;

  constructor(readonly schema: TableSchema) {}

  get itemCount(): number {
    let n = 0;
    for (const p of this.partitions.values()) n += p.items.size;
    return n;
  }

  get(key: Item): Item | undefined {
    const [h, r] = this.keyStrings(key, true);
    return this.partitions.get(h)?.items.get(r);
  }

  /** A string naming the item `key` identifies (`exact`: the key holds nothing but key attributes). */
  keyId(key: Item, exact: boolean): string {
    return this.keyStrings(key, exact).join('\u0000');
  }

  /** Refuses an item DynamoDB would refuse: key attributes missing or mistyped, over 400 KB. */
  validateItem(item: Item): void {
    if (itemSize(item) > MAX_ITEM_BYTES) throw new ValidationError('Item size has exceeded the maximum allowed size');
    this.checkIndexKeys(item);
    this.keyStrings(item, false);
  }

  /** Stores `item` (replacing any item with its key); returns what was there and the cost. */
  put(item: Item): { old: Item | undefined; cost: WriteCost } {
    this.validateItem(item);
    const [h, r] = this.keyStrings(item, false);
    let partition = this.partitions.get(h);
    if (partition === undefined) this.partitions.set(h, (partition = { items: new Map() }));
    const old = partition.items.get(r);
    partition.items.set(r, item);
    if (old === undefined) partition.sorted = undefined;
    else if (partition.sorted) partition.sorted[partition.sorted.indexOf(old)] = item;
    return { old, cost: this.cost(old, item) };
  }

  delete(key: Item): { old: Item | undefined; cost: WriteCost } {
    const [h, r] = this.keyStrings(key, true);
    const partition = this.partitions.get(h);
    const old = partition?.items.get(r);
    if (partition && old) {
      partition.items.delete(r);
      partition.sorted = undefined;
      if (partition.items.size === 0) this.partitions.delete(h);
    }
    return { old, cost: this.cost(old, undefined) };
  }

  /** One page of a Query on the table or one of its indexes. */
  query(cond: KeyCondition, o: QueryOptions): QueryPage {
    const schema = o.index ?? this.schema.key;
    if (cond.hashName !== schema.hash || (cond.range && cond.rangeName !== schema.range)) {
      throw new ValidationError('Query condition missed key schema element');
    }
    const order = o.index ? [o.index.range, this.schema.key.hash, this.schema.key.range] : [this.schema.key.range];
    const compare = comparator(order.filter((a): a is string => a !== undefined));
    let candidates = o.index ? this.indexItems(o.index, cond.hashValue, compare) : this.partitionItems(cond.hashValue);
    if (!o.forward) candidates = [...candidates].reverse();
    const items: Item[] = [];
    let bytes = 0;
    let i = 0;
    if (o.exclusiveStart) {
      const start = o.exclusiveStart;
      while (i < candidates.length && (o.forward ? compare(candidates[i]!, start) <= 0 : compare(candidates[i]!, start) >= 0)) i++;
    }
    for (; i < candidates.length; i++) {
      const item = candidates[i]!;
      if (cond.range && !matches(item[cond.rangeName!], cond.range)) continue;
      const size = itemSize(item);
      const full = (o.limit !== undefined && items.length >= o.limit) || (items.length > 0 && bytes + size > QUERY_PAGE_MAX_BYTES);
      if (full) return { items, bytes, lastKey: this.keyOf(items[items.length - 1]!, o.index) };
      items.push(item);
      bytes += size;
    }
    return { items, bytes };
  }

  /** The key attributes of `item` (table, and the index's when given): a LastEvaluatedKey. */
  keyOf(item: Item, index?: IndexSchema): Item {
    const names = [this.schema.key.hash, this.schema.key.range, index?.hash, index?.range].filter((a): a is string => a !== undefined);
    return Object.fromEntries(names.map((n) => [n, item[n]!]));
  }

  private partitionItems(hashValue: AttributeValue): Item[] {
    const partition = this.partitions.get(keyString(hashValue));
    if (partition === undefined) return [];
    if (partition.sorted === undefined) {
      const range = this.schema.key.range;
      partition.sorted = [...partition.items.values()];
      if (range !== undefined) partition.sorted.sort(comparator([range]));
    }
    return partition.sorted;
  }

  private indexItems(index: IndexSchema, hashValue: AttributeValue, compare: (a: Item, b: Item) => number): Item[] {
    const out: Item[] = [];
    const wanted = keyString(hashValue);
    for (const p of this.partitions.values()) {
      for (const item of p.items.values()) {
        const h = item[index.hash];
        if (h !== undefined && inIndex(item, index) && keyString(h) === wanted) out.push(item);
      }
    }
    return out.sort(compare);
  }

  /** Write units: the table's (larger of before and after), and each index the item is or was in. */
  private cost(before: Item | undefined, after: Item | undefined): WriteCost {
    const beforeSize = before ? itemSize(before) : 0;
    const afterSize = after ? itemSize(after) : 0;
    const indexes: Record<string, number> = {};
    for (const index of this.schema.indexes) {
      const was = before !== undefined && inIndex(before, index);
      const is = after !== undefined && inIndex(after, index);
      if (!was && !is) continue;
      const sameKey = was && is && [index.hash, index.range].every((a) => a === undefined || keyString(before[a]!) === keyString(after[a]!));
      indexes[index.name] = sameKey ? writeUnits(Math.max(beforeSize, afterSize)) : (was ? writeUnits(beforeSize) : 0) + (is ? writeUnits(afterSize) : 0);
    }
    return { table: writeUnits(Math.max(beforeSize, afterSize)), indexes };
  }

  /** The partition and sort key strings; `exact`: the key must name only key attributes (GetItem, DeleteItem). */
  private keyStrings(item: Item, exact: boolean): [string, string] {
    const { hash, range } = this.schema.key;
    if (exact && Object.keys(item).length !== (range === undefined ? 1 : 2)) throw new ValidationError('The provided key element does not match the schema');
    const h = this.keyAttribute(item, hash);
    return [h, range === undefined ? '' : this.keyAttribute(item, range)];
  }

  private keyAttribute(item: Item, name: string): string {
    const value = item[name];
    const type = this.schema.types[name]!;
    if (value === undefined) throw new ValidationError(`One or more parameter values were invalid: Missing the key ${name} in the item`);
    const s = (value as Record<string, unknown>)[type];
    if (typeof s !== 'string') throw new ValidationError(`One or more parameter values were invalid: Type mismatch for key ${name} expected: ${type}`);
    if (s === '') throw new ValidationError(`One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ${name}`);
    return keyString(value);
  }

  /** An index key attribute, when present, must have its declared type. */
  private checkIndexKeys(item: Item): void {
    for (const index of this.schema.indexes) {
      for (const name of [index.hash, index.range]) {
        if (name === undefined || item[name] === undefined) continue;
        const type = this.schema.types[name]!;
        if (typeof (item[name] as Record<string, unknown>)[type] !== 'string') {
          throw new ValidationError(`One or more parameter values were invalid: Type mismatch for Index Key ${name} Expected: ${type} IndexName: ${index.name}`);
        }
      }
    }
  }
}

function inIndex(item: Item, index: IndexSchema): boolean {
  return item[index.hash] !== undefined && (index.range === undefined || item[index.range] !== undefined);
}

/** A key value as a map key: its string, its number normalised, or its base64. */
function keyString(v: AttributeValue): string {
  if (v.S !== undefined) return `S${v.S}`;
  if (v.N !== undefined) return `N${Number(v.N)}`;
  return `B${v.B ?? ''}`;
}

function comparator(attributes: readonly string[]): (a: Item, b: Item) => number {
  return (a, b) => {
    for (const name of attributes) {
      const c = compareValues(a[name], b[name]);
      if (c !== 0) return c;
    }
    return 0;
  };
}

/** DynamoDB's key order: strings and binary by their bytes (UTF-8), numbers by value. */
export function compareValues(a: AttributeValue | undefined, b: AttributeValue | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  if (a.N !== undefined && b.N !== undefined) return Number(a.N) - Number(b.N);
  if (a.B !== undefined && b.B !== undefined) return Buffer.compare(Buffer.from(a.B, 'base64'), Buffer.from(b.B, 'base64'));
  return compareUtf8(a.S ?? '', b.S ?? '');
}

function matches(value: AttributeValue | undefined, cond: RangeCondition): boolean {
  if (value === undefined) return false;
  switch (cond.op) {
    case '=':
      return compareValues(value, cond.value) === 0;
    case '<':
      return compareValues(value, cond.value) < 0;
    case '<=':
      return compareValues(value, cond.value) <= 0;
    case '>':
      return compareValues(value, cond.value) > 0;
    case '>=':
      return compareValues(value, cond.value) >= 0;
    case 'between':
      return compareValues(value, cond.low) >= 0 && compareValues(value, cond.high) <= 0;
    case 'begins_with':
      if (value.B !== undefined && cond.value.B !== undefined) {
        const prefix = Buffer.from(cond.value.B, 'base64');
        return Buffer.from(value.B, 'base64').subarray(0, prefix.length).equals(prefix);
      }
      return value.S !== undefined && cond.value.S !== undefined && value.S.startsWith(cond.value.S);
  }
}
