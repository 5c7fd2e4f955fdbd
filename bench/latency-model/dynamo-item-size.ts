/**
 * DynamoDB item sizes and the capacity units they cost, by DynamoDB's published rules
 * (Developer Guide, "Item sizes and formats" and "Read/write capacity mode"):
 *
 * - an item is the sum of its attribute names (UTF-8 bytes) and values: strings in UTF-8
 *   bytes, binary in bytes, a number about 1 byte per 2 significant digits plus 1, BOOL and
 *   NULL 1 byte, a list or map 3 bytes plus 1 per element plus the elements;
 * - a write costs 1 unit per started 1 KB of the larger of the item before and after;
 * - a read costs 1 unit per started 4 KB strongly consistent, half that eventually
 *   consistent; a Query adds up the items it reads before rounding, a batch read rounds
 *   each item; a GetItem of a missing item still costs the minimum, an empty Query or a
 *   missing item in a batch nothing (as DynamoDB Local, AWS's own emulator, reports).
 */

/** DynamoDB's attribute value, as the JSON protocol carries it. */
export interface AttributeValue {
  S?: string;
  N?: string;
  B?: string;
  BOOL?: boolean;
  NULL?: boolean;
  L?: AttributeValue[];
  M?: Record<string, AttributeValue>;
  SS?: string[];
  NS?: string[];
  BS?: string[];
}
export type Item = Record<string, AttributeValue>;

export const WRITE_UNIT_BYTES = 1024;
export const READ_UNIT_BYTES = 4096;
/** DynamoDB refuses items over 400 KB. */
export const MAX_ITEM_BYTES = 400 * 1024;
/** Transactions cost two units per item unit (prepare and commit). */
export const TRANSACTION_FACTOR = 2;
/** Overhead of a list or map value, plus one byte per element. */
const CONTAINER_OVERHEAD_BYTES = 3;

export function itemSize(item: Item): number {
  let size = 0;
  for (const name in item) size += Buffer.byteLength(name, 'utf8') + valueSize(item[name]!);
  return size;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S, 'utf8');
  if (v.N !== undefined) return numberSize(v.N);
  if (v.B !== undefined) return Buffer.byteLength(v.B, 'base64');
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.L !== undefined) return v.L.reduce((sum, e) => sum + 1 + valueSize(e), CONTAINER_OVERHEAD_BYTES);
  if (v.M !== undefined) return CONTAINER_OVERHEAD_BYTES + itemSize(v.M) + Object.keys(v.M).length;
  if (v.SS !== undefined) return v.SS.reduce((sum, s) => sum + Buffer.byteLength(s, 'utf8'), 0);
  if (v.NS !== undefined) return v.NS.reduce((sum, n) => sum + numberSize(n), 0);
  if (v.BS !== undefined) return v.BS.reduce((sum, b) => sum + Buffer.byteLength(b, 'base64'), 0);
  return 0;
}

/** About one byte per two significant digits, plus one (plus one more when negative). */
function numberSize(n: string): number {
  const mantissa = n.replace(/^[-+]/, '').replace(/e.*$/i, '').replace('.', '');
  const digits = mantissa.replace(/^0+/, '').replace(/0+$/, '').length;
  return Math.ceil(Math.max(digits, 1) / 2) + 1 + (n.startsWith('-') ? 1 : 0);
}

/** Units of one item write of `bytes` (0 bytes: nothing was there, still the minimum). */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));
}

/** Units of reading `bytes` in one go (one item, or everything one Query page read). */
export function readUnits(bytes: number, consistent: boolean): number {
  const units = Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
  return consistent ? units : units / 2;
}
