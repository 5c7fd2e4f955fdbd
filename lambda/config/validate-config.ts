/**
 * Validation of the configuration file (and of the one-mailbox Lambda event). Every
 * problem is collected and reported at once, as `<field path>: <what is wrong>`, so one
 * edit fixes the whole file. Defaults are applied here, once; the result is frozen.
 *
 * Messages name fields and never quote values that could be secrets.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { AUTH_MECHANISMS, type AuthMechanismName, type TlsMode } from '../pop3';
import { ConfigError } from './config-error';
import {
  DEFAULT_LIMITS,
  DEFAULT_SCHEDULE,
  type AppConfig,
  type MailboxConfig,
  type MailboxLimits,
  type OAuthConfig,
  type Retention,
  type SecretRef,
} from './mailbox-config';

const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TLS_MODES: readonly TlsMode[] = ['implicit', 'starttls', 'none'];
const AUTH_CHOICES: readonly (AuthMechanismName | 'auto')[] = ['auto', ...AUTH_MECHANISMS];
const TOKEN_MECHANISMS: readonly AuthMechanismName[] = ['XOAUTH2', 'OAUTHBEARER'];
const OAUTH_GRANTS: readonly OAuthConfig['grant'][] = ['client_credentials', 'refresh_token'];
/** pop3s (RFC 8314) and pop3 (RFC 1939). */
const DEFAULT_PORT_IMPLICIT_TLS = 995;
const DEFAULT_PORT_PLAIN = 110;
const MAX_PORT = 65_535;
/** Ten years: anything longer is "keep" with extra steps, and likely a unit mistake. */
const MAX_RETENTION_DAYS = 3_650;
/** S3's single-object PUT limit; a larger message would not fit one Lambda run anyway. */
const MAX_MESSAGE_BYTES_LIMIT = 5 * 1024 ** 3;
/** EventBridge Scheduler cron: minutes hours day-of-month month day-of-week year. */
const CRON_FIELD_COUNT = 6;
const RATE_UNITS = { minute: 'minutes', hour: 'hours', day: 'days' } as const;
/** Token endpoints over plain http are only acceptable on the local machine (tests, proxies). */
const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);
const HOSTNAME_PATTERN = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

const TOP_LEVEL_KEYS = ['mailboxes', 'defaults'] as const;
const MAILBOX_KEYS = [
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
  'allowPlaintextAuth',
  'retention',
  'limits',
  'pipelining',
  'schedule',
] as const satisfies readonly (keyof MailboxConfig)[];
type MailboxKey = (typeof MAILBOX_KEYS)[number];
const LIMIT_KEYS = ['maxMessagesPerRun', 'maxBytesPerRun', 'maxMessageBytes'] as const satisfies readonly (keyof MailboxLimits)[];
const OAUTH_KEYS = ['grant', 'tokenEndpoint', 'clientId', 'clientSecret', 'refreshToken', 'scope'] as const;
const SECRET_REF_KEYS = ['secretId', 'key', 'env'] as const;
const SECRET_REF_SHAPE = 'must be { "secretId": ... } or { "env": ... }';

type JsonObject = Record<string, unknown>;

/** A value together with the path it came from (the mailbox itself, or `defaults`). */
interface Field {
  readonly value: unknown;
  readonly path: string;
}

/** Collects problems; the same text twice (a bad default seen by every mailbox) is kept once. */
class Problems {
  private readonly list: string[] = [];

  add(path: string, message: string): void {
    const problem = `${path}: ${message}`;
    if (!this.list.includes(problem)) this.list.push(problem);
  }

  get count(): number {
    return this.list.length;
  }

  get all(): readonly string[] {
    return this.list;
  }
}

// ---------------------------------------------------------------------------------------
// Entry points

/**
 * Validates a whole configuration (`{ "mailboxes": [...], "defaults"?: {...} }`) and
 * returns it frozen with every default applied.
 * @throws ConfigError listing every problem found
 */
export function parseConfig(json: unknown): AppConfig {
  return parseConfigFrom(json, undefined);
}

