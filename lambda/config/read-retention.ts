import { checkKeys } from './check-keys';
import { fieldAt, readInteger, readRequired, type Field } from './field-readers';
import { isObject } from './json-object';
import type { Retention } from './mailbox-config';
import type { Problems } from './problems';

/** Ten years: anything longer is "keep" with extra steps, and likely a unit mistake. */
const MAX_RETENTION_DAYS = 3_650;

/** `"keep"`, `"delete"` or `{ "deleteAfterDays": n }`. */
export function readRetention(field: Field, problems: Problems): Retention | undefined {
  const v = field.value;
  if (v === 'keep' || v === 'delete') return v;
  if (!isObject(v)) {
    problems.add(field.path, `must be "keep", "delete" or { "deleteAfterDays": 1..${MAX_RETENTION_DAYS} }`);
    return undefined;
  }
  checkKeys(v, ['deleteAfterDays'], field.path, problems);
  const days = readRequired(fieldAt(v, 'deleteAfterDays', field.path), `${field.path}.deleteAfterDays`, problems, (f, p) =>
    readInteger(f, 1, MAX_RETENTION_DAYS, `must be an integer from 1 to ${MAX_RETENTION_DAYS}`, p),
  );
  return days === undefined ? undefined : Object.freeze({ deleteAfterDays: days });
}
