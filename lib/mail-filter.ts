/**
 * `MailFilter`: which `Mail Stored` events an `onMail` rule sends on, as an EventBridge
 * event pattern (content filtering on the detail of lambda/events/mail-stored-detail.ts),
 * and which message objects those events can name (for the rule's read grant). Pure: no
 * constructs, so the pattern and the key patterns are tested as values.
 */
import type { EventPattern } from 'aws-cdk-lib/aws-events';
import { validId } from '../lambda/config/parse-mailbox';
import { MAIL_STORED_DETAIL_TYPE, MAIL_STORED_SOURCE } from '../lambda/events/mail-stored-detail';
import { objectKeyFor } from '../lambda/storage/object-key';

/**
 * What an `onMail` rule matches. Fields combine with AND; the values of one field with OR.
 * A filter without fields matches every `Mail Stored` event of the fetcher's bus.
 */
export interface MailFilter {
  /**
   * Mailbox ids (exact). Also scopes `grantRead` to these mailboxes' objects.
   * @default any mailbox
   */
  readonly mailbox?: string | readonly string[];
  /**
   * Sender addresses (`from.address`), case-insensitive (EventBridge `equals-ignore-case`).
   * Not with `fromDomain`.
   * @default any sender
   */
  readonly from?: string | readonly string[];
  /**
   * Sender domains, without `@` (`example.org` matches `anyone@example.org`, in any case,
   * but not `anyone@mail.example.org`: name subdomains too). Not with `from`.
   * @default any domain
   */
  readonly fromDomain?: string | readonly string[];
  /**
   * The decoded subject starts with this, case-insensitive. Mail without a subject never matches.
   * @default any subject
   */
  readonly subjectPrefix?: string;
  /**
   * Smallest stored size in octets, inclusive.
   * @default no lower bound
   */
  readonly minSize?: number;
  /**
   * Largest stored size in octets, inclusive.
   * @default no upper bound
   */
  readonly maxSize?: number;
  /**
   * As the top-level header says (multipart/mixed, or a single part that is an attachment).
   * @default either
   */
  readonly hasAttachments?: boolean;
}

export const MAIL_FILTER_ERROR_CODE = 'INVALID_MAIL_FILTER';

/**
 * EventBridge numeric matching covers -5e9..5e9 (Event Ruler's ComparableNumber); sizes
 * beyond it could not be matched anyway.
 */
export const MAX_FILTER_SIZE_OCTETS = 5_000_000_000;
/** Longest string value in a filter: a pattern holds many, and EventBridge caps the pattern's size. */
const MAX_FILTER_VALUE_CHARS = 1_000;

/** The one error `onMail` throws for a bad filter, listing every problem. */
export class MailFilterError extends Error {
  override readonly name = 'MailFilterError';
  readonly code = MAIL_FILTER_ERROR_CODE;
  readonly problems: readonly string[];