/**
 * Validates one mailbox (the Lambda event carries one) and returns it frozen and defaulted.
 * @param path how the mailbox is named in problems. @default 'mailbox'
 * @throws ConfigError listing every problem found
 */
export function parseMailbox(json: unknown, path = 'mailbox'): MailboxConfig {
  const problems = new Problems();
  const mailbox = parseMailboxAt(json, path, undefined, problems);
  if (problems.count > 0 || mailbox === undefined) throw new ConfigError(problems.all);
  return mailbox;
}

/**
 * Reads and validates a configuration file. A syntax error names the file, line and
 * column, without quoting the text around it (a misplaced secret must not reach logs).
 * @throws ConfigError when the file cannot be read, is not JSON, or is not valid
 */
export async function loadConfigFile(path: string): Promise<AppConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ConfigError([`${path}: cannot be read (${reason})`], { cause: err });
  }
  // Editors on Windows like to prepend a byte-order mark; JSON.parse rejects it.
  const json = text.replace(/^\uFEFF/, '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // JSON.parse's own message is not used: on Node 20 it quotes the source text.
    throw new ConfigError([`${path}: ${describeJsonSyntaxError(json)}`]);
  }
  return parseConfigFrom(parsed, path);
}

function parseConfigFrom(json: unknown, source: string | undefined): AppConfig {
  const problems = new Problems();
  if (!isObject(json)) {
    problems.add('(top level)', 'must be a JSON object with a "mailboxes" array');
    throw new ConfigError(problems.all, source === undefined ? {} : { source });
  }
  checkKeys(json, TOP_LEVEL_KEYS, '', problems);
  const defaults = has(json, 'defaults') ? parseDefaults(json.defaults, problems) : undefined;
  const mailboxes = parseMailboxList(json, defaults, problems);
  if (problems.count > 0 || mailboxes === undefined) {
    throw new ConfigError(problems.all, source === undefined ? {} : { source });
  }
  return Object.freeze({ mailboxes: Object.freeze(mailboxes) });
}

function parseDefaults(raw: unknown, problems: Problems): JsonObject | undefined {
  if (!isObject(raw)) {
    problems.add('defaults', 'must be an object of mailbox fields');
    return undefined;
  }
  if (has(raw, 'id')) problems.add('defaults.id', 'cannot be set in defaults: every mailbox needs its own id');
  checkKeys(raw, MAILBOX_KEYS, 'defaults', problems);
  return raw;
}

function parseMailboxList(json: JsonObject, defaults: JsonObject | undefined, problems: Problems): MailboxConfig[] | undefined {
  if (!has(json, 'mailboxes')) {
    problems.add('mailboxes', 'is required (a non-empty array of mailboxes)');
    return undefined;
  }
  const raw = json.mailboxes;
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.add('mailboxes', 'must be a non-empty array');
    return undefined;
  }
  const firstIndexById = new Map<string, number>();
  const mailboxes: MailboxConfig[] = [];
  raw.forEach((entry: unknown, index) => {
    const path = `mailboxes[${index}]`;
    const mailbox = parseMailboxAt(entry, path, defaults, problems);
    if (mailbox) mailboxes.push(mailbox);
    const id = isObject(entry) ? validId(entry.id) : undefined;
    if (id === undefined) return;
    const first = firstIndexById.get(id);
    if (first === undefined) firstIndexById.set(id, index);
    else problems.add(`${mailboxLabel(path, id)}.id`, `duplicates the id of mailboxes[${first}]; ids must be unique`);
  });
  return mailboxes;
}

// ---------------------------------------------------------------------------------------
// One mailbox

