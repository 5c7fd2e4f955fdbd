/**
 * Field readers: each returns the value, or undefined after adding a problem, so one pass
 * over a mailbox finds every problem in it.
 */
import { has, type JsonObject } from './json-object';
import type { Problems } from './problems';

/** A value together with the path it came from (the mailbox itself, or `defaults`). */
export interface Field {
  readonly value: unknown;
  readonly path: string;
}

export type Reader<T> = (field: Field, problems: Problems) => T | undefined;

/** `obj[key]` as a field at `<path>.<key>`, or undefined when the key is not set. */
export function fieldAt(obj: JsonObject, key: string, path: string): Field | undefined {
  return has(obj, key) ? { value: obj[key], path: `${path}.${key}` } : undefined;
}

/** @param path where the missing field is reported */
export function readRequired<T>(field: Field | undefined, path: string, problems: Problems, read: Reader<T>): T | undefined {
  if (field === undefined) {
    problems.add(path, 'is required');
    return undefined;
  }
  return read(field, problems);
}

export function readOptional<T>(field: Field | undefined, problems: Problems, read: Reader<T>): T | undefined {
  return field === undefined ? undefined : read(field, problems);
}

export function readNonEmptyString(field: Field, problems: Problems): string | undefined {
  if (typeof field.value === 'string' && field.value.length > 0) return field.value;
  problems.add(field.path, `must be a non-empty string, ${given(field.value)}`);
  return undefined;
}

export function readBoolean(field: Field, problems: Problems): boolean | undefined {
  if (typeof field.value === 'boolean') return field.value;
  problems.add(field.path, `must be true or false, ${given(field.value)}`);
  return undefined;
}

/** JSON's own spelling of a number or a boolean, quoted by mistake. */
const QUOTED_LITERAL = /^(?:-?\d+(?:\.\d+)?|true|false)$/;

/**
 * What a refused value was, for the message. Numbers, booleans and quoted numbers or
 * booleans are shown; any other string only as "a string": it could be a misplaced secret.
 */
export function given(value: unknown): string {
  if (typeof value === 'string') {
    if (value === '') return 'got an empty string';
    return QUOTED_LITERAL.test(value) ? `got "${value}", a string: write ${value} without quotes` : 'got a string';
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `got ${String(value)}`;
  if (value === null) return 'got null';
  return Array.isArray(value) ? 'got an array' : 'got an object';
}

export function readChoice<T extends string>(field: Field, choices: readonly T[], problems: Problems): T | undefined {
  const v = field.value;
  const match = choices.find((c) => c === v);
  if (match !== undefined) return match;
  // `xoauth2` for `XOAUTH2`, `Implicit` for `implicit`: say which one was meant.
  const caseless = typeof v === 'string' ? choices.find((c) => c.toLowerCase() === v.toLowerCase()) : undefined;
  const hint = caseless ? ` (did you mean "${caseless}"?)` : typeof v === 'string' ? '' : `, ${given(v)}`;
  problems.add(field.path, `must be one of ${choices.join(', ')}${hint}`);
  return undefined;
}

/** A safe integer from `min` to `max`; `message` says so in the field's own terms. */
export function readInteger(field: Field, min: number, max: number, message: string, problems: Problems): number | undefined {
  const v = field.value;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max) return v;
  problems.add(field.path, `${message}, ${given(v)}`);
  return undefined;
}
