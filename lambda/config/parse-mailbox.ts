/**
 * One mailbox: from the configuration file (with `defaults`) or from the Lambda event.
 * Every problem is collected; defaults are applied here, once; the result is frozen.
 */
import { AUTH_MECHANISMS, limits as pop3Limits, type AuthMechanismName, type TlsMode } from '../pop3';
import { checkKeys } from './check-keys';
import { fieldAt, readBoolean, readChoice, readInteger, readNonEmptyString, readOptional, readRequired, type Field } from './field-readers';
import { has, isObject, type JsonObject } from './json-object';
import { DEFAULT_SCHEDULE, type MailboxConfig } from './mailbox-config';
import { Problems } from './problems';
import { readHost } from './read-host';
import { CREDENTIAL_KEYS, readCredentials } from './read-credentials';
import { readLimits } from './read-limits';
import { readRetention } from './read-retention';
import { readSchedule } from './read-schedule';

const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const TLS_MODES: readonly TlsMode[] = ['implicit', 'starttls', 'none'];
export const AUTH_CHOICES: readonly (AuthMechanismName | 'auto')[] = ['auto', ...AUTH_MECHANISMS];
const MAX_PORT = 65_535;

export const MAILBOX_KEYS = [
  'id',
  'host',
  'port',
  'tls',
  'tlsCa',
  'tlsServername',
  'username',
  'auth',
  'password',
  'oauth',
  'clientCertificate',
  'allowPlaintextAuth',
  'retention',
  'limits',
  'pipelining',
  'hidesRetrievedMail',
  'schedule',
] as const satisfies readonly (keyof MailboxConfig)[];
type MailboxKey = (typeof MAILBOX_KEYS)[number];
/** Servers known to hide every retrieved message at QUIT (Gmail's POP "download once"). */
const HOSTS_HIDING_RETRIEVED_MAIL: ReadonlySet<string> = new Set(['pop.gmail.com', 'pop.googlemail.com']);
/** Gmail's "recent mode" login lists the last 30 days whatever was retrieved: nothing is hidden. */
const GMAIL_RECENT_MODE_PREFIX = 'recent:';
type FieldLookup = (key: MailboxKey) => Field | undefined;

/**
 * Validates one mailbox (the Lambda event carries one) and returns it frozen and defaulted.
 * @param path how the mailbox is named in problems. @default 'mailbox'
 * @throws ConfigError listing every problem found
 */
export function parseMailbox(json: unknown, path = 'mailbox'): MailboxConfig {
  const problems = new Problems();
  return problems.valueOrThrow(parseMailboxAt(json, path, undefined, problems));
}

/**
 * One mailbox at `path`, with fields it does not set taken from `defaults`.
 * @returns undefined when it has problems (they are in `problems`)
 */
export function parseMailboxAt(raw: unknown, path: string, defaults: JsonObject | undefined, problems: Problems): MailboxConfig | undefined {
  if (!isObject(raw)) {
    problems.add(path, 'must be an object');
    return undefined;
  }
  const before = problems.count;
  const label = mailboxLabel(path, validId(raw.id));
  checkKeys(raw, MAILBOX_KEYS, label, problems);
  const lookup = fieldLookup(raw, label, defaults);

  const id = readRequired(lookup('id'), `${label}.id`, problems, readId);
  const host = readRequired(lookup('host'), `${label}.host`, problems, readHost);
  const tls = readOptional(lookup('tls'), problems, (f, p) => readChoice(f, TLS_MODES, p)) ?? 'implicit';
  const port = readOptional(lookup('port'), problems, readPort) ?? (tls === 'implicit' ? pop3Limits.POP3S_PORT : pop3Limits.POP3_PORT);
  const tlsCa = readOptional(lookup('tlsCa'), problems, readPem);
  const tlsServername = readOptional(lookup('tlsServername'), problems, readHost);
  const username = readRequired(lookup('username'), `${label}.username`, problems, readNonEmptyString);
  const auth = readOptional(lookup('auth'), problems, (f, p) => readChoice(f, AUTH_CHOICES, p)) ?? 'auto';
  const credentials = readCredentials(lookup, label, auth, problems);
  const allowPlaintextAuth = readOptional(lookup('allowPlaintextAuth'), problems, readBoolean) ?? false;
  checkPlaintext(lookup('tls'), tls, allowPlaintextAuth, problems);
  checkCertificateNeedsTls(lookup('clientCertificate'), tls, problems);
  const retention = readOptional(lookup('retention'), problems, readRetention) ?? 'keep';
  const limits = readLimits(raw, label, defaults, problems);
  const pipelining = readOptional(lookup('pipelining'), problems, readBoolean) ?? true;
  const hidesRetrievedMail = readOptional(lookup('hidesRetrievedMail'), problems, readBoolean) ?? (host !== undefined && HOSTS_HIDING_RETRIEVED_MAIL.has(host.toLowerCase()) && !username?.startsWith(GMAIL_RECENT_MODE_PREFIX));
  const schedule = readOptional(lookup('schedule'), problems, readSchedule) ?? DEFAULT_SCHEDULE;

  if (problems.count > before || id === undefined || host === undefined || username === undefined) return undefined;
  return Object.freeze({
    id,
    host,
    port,
    tls,
    ...(tlsCa === undefined ? {} : { tlsCa }),
    ...(tlsServername === undefined ? {} : { tlsServername }),
    username,
    auth,
    ...credentials,
    allowPlaintextAuth,
    retention,
    limits,
    pipelining,
    ...(hidesRetrievedMail ? { hidesRetrievedMail } : {}),
    schedule,
  });
}