function parseMailboxAt(raw: unknown, path: string, defaults: JsonObject | undefined, problems: Problems): MailboxConfig | undefined {
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
  const port = readOptional(lookup('port'), problems, readPort) ?? (tls === 'implicit' ? DEFAULT_PORT_IMPLICIT_TLS : DEFAULT_PORT_PLAIN);
  const tlsCa = readOptional(lookup('tlsCa'), problems, readPem);
  const tlsServername = readOptional(lookup('tlsServername'), problems, readHost);
  const username = readRequired(lookup('username'), `${label}.username`, problems, readNonEmptyString);
  const auth = readOptional(lookup('auth'), problems, readAuth) ?? 'auto';
  const credentials = readCredentials(lookup, label, auth, problems);
  const allowPlaintextAuth = readOptional(lookup('allowPlaintextAuth'), problems, readBoolean) ?? false;
  checkPlaintext(lookup('tls'), tls, allowPlaintextAuth, problems);
  const retention = readOptional(lookup('retention'), problems, readRetention) ?? 'keep';
  const limits = readLimits(raw, label, defaults, problems);
  const pipelining = readOptional(lookup('pipelining'), problems, readBoolean) ?? true;
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
    schedule,
  });
}

/** `mailboxes[1] (id "support")` once the id is known to be valid, else just the path. */
function mailboxLabel(path: string, id: string | undefined): string {
  return id === undefined ? path : `${path} (id "${id}")`;
}

/**
 * Finds a mailbox field in the mailbox, else in `defaults`. The credential is one unit: a
 * mailbox that names `password` or `oauth` inherits neither from the defaults.
 */
function fieldLookup(raw: JsonObject, label: string, defaults: JsonObject | undefined): (key: MailboxKey) => Field | undefined {
  const ownCredential = has(raw, 'password') || has(raw, 'oauth');
  return (key) => {
    if (has(raw, key)) return { value: raw[key], path: `${label}.${key}` };
    if (ownCredential && (key === 'password' || key === 'oauth')) return undefined;
    if (defaults && key !== 'id' && has(defaults, key)) return { value: defaults[key], path: `defaults.${key}` };
    return undefined;
  };
}

function readCredentials(
  lookup: (key: MailboxKey) => Field | undefined,
  label: string,
  auth: AuthMechanismName | 'auto',
  problems: Problems,
): { password?: SecretRef; oauth?: OAuthConfig } {
  const passwordField = lookup('password');
  const oauthField = lookup('oauth');
  const password = passwordField && readSecretRef(passwordField, 'passwords', problems);
  const oauth = oauthField && readOAuth(oauthField, problems);
  const wantsToken = auth !== 'auto' && TOKEN_MECHANISMS.includes(auth);
  if (passwordField && oauthField) {
    problems.add(oauthField.path, 'cannot be combined with "password"; give exactly one of them');
  } else if (!passwordField && !oauthField) {
    if (wantsToken) problems.add(`${label}.oauth`, `is required for auth ${auth}`);
    else problems.add(`${label}.password`, 'is required (or "oauth" for XOAUTH2/OAUTHBEARER)');
  } else if (auth !== 'auto' && passwordField && wantsToken) {
    problems.add(passwordField.path, `auth ${auth} needs "oauth", not "password"`);
  } else if (auth !== 'auto' && oauthField && !wantsToken) {
    problems.add(oauthField.path, `auth ${auth} needs "password", not "oauth"`);
  }
  return { ...(password ? { password } : {}), ...(oauth ? { oauth } : {}) };
}

function checkPlaintext(tlsField: Field | undefined, tls: TlsMode, allowPlaintextAuth: boolean, problems: Problems): void {
  if (tls !== 'none' || allowPlaintextAuth || tlsField === undefined) return;
  problems.add(
    tlsField.path,
    '"none" would send credentials unencrypted; use "implicit" or "starttls", or set "allowPlaintextAuth": true to accept that',
  );
}

