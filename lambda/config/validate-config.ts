/**
 * Validation of the configuration file (and of the one-mailbox Lambda event). Every
 * problem is collected and reported at once, as `<field path>: <what is wrong>`, so one
 * edit fixes the whole file. Defaults are applied here, once; the result is frozen.
 *
 * Messages name fields and never quote values that could be secrets.
 */
import { readFile } from 'node:fs/promises';
import { checkKeys } from './check-keys';
import { ConfigError } from './config-error';
import { describeJsonSyntaxError } from './json-syntax-error';
import { has, isObject, type JsonObject } from './json-object';
import type { AppConfig, MailboxConfig } from './mailbox-config';
import { MAILBOX_KEYS, mailboxLabel, parseMailboxAt, validId } from './parse-mailbox';
import { Problems } from './problems';

export { parseMailbox } from './parse-mailbox';

/** What a failed read means, and what to do about it. */
const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: "no such file; write one with 'mailfetch init', or check the path given to --config",
  EACCES: 'not readable by this user; check its permissions',
  EISDIR: 'is a directory; give the path of the JSON file in it',
};

export const TOP_LEVEL_KEYS = ['$schema', 'mailboxes', 'defaults'] as const;

/**
 * Validates a whole configuration (`{ "mailboxes": [...], "defaults"?: {...} }`) and
 * returns it frozen with every default applied.
 * @param source names the file in the error, when the JSON came from one
 * @throws ConfigError listing every problem found
 */
export function parseConfig(json: unknown, source?: string): AppConfig {
  return parseConfigFrom(json, source);
}

/**
 * Reads and validates a configuration file. A syntax error names the file, line and
 * column, without quoting the text around it (a misplaced secret must not reach logs).
 * @throws ConfigError when the file cannot be read, is not JSON, or is not valid
 */
export async function loadConfigFile(path: string): Promise<AppConfig> {
  return parseConfigFrom(await readConfigJson(path), path);
}

/**
 * A configuration file's JSON, not yet validated (the CLI puts sealed credentials into it).
 * @throws ConfigError when the file cannot be read or is not JSON
 */
export async function readConfigJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'read error';
    const problem = `${path}: ${READ_FAILURES[reason] ?? 'cannot be read'} (${reason})`;
    throw new ConfigError([problem], { cause: err, message: `cannot read the configuration: ${problem}` });
  }
  // Editors on Windows like to prepend a byte-order mark; JSON.parse rejects it.
  const json = text.replace(/^\uFEFF/, '');
  try {
    return JSON.parse(json) as unknown;
  } catch {
    // JSON.parse's own message is not used: on Node 20 it quotes the source text.
    throw new ConfigError([`${path}: ${describeJsonSyntaxError(json)}`]);
  }
}

function parseConfigFrom(json: unknown, source: string | undefined): AppConfig {
  const problems = new Problems();
  let mailboxes: MailboxConfig[] | undefined;
  if (isObject(json)) {
    checkKeys(json, TOP_LEVEL_KEYS, '', problems);
    // `$schema` lets editors find schema/mailfetch.config.schema.json; only its type is checked.
    if (has(json, '$schema') && typeof json.$schema !== 'string') problems.add('$schema', `must be a string (the schema's path or URL), got ${typeof json.$schema}`);
    const defaults = has(json, 'defaults') ? parseDefaults(json.defaults, problems) : undefined;
    mailboxes = parseMailboxList(json, defaults, problems);
  } else {
    problems.add('(top level)', 'must be a JSON object with a "mailboxes" array');
  }
  return Object.freeze({ mailboxes: Object.freeze(problems.valueOrThrow(mailboxes, source)) });
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
  return parseMailboxEntries(raw, defaults, problems);
}

/**
 * The entries of a `mailboxes` array (`mailboxes[<index>]` in problems), ids unique, with
 * the configuration file's messages: the `MailFetcher` construct validates its `mailboxes`
 * prop with it.
 * @returns the valid mailboxes; the invalid ones left problems in `problems`
 */
export function parseMailboxEntries(raw: readonly unknown[], defaults: JsonObject | undefined, problems: Problems): MailboxConfig[] {
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
