import { checkKeys } from './check-keys';
import { fieldAt, readInteger, readOptional, type Reader } from './field-readers';
import { has, isObject, type JsonObject } from './json-object';
import { DEFAULT_LIMITS, type MailboxLimits } from './mailbox-config';
import type { Problems } from './problems';

/** S3's single-object PUT limit; a larger message would not fit one Lambda run anyway. */
const MAX_MESSAGE_BYTES_LIMIT = 5 * 1024 ** 3;
export const LIMIT_KEYS = ['maxMessagesPerRun', 'maxBytesPerRun', 'maxMessageBytes'] as const satisfies readonly (keyof MailboxLimits)[];
type LimitKey = (typeof LIMIT_KEYS)[number];

const readPositiveInteger: Reader<number> = (f, p) => readInteger(f, 1, Number.MAX_SAFE_INTEGER, 'must be a positive integer', p);
const LIMIT_READERS: { readonly [K in LimitKey]: Reader<number> } = {
  maxMessagesPerRun: readPositiveInteger,
  maxBytesPerRun: readPositiveInteger,
  maxMessageBytes: (f, p) => readInteger(f, 1, MAX_MESSAGE_BYTES_LIMIT, `must be an integer from 1 to ${MAX_MESSAGE_BYTES_LIMIT} (5 GiB)`, p),
};

/**
 * A mailbox's limits, each from the mailbox, else from `defaults`, else the built-in default.
 * @param label how the mailbox is named in problems
 */
export function readLimits(raw: JsonObject, label: string, defaults: JsonObject | undefined, problems: Problems): MailboxLimits {
  // Deep merge: a mailbox may override one limit and inherit the others from defaults.
  const ownPath = `${label}.limits`;
  const own = limitsObject(raw, ownPath, problems);
  const inherited = defaults ? limitsObject(defaults, 'defaults.limits', problems) : undefined;
  const pick = (key: LimitKey): number => {
    const field = (own && fieldAt(own, key, ownPath)) ?? (inherited && fieldAt(inherited, key, 'defaults.limits'));
    return readOptional(field, problems, LIMIT_READERS[key]) ?? DEFAULT_LIMITS[key];
  };
  return Object.freeze({
    maxMessagesPerRun: pick('maxMessagesPerRun'),
    maxBytesPerRun: pick('maxBytesPerRun'),
    maxMessageBytes: pick('maxMessageBytes'),
  });
}

function limitsObject(container: JsonObject, path: string, problems: Problems): JsonObject | undefined {
  if (!has(container, 'limits')) return undefined;
  const limits = container.limits;
  if (!isObject(limits)) {
    problems.add(path, `must be an object with ${LIMIT_KEYS.join(', ')}`);
    return undefined;
  }
  checkKeys(limits, LIMIT_KEYS, path, problems);
  return limits;
}