function readLimits(raw: JsonObject, label: string, defaults: JsonObject | undefined, problems: Problems): MailboxLimits {
  // Deep merge: a mailbox may override one limit and inherit the others from defaults.
  const own = limitsObject(raw, `${label}.limits`, problems);
  const inherited = defaults ? limitsObject(defaults, 'defaults.limits', problems) : undefined;
  const pick = (key: (typeof LIMIT_KEYS)[number]): number => {
    const field: Field | undefined =
      own && has(own, key)
        ? { value: own[key], path: `${label}.limits.${key}` }
        : inherited && has(inherited, key)
          ? { value: inherited[key], path: `defaults.limits.${key}` }
          : undefined;
    const max = key === 'maxMessageBytes' ? MAX_MESSAGE_BYTES_LIMIT : Number.MAX_SAFE_INTEGER;
    return readOptional(field, problems, (f, p) => readLimit(f, max, p)) ?? DEFAULT_LIMITS[key];
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

// ---------------------------------------------------------------------------------------
// Field readers: each returns the value, or undefined after adding a problem

type Reader<T> = (field: Field, problems: Problems) => T | undefined;

function readRequired<T>(field: Field | undefined, path: string, problems: Problems, read: Reader<T>): T | undefined {
  if (field === undefined) {
    problems.add(path, 'is required');
    return undefined;
  }
  return read(field, problems);
}

function readOptional<T>(field: Field | undefined, problems: Problems, read: Reader<T>): T | undefined {
  return field === undefined ? undefined : read(field, problems);
}

function readNonEmptyString(field: Field, problems: Problems): string | undefined {
  if (typeof field.value === 'string' && field.value.length > 0) return field.value;
  problems.add(field.path, 'must be a non-empty string');
  return undefined;
}

function readBoolean(field: Field, problems: Problems): boolean | undefined {
  if (typeof field.value === 'boolean') return field.value;
  problems.add(field.path, 'must be true or false');
  return undefined;
}

function readChoice<T extends string>(field: Field, choices: readonly T[], problems: Problems): T | undefined {
  const match = choices.find((c) => c === field.value);
  if (match !== undefined) return match;
  // `xoauth2` for `XOAUTH2`, `Implicit` for `implicit`: say which one was meant.
  const caseless = typeof field.value === 'string' ? choices.find((c) => c.toLowerCase() === String(field.value).toLowerCase()) : undefined;
  problems.add(field.path, `must be one of ${choices.join(', ')}${caseless ? ` (did you mean "${caseless}"?)` : ''}`);
  return undefined;
}

function readInteger(field: Field, min: number, max: number, message: string, problems: Problems): number | undefined {
  const v = field.value;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max) return v;
  problems.add(field.path, message);
  return undefined;
}

function readId(field: Field, problems: Problems): string | undefined {
  const id = validId(field.value);
  if (id === undefined) problems.add(field.path, 'must be 1 to 64 characters from A-Z a-z 0-9 . _ -');
  return id;
}

function validId(value: unknown): string | undefined {
  return typeof value === 'string' && ID_PATTERN.test(value) ? value : undefined;
}

function readHost(field: Field, problems: Problems): string | undefined {
  const host = readNonEmptyString(field, problems);
  if (host === undefined) return undefined;
  const problem = hostProblem(host);
  if (problem === undefined) return host;
  problems.add(field.path, problem);
  return undefined;
}

function hostProblem(host: string): string | undefined {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(host)) return 'must be a host name or IP address without a scheme (no "pop3s://")';
  if (isIP(host) !== 0) return undefined;
  // `10.0.0.300` matches the host name pattern but is neither a name nor an address.
  if (HOSTNAME_PATTERN.test(host) && !/^[\d.]+$/.test(host)) return undefined;
  const withPort = /^(.*):\d+$/.exec(host);
  if (host.startsWith('[') || (withPort && (isIP(withPort[1]!) === 4 || HOSTNAME_PATTERN.test(withPort[1]!)))) {
    return 'must be a host name or IP address without a port (set "port" instead) or brackets';
  }
  return 'must be a host name or IP address';
}

function readPort(field: Field, problems: Problems): number | undefined {
  return readInteger(field, 1, MAX_PORT, `must be an integer from 1 to ${MAX_PORT}`, problems);
}

