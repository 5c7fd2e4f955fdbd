/**
 * The parts of DynamoDB's expression language the latency model evaluates: key conditions
 * (`pk = :v`, with `sk` compared by =, <, <=, >, >=, BETWEEN or begins_with), update
 * expressions (SET with if_not_exists, list_append and + / -, REMOVE, ADD, DELETE on
 * top-level attributes) and projections. Condition and filter expressions are not
 * evaluated (see latency-dynamodb.ts), but every expression's `#name` and `:value`
 * placeholders are checked as DynamoDB checks them: each one used must be defined and
 * each one defined must be used.
 */
import type { AttributeValue, Item } from './dynamo-item-size';

/** A request DynamoDB would refuse (HTTP 400 ValidationException). */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
}

export interface ExpressionContext {
  readonly names?: Record<string, string>;
  readonly values?: Record<string, AttributeValue>;
}

const NAME_TOKEN = /#[A-Za-z0-9_]+/g;
const VALUE_TOKEN = /:[A-Za-z0-9_]+/g;

/** Refuses placeholders used but not defined, or defined but not used, across `expressions`. */
export function checkPlaceholders(ctx: ExpressionContext, expressions: readonly (string | undefined)[]): void {
  const text = expressions.filter((e): e is string => e !== undefined).join('\n');
  const usedNames = new Set(text.match(NAME_TOKEN) ?? []);
  const usedValues = new Set(text.match(VALUE_TOKEN) ?? []);
  const problems: string[] = [];
  for (const n of usedNames) if (ctx.names?.[n] === undefined) problems.push(`An expression attribute name used in the document path is not defined; attribute name: ${n}`);
  for (const v of usedValues) if (ctx.values?.[v] === undefined) problems.push(`An expression attribute value used in expression is not defined; attribute value: ${v}`);
  for (const n of Object.keys(ctx.names ?? {})) if (!usedNames.has(n)) problems.push(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${n}}`);
  for (const v of Object.keys(ctx.values ?? {})) if (!usedValues.has(v)) problems.push(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${v}}`);
  if (problems.length > 0) throw new ValidationError(`Invalid expression: ${problems.join('; ')}`);
}

/** A top-level attribute name (`#x` resolved); document paths are not supported. */
export function attributeName(token: string, ctx: ExpressionContext): string {
  const t = token.trim();
  if (t.startsWith('#')) return ctx.names![t]!;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(t)) throw new ValidationError(`latency model: unsupported attribute path ${JSON.stringify(t)}`);
  return t;
}

function attributeValue(token: string, ctx: ExpressionContext): AttributeValue {
  const t = token.trim();
  const v = t.startsWith(':') ? ctx.values?.[t] : undefined;
  if (v === undefined) throw new ValidationError(`latency model: expected a :value, got ${JSON.stringify(t)}`);
  return v;
}

// ---------------------------------------------------------------------------------------
// Key conditions

export type RangeCondition =
  | { readonly op: '=' | '<' | '<=' | '>' | '>='; readonly value: AttributeValue }
  | { readonly op: 'between'; readonly low: AttributeValue; readonly high: AttributeValue }
  | { readonly op: 'begins_with'; readonly value: AttributeValue };

export interface KeyCondition {
  readonly hashName: string;
  readonly hashValue: AttributeValue;
  readonly rangeName?: string;
  readonly range?: RangeCondition;
}

const BEGINS_WITH = /^begins_with\s*\(\s*([^,\s]+)\s*,\s*(:[A-Za-z0-9_]+)\s*\)$/i;
const BETWEEN = /^(\S+)\s+BETWEEN\s+(:[A-Za-z0-9_]+)\s+AND\s+(:[A-Za-z0-9_]+)$/i;
const COMPARISON = /^(\S+?)\s*(<=|>=|<|>|=)\s*(:[A-Za-z0-9_]+)$/;

/** Parses `hash = :v [AND range-condition]` (either order, optional parentheses). */
export function parseKeyCondition(expression: string, ctx: ExpressionContext, hashKey: string): KeyCondition {
  const parts: string[] = [];
  for (const piece of expression.split(/\s+AND\s+/i)) {
    // BETWEEN's own AND joins its two bounds back together.
    if (parts.length > 0 && /\sBETWEEN\s+\S+$/i.test(parts[parts.length - 1]!)) parts[parts.length - 1] += ` AND ${piece}`;
    else parts.push(piece);
  }
  let hash: { name: string; value: AttributeValue } | undefined;
  let range: { name: string; cond: RangeCondition } | undefined;
  for (const raw of parts) {
    const part = raw.trim().replace(/^\((.*)\)$/s, '$1').trim();
    let m: RegExpExecArray | null;
    if ((m = BEGINS_WITH.exec(part))) range = { name: attributeName(m[1]!, ctx), cond: { op: 'begins_with', value: attributeValue(m[2]!, ctx) } };
    else if ((m = BETWEEN.exec(part))) range = { name: attributeName(m[1]!, ctx), cond: { op: 'between', low: attributeValue(m[2]!, ctx), high: attributeValue(m[3]!, ctx) } };
    else if ((m = COMPARISON.exec(part))) {
      const name = attributeName(m[1]!, ctx);
      const value = attributeValue(m[3]!, ctx);
      if (name === hashKey && m[2] === '=') hash = { name, value };
      else range = { name, cond: { op: m[2] as '=' | '<' | '<=' | '>' | '>=', value } };
    } else throw new ValidationError(`latency model: unsupported key condition ${JSON.stringify(part)}`);
  }
  if (hash === undefined || parts.length > 2) throw new ValidationError('Query condition missed key schema element');
  return { hashName: hash.name, hashValue: hash.value, ...(range ? { rangeName: range.name, range: range.cond } : {}) };
}