/** `mailboxes[1] (id "support")` once the id is known to be valid, else just the path. */
export function mailboxLabel(path: string, id: string | undefined): string {
  return id === undefined ? path : `${path} (id "${id}")`;
}

/** `value` when it is a valid mailbox id. "." and ".." are path segments, not names: refused. */
export function validId(value: unknown): string | undefined {
  return typeof value === 'string' && ID_PATTERN.test(value) && value !== '.' && value !== '..' ? value : undefined;
}

/**
 * Finds a mailbox field in the mailbox, else in `defaults`. The credential is one unit: a
 * mailbox that names `password`, `oauth` or `clientCertificate` inherits none of them from the defaults.
 */
function fieldLookup(raw: JsonObject, label: string, defaults: JsonObject | undefined): FieldLookup {
  const isCredential = (key: string): boolean => (CREDENTIAL_KEYS as readonly string[]).includes(key);
  const ownCredential = CREDENTIAL_KEYS.some((key) => has(raw, key));
  return (key) => {
    const own = fieldAt(raw, key, label);
    if (own) return own;
    if (ownCredential && isCredential(key)) return undefined;
    if (defaults && key !== 'id') return fieldAt(defaults, key, 'defaults');
    return undefined;
  };
}

function checkPlaintext(tlsField: Field | undefined, tls: TlsMode, allowPlaintextAuth: boolean, problems: Problems): void {
  if (tls !== 'none' || allowPlaintextAuth || tlsField === undefined) return;
  problems.add(
    tlsField.path,
    '"none" would send credentials unencrypted; use "implicit" or "starttls", or set "allowPlaintextAuth": true to accept that',
  );
}

/** The certificate goes in the TLS handshake: without TLS it would never be presented. */
function checkCertificateNeedsTls(certificateField: Field | undefined, tls: TlsMode, problems: Problems): void {
  if (tls !== 'none' || certificateField === undefined) return;
  problems.add(certificateField.path, 'is presented in the TLS handshake, and "tls" is "none": use "implicit" or "starttls"');
}

function readId(field: Field, problems: Problems): string | undefined {
  const id = validId(field.value);
  if (id === undefined) problems.add(field.path, 'must be 1 to 64 characters from A-Z a-z 0-9 . _ - (and not "." or "..")');
  return id;
}

function readPort(field: Field, problems: Problems): number | undefined {
  return readInteger(field, 1, MAX_PORT, `must be an integer from 1 to ${MAX_PORT}`, problems);
}

function readPem(field: Field, problems: Problems): string | undefined {
  if (typeof field.value === 'string' && field.value.includes('BEGIN CERTIFICATE')) return field.value;
  problems.add(field.path, 'must be PEM text containing "-----BEGIN CERTIFICATE-----"');
  return undefined;
}