function readPem(field: Field, problems: Problems): string | undefined {
  if (typeof field.value === 'string' && field.value.includes('BEGIN CERTIFICATE')) return field.value;
  problems.add(field.path, 'must be PEM text containing "-----BEGIN CERTIFICATE-----"');
  return undefined;
}

function readAuth(field: Field, problems: Problems): AuthMechanismName | 'auto' | undefined {
  return readChoice(field, AUTH_CHOICES, problems);
}

function readRetention(field: Field, problems: Problems): Retention | undefined {
  const v = field.value;
  if (v === 'keep' || v === 'delete') return v;
  if (!isObject(v)) {
    problems.add(field.path, `must be "keep", "delete" or { "deleteAfterDays": 1..${MAX_RETENTION_DAYS} }`);
    return undefined;
  }
  checkKeys(v, ['deleteAfterDays'], field.path, problems);
  const days = readRequired(
    has(v, 'deleteAfterDays') ? { value: v.deleteAfterDays, path: `${field.path}.deleteAfterDays` } : undefined,
    `${field.path}.deleteAfterDays`,
    problems,
    (f, p) => readInteger(f, 1, MAX_RETENTION_DAYS, `must be an integer from 1 to ${MAX_RETENTION_DAYS}`, p),
  );
  return days === undefined ? undefined : Object.freeze({ deleteAfterDays: days });
}

function readLimit(field: Field, max: number, problems: Problems): number | undefined {
  const message = max === MAX_MESSAGE_BYTES_LIMIT ? `must be an integer from 1 to ${MAX_MESSAGE_BYTES_LIMIT} (5 GiB)` : 'must be a positive integer';
  return readInteger(field, 1, max, message, problems);
}

function readSchedule(field: Field, problems: Problems): string | undefined {
  if (typeof field.value !== 'string') {
    problems.add(field.path, 'must be a string such as "rate(5 minutes)" or "cron(0/10 * * * ? *)"');
    return undefined;
  }
  const problem = scheduleProblem(field.value);
  if (problem === undefined) return field.value;
  problems.add(field.path, problem);
  return undefined;
}

/** EventBridge Scheduler's rules: `rate(1 minute)` but `rate(5 minutes)`; cron has a year field. */
function scheduleProblem(schedule: string): string | undefined {
  const rate = /^rate\((\d+) ([a-z]+)\)$/.exec(schedule);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2]!;
    const singular = Object.keys(RATE_UNITS).find((s) => s === unit || RATE_UNITS[s as keyof typeof RATE_UNITS] === unit);
    if (singular === undefined) return 'rate unit must be minute(s), hour(s) or day(s)';
    if (value < 1) return 'rate value must be at least 1';
    const expected = value === 1 ? singular : RATE_UNITS[singular as keyof typeof RATE_UNITS];
    return unit === expected ? undefined : `must be "rate(${value} ${expected})": the unit is singular for 1 and plural otherwise`;
  }
  const cron = /^cron\((.*)\)$/.exec(schedule);
  if (cron) {
    const fields = cron[1]!.trim().split(/\s+/).filter(Boolean).length;
    if (fields === CRON_FIELD_COUNT) return undefined;
    return `cron(...) must have ${CRON_FIELD_COUNT} fields (minutes hours day-of-month month day-of-week year), not ${fields}`;
  }
  return 'must be "rate(<N> <unit>)" or "cron(<6 fields>)", e.g. "rate(5 minutes)"';
}

/**
 * A SecretRef. A plain string is refused: it would be a secret in a file that ends up in
 * repositories, CDK assets and Lambda event payloads.
 * @param noun plural of what is referenced, for the message (`passwords`, `client secrets`)
 */
function readSecretRef(field: Field, noun: string, problems: Problems): SecretRef | undefined {
  const v = field.value;
  if (typeof v === 'string') {
    problems.add(field.path, `${SECRET_REF_SHAPE}; literal ${noun} are not allowed in the config file`);
    return undefined;
  }
  if (!isObject(v)) {
    problems.add(field.path, SECRET_REF_SHAPE);
    return undefined;
  }
  if (has(v, 'secretId') && has(v, 'env')) {
    problems.add(field.path, 'must have "secretId" or "env", not both');
    return undefined;
  }
  if (has(v, 'env')) return readEnvRef(v, field.path, problems);
  if (has(v, 'secretId')) return readSecretIdRef(v, field.path, problems);
  checkKeys(v, SECRET_REF_KEYS, field.path, problems);
  problems.add(field.path, SECRET_REF_SHAPE);
  return undefined;
}