// ---------------------------------------------------------------------------------------
// Update expressions

const CLAUSE = /\b(SET|REMOVE|ADD|DELETE)\b/gi;

/** Applies an UpdateExpression to a copy of `item` (the key attributes are already in it). */
export function applyUpdate(item: Item, expression: string, ctx: ExpressionContext): Item {
  const out: Item = { ...item };
  const marks = [...expression.matchAll(CLAUSE)];
  if (marks.length === 0 || expression.slice(0, marks[0]!.index).trim() !== '') throw new ValidationError(`latency model: unsupported update expression ${JSON.stringify(expression)}`);
  marks.forEach((m, i) => {
    const body = expression.slice(m.index + m[0].length, marks[i + 1]?.index ?? expression.length);
    const actions = splitTopLevel(body, ',');
    const clause = m[1]!.toUpperCase();
    for (const action of actions) {
      if (clause === 'SET') setAction(out, action, ctx);
      else if (clause === 'REMOVE') delete out[attributeName(action, ctx)];
      else addOrDelete(out, clause, action, ctx);
    }
  });
  return out;
}

function setAction(item: Item, action: string, ctx: ExpressionContext): void {
  const eq = action.indexOf('=');
  if (eq < 0) throw new ValidationError(`latency model: unsupported SET action ${JSON.stringify(action)}`);
  const name = attributeName(action.slice(0, eq), ctx);
  item[name] = evaluateOperand(action.slice(eq + 1).trim(), item, ctx);
}

/** `operand`, `operand + operand`, `operand - operand`, if_not_exists(...), list_append(...). */
function evaluateOperand(text: string, item: Item, ctx: ExpressionContext): AttributeValue {
  const sum = splitTopLevel(text, '+');
  const diff = sum.length === 1 ? splitTopLevel(text, '-') : [];
  if (sum.length === 2 || diff.length === 2) {
    const [a, b] = (sum.length === 2 ? sum : diff).map((x) => Number(evaluateOperand(x, item, ctx).N));
    return { N: String(sum.length === 2 ? a! + b! : a! - b!) };
  }
  const call = /^(if_not_exists|list_append)\s*\((.*)\)$/is.exec(text);
  if (call) {
    const [first, second] = splitTopLevel(call[2]!, ',');
    if (call[1]!.toLowerCase() === 'if_not_exists') return item[attributeName(first!, ctx)] ?? evaluateOperand(second!, item, ctx);
    return { L: [...(evaluateOperand(first!, item, ctx).L ?? []), ...(evaluateOperand(second!, item, ctx).L ?? [])] };
  }
  if (text.startsWith(':')) return attributeValue(text, ctx);
  const existing = item[attributeName(text, ctx)];
  if (existing === undefined) throw new ValidationError('The provided expression refers to an attribute that does not exist in the item');
  return existing;
}

function addOrDelete(item: Item, clause: string, action: string, ctx: ExpressionContext): void {
  const [path, valueToken] = action.trim().split(/\s+/);
  const name = attributeName(path!, ctx);
  const value = attributeValue(valueToken!, ctx);
  const current = item[name];
  if (value.N !== undefined && clause === 'ADD') {
    item[name] = { N: String(Number(current?.N ?? 0) + Number(value.N)) };
    return;
  }
  const kind = value.SS ? 'SS' : value.NS ? 'NS' : value.BS ? 'BS' : undefined;
  if (kind === undefined) throw new ValidationError(`latency model: ${clause} needs a number or a set`);
  const merged = new Set(current?.[kind] ?? []);
  for (const e of value[kind]!) {
    if (clause === 'ADD') merged.add(e);
    else merged.delete(e);
  }
  if (merged.size === 0) delete item[name];
  else item[name] = { [kind]: [...merged] };
}

/** Splits at `sep` outside parentheses. */
function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === sep && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out.filter((x) => x !== '');
}

// ---------------------------------------------------------------------------------------
// Projections

/** The attributes a ProjectionExpression names (top-level only), or all when there is none. */
export function project(item: Item, projection: string | undefined, ctx: ExpressionContext): Item {
  if (projection === undefined) return item;
  const out: Item = {};
  for (const token of projection.split(',')) {
    const name = attributeName(token, ctx);
    if (item[name] !== undefined) out[name] = item[name];
  }
  return out;
}