  constructor(ruleId: string, problems: readonly string[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(`Invalid onMail filter of rule "${ruleId}" (${count}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = Object.freeze([...problems]);
  }
}

/**
 * @throws MailFilterError listing every problem of `filter`
 */
export function validateMailFilter(ruleId: string, filter: MailFilter): void {
  const problems = [...mailboxProblems(filter.mailbox), ...senderProblems(filter), ...subjectProblems(filter.subjectPrefix), ...sizeProblems(filter)];
  if (filter.hasAttachments !== undefined && typeof filter.hasAttachments !== 'boolean') problems.push('hasAttachments: must be true or false');
  if (problems.length > 0) throw new MailFilterError(ruleId, problems);
}

/** The event pattern of a valid filter: the worker's source and detail type, and the filter's detail fields. */
export function mailEventPattern(filter: MailFilter): EventPattern {
  const detail: Record<string, unknown> = {};
  if (filter.mailbox !== undefined) detail.mailbox = listOf(filter.mailbox);
  if (filter.from !== undefined) detail.from = { address: listOf(filter.from).map((a) => ({ 'equals-ignore-case': a })) };
  if (filter.fromDomain !== undefined) {
    detail.from = { address: listOf(filter.fromDomain).map((d) => ({ suffix: { 'equals-ignore-case': `@${d}` } })) };
  }
  if (filter.subjectPrefix !== undefined) detail.subject = [{ prefix: { 'equals-ignore-case': filter.subjectPrefix } }];
  const size = sizeCondition(filter);
  if (size.length > 0) detail.size = [{ numeric: size }];
  if (filter.hasAttachments !== undefined) detail.hasAttachments = [filter.hasAttachments];
  return {
    source: [MAIL_STORED_SOURCE],
    detailType: [MAIL_STORED_DETAIL_TYPE],
    ...(Object.keys(detail).length === 0 ? {} : { detail }),
  };
}

/**
 * The object key patterns of the messages a valid filter's events can name: each
 * mailbox's `<prefix><mailbox>/*`, or `<prefix>*` without a mailbox filter. The mailbox
 * segment comes from the worker's own `objectKeyFor`, so the grant and the keys agree.
 */
export function mailObjectPatterns(prefix: string, filter: MailFilter): string[] {
  if (filter.mailbox === undefined) return [`${prefix}*`];
  return [...new Set(listOf(filter.mailbox))].map((mailbox) => `${mailboxKeyPrefix(prefix, mailbox)}*`);
}

/** `<prefix><mailbox>/`: a key of the mailbox up to its last `/` (an object name has none). */
function mailboxKeyPrefix(prefix: string, mailbox: string): string {
  const key = objectKeyFor(prefix, mailbox, 'x');
  return key.slice(0, key.lastIndexOf('/') + 1);
}

function sizeCondition(filter: MailFilter): (string | number)[] {
  return [...(filter.minSize === undefined ? [] : ['>=', filter.minSize]), ...(filter.maxSize === undefined ? [] : ['<=', filter.maxSize])];
}

function listOf(value: string | readonly string[]): string[] {
  return typeof value === 'string' ? [value] : [...value];
}

function mailboxProblems(value: MailFilter['mailbox']): string[] {
  return stringListProblems('mailbox', value, (id) =>
    validId(id) === undefined ? `${JSON.stringify(id)} is not a mailbox id (letters, digits, ".", "_", "-"; at most 64)` : undefined,
  );
}

function senderProblems(filter: MailFilter): string[] {
  const problems = [
    ...stringListProblems('from', filter.from, (address) => (/\s/.test(address) ? `${JSON.stringify(address)} must not contain blanks` : undefined)),
    ...stringListProblems('fromDomain', filter.fromDomain, (domain) =>
      /[@\s]/.test(domain) ? `${JSON.stringify(domain)} must be a domain without "@" or blanks (e.g. "example.org")` : undefined,
    ),
  ];
  if (filter.from !== undefined && filter.fromDomain !== undefined) {
    problems.push('fromDomain: give from or fromDomain, not both (list the addresses of the domain in from instead)');
  }
  return problems;
}

function subjectProblems(value: string | undefined): string[] {
  if (value === undefined) return [];
  if (typeof value !== 'string' || value === '') return ['subjectPrefix: must be a non-empty string (leave it out to match any subject)'];
  return value.length > MAX_FILTER_VALUE_CHARS ? [`subjectPrefix: at most ${MAX_FILTER_VALUE_CHARS} characters (got ${value.length})`] : [];
}

/**
 * A string or a non-empty list of non-empty strings, each passing `check`.
 * @param check a problem with one value, or undefined
 */
function stringListProblems(name: string, value: string | readonly string[] | undefined, check: (value: string) => string | undefined): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return valueProblems(name, value, check);
  if (!Array.isArray(value)) return [`${name}: must be a string or a list of strings`];
  if (value.length === 0) return [`${name}: must not be an empty list (leave it out to match any ${name})`];
  return value.flatMap((v: unknown, index) => valueProblems(`${name}[${index}]`, v, check));
}

function valueProblems(path: string, value: unknown, check: (value: string) => string | undefined): string[] {
  if (typeof value !== 'string' || value === '') return [`${path}: must be a non-empty string`];
  if (value.length > MAX_FILTER_VALUE_CHARS) return [`${path}: at most ${MAX_FILTER_VALUE_CHARS} characters (got ${value.length})`];
  const problem = check(value);
  return problem === undefined ? [] : [`${path}: ${problem}`];
}

function sizeProblems(filter: MailFilter): string[] {
  const problems: string[] = [];
  for (const name of ['minSize', 'maxSize'] as const) {
    const n = filter[name];
    if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > MAX_FILTER_SIZE_OCTETS)) {
      problems.push(`${name}: must be a whole number of octets from 0 to ${MAX_FILTER_SIZE_OCTETS} (got ${n})`);
    }
  }
  const { minSize, maxSize } = filter;
  if (problems.length === 0 && minSize !== undefined && maxSize !== undefined && minSize > maxSize) {
    problems.push(`minSize: must not exceed maxSize (${maxSize}) (got ${minSize})`);
  }
  return problems;
}