function readEnvRef(v: JsonObject, path: string, problems: Problems): SecretRef | undefined {
  checkKeys(v, ['env'], path, problems);
  if (typeof v.env === 'string' && ENV_NAME_PATTERN.test(v.env)) return Object.freeze({ env: v.env });
  problems.add(`${path}.env`, 'must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)');
  return undefined;
}

function readSecretIdRef(v: JsonObject, path: string, problems: Problems): SecretRef | undefined {
  checkKeys(v, ['secretId', 'key'], path, problems);
  const secretId = readNonEmptyString({ value: v.secretId, path: `${path}.secretId` }, problems);
  const key = has(v, 'key') ? readNonEmptyString({ value: v.key, path: `${path}.key` }, problems) : undefined;
  if (secretId === undefined || (has(v, 'key') && key === undefined)) return undefined;
  return Object.freeze(key === undefined ? { secretId } : { secretId, key });
}

function readOAuth(field: Field, problems: Problems): OAuthConfig | undefined {
  const v = field.value;
  if (!isObject(v)) {
    problems.add(field.path, 'must be an object with grant, tokenEndpoint, clientId and a clientSecret or refreshToken');
    return undefined;
  }
  const before = problems.count;
  const at = (key: (typeof OAUTH_KEYS)[number]): Field | undefined => (has(v, key) ? { value: v[key], path: `${field.path}.${key}` } : undefined);
  checkKeys(v, OAUTH_KEYS, field.path, problems);
  const grant = readRequired(at('grant'), `${field.path}.grant`, problems, (f, p) => readChoice(f, OAUTH_GRANTS, p));
  const tokenEndpoint = readRequired(at('tokenEndpoint'), `${field.path}.tokenEndpoint`, problems, readTokenEndpoint);
  const clientId = readRequired(at('clientId'), `${field.path}.clientId`, problems, readNonEmptyString);
  const clientSecret = readOptional(at('clientSecret'), problems, (f, p) => readSecretRef(f, 'client secrets', p));
  const refreshToken = readOptional(at('refreshToken'), problems, (f, p) => readSecretRef(f, 'refresh tokens', p));
  const scope = readOptional(at('scope'), problems, readNonEmptyString);
  if (grant === 'client_credentials') {
    if (!at('clientSecret')) problems.add(`${field.path}.clientSecret`, 'is required for grant client_credentials');
    // Microsoft's endpoint rejects a client_credentials request without a scope (AADSTS900144).
    if (!at('scope')) problems.add(`${field.path}.scope`, 'is required for grant client_credentials, e.g. "https://outlook.office365.com/.default"');
    if (at('refreshToken')) problems.add(`${field.path}.refreshToken`, 'is only used with grant refresh_token');
  }
  if (grant === 'refresh_token' && !at('refreshToken')) problems.add(`${field.path}.refreshToken`, 'is required for grant refresh_token');
  if (problems.count > before || grant === undefined || tokenEndpoint === undefined || clientId === undefined) return undefined;
  return Object.freeze({
    grant,
    tokenEndpoint,
    clientId,
    ...(clientSecret ? { clientSecret } : {}),
    ...(refreshToken ? { refreshToken } : {}),
    ...(scope === undefined ? {} : { scope }),
  });
}

function readTokenEndpoint(field: Field, problems: Problems): string | undefined {
  const message = 'must be an https:// URL (http:// only for localhost, 127.0.0.1 or ::1)';
  if (typeof field.value !== 'string' || !URL.canParse(field.value)) {
    problems.add(field.path, message);
    return undefined;
  }
  const url = new URL(field.value);
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTNAMES.has(url.hostname));
  if (!secure) {
    problems.add(field.path, message);
    return undefined;
  }
  if (url.username !== '' || url.password !== '') {
    problems.add(field.path, 'must not contain credentials; use clientId and clientSecret');
    return undefined;
  }
  return field.value;
}

// ---------------------------------------------------------------------------------------
// Unknown keys and "did you mean"

function checkKeys(obj: JsonObject, allowed: readonly string[], path: string, problems: Problems): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const suggestion = closestKey(key, allowed);
    problems.add(childPath(path, key), `unknown field${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`);
  }
}

function childPath(path: string, key: string): string {
  // Keys come from the file: show odd ones quoted and bounded so the message stays readable.
  const shown = /^[A-Za-z0-9_$-]{1,64}$/.test(key) ? key : JSON.stringify(key.slice(0, 64));
  return path === '' ? shown : `${path}.${shown}`;
}

/** The allowed key nearest to `key`, if near enough to be a typo (case-insensitive). */
function closestKey(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    // One edit per three characters, capped: `hots` -> `host`, but not `tls` -> `id`.
    const tolerance = Math.min(3, Math.max(1, Math.floor(candidate.length / 3)));
    if (distance <= tolerance && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions (`hots`). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

// ---------------------------------------------------------------------------------------
// JSON syntax errors

/** `invalid JSON at line 3, column 12: unexpected "}"`, found by our own scan of the text. */
function describeJsonSyntaxError(text: string): string {
  const offset = jsonErrorOffset(text);
  if (offset === undefined) return 'invalid JSON';
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  const found = offset >= text.length ? 'end of file' : describeChar(text[offset]!);
  return `invalid JSON at line ${line}, column ${column}: unexpected ${found}`;
}

function describeChar(c: string): string {
  return /^[\x21-\x7e]$/.test(c) ? `"${c}"` : `character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

class JsonStop {
  constructor(readonly offset: number) {}
}

/**
 * Offset of the first syntax error in `text` (RFC 8259), or undefined when it is valid.
 * JSON.parse on Node 20 often reports no position at all, so the position is found here.
 */
function jsonErrorOffset(text: string): number | undefined {
  // RFC 8259 forbids raw control characters in strings; the class has to name them.
  // eslint-disable-next-line no-control-regex
  const stringBody = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*/y;
  const scalar = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])|(?:true|false|null)(?!\w)/y;
  let i = 0;
  const fail = (): never => {
    throw new JsonStop(i);
  };
  const skipSpace = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (c: string): void => {
    skipSpace();
    if (text[i] !== c) fail();
    i++;
  };
  const string = (): void => {
    skipSpace();
    if (text[i] !== '"') fail();
    stringBody.lastIndex = i;
    stringBody.test(text);
    i = stringBody.lastIndex;
    // No whitespace skipping here: a raw tab inside a string is the error itself.
    if (text[i] !== '"') fail();
    i++;
  };
  const sequence = (close: string, item: () => void): void => {
    skipSpace();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      skipSpace();
      if (text[i] === close) break;
      expect(',');
    }
    i++;
  };
  const value = (): void => {
    skipSpace();
    if (text[i] === '{') {
      i++;
      sequence('}', () => {
        string();
        expect(':');
        value();
      });
    } else if (text[i] === '[') {
      i++;
      sequence(']', value);
    } else if (text[i] === '"') {
      string();
    } else {
      scalar.lastIndex = i;
      if (!scalar.test(text)) fail();
      i = scalar.lastIndex;
    }
  };
  try {
    value();
    skipSpace();
    if (i < text.length) fail();
    return undefined;
  } catch (err) {
    if (err instanceof JsonStop) return err.offset;
    return undefined; // e.g. nesting too deep for the stack: report without a position
  }
}

// ---------------------------------------------------------------------------------------

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function has(obj: JsonObject, key: string): boolean {
  return Object.hasOwn(obj, key) && obj[key] !== undefined;
}
