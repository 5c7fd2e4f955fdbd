/**
 * `--password-stdin`, `--client-secret-stdin`, `--refresh-token-stdin`: credentials typed
 * by the operator, sealed for one mailbox with the table's data key and stored in its
 * registry item as `{ "sealed": ... }`. The file (or the registered configuration) then
 * needs no credential reference of its own.
 */
import { isObject, type JsonObject } from '../config/json-object';
import type { MailboxConfig, OAuthConfig, SecretRef } from '../config/mailbox-config';
import { parseConfig, readConfigJson } from '../config/validate-config';
import type { CredentialField } from '../credentials/credential-slot';
import type { SealedCredentialStore } from '../credentials/sealed-credential-store';
import type { CliIo } from './cli-io';
import { UsageError } from './exit-codes';
import { readSecretLines } from './secret-input';

export const CREDENTIAL_OPTIONS = {
  'password-stdin': { type: 'boolean' },
  'client-secret-stdin': { type: 'boolean' },
  'refresh-token-stdin': { type: 'boolean' },
} as const;

export interface CredentialFlags {
  readonly 'password-stdin'?: boolean | undefined;
  readonly 'client-secret-stdin'?: boolean | undefined;
  readonly 'refresh-token-stdin'?: boolean | undefined;
}

/** In the order stdin holds them. */
const FLAG_OF: readonly (readonly [CredentialField, keyof CredentialFlags, string])[] = [
  ['password', 'password-stdin', 'password'],
  ['clientSecret', 'client-secret-stdin', 'client secret'],
  ['refreshToken', 'refresh-token-stdin', 'refresh token'],
];

/** Stands in for the sealed values while the file is validated, before anything is read or sealed. */
const PLACEHOLDER: SecretRef = { sealed: `v1:1:${'A'.repeat(40)}` };

/** The fields the flags ask for; a password and OAuth secrets exclude each other. */
export function requestedFields(flags: CredentialFlags, command: string): CredentialField[] {
  const fields = FLAG_OF.filter(([, flag]) => flags[flag] === true).map(([field]) => field);
  if (fields.includes('password') && fields.length > 1) {
    throw new UsageError('--password-stdin cannot be combined with --client-secret-stdin or --refresh-token-stdin: a mailbox logs in with a password or with OAuth', command);
  }
  return fields;
}

/** The one mailbox id credentials are for. */
export function credentialMailbox(ids: readonly string[] | undefined, command: string): string {
  if (ids?.length !== 1) throw new UsageError('credentials from standard input are for one mailbox: name it with --mailbox ID', command);
  return ids[0]!;
}

/**
 * The file's mailbox `id`, validated with stand-ins for the credentials the flags give (so a
 * file without a credential reference is valid): nothing is read or sealed before the
 * whole file is known to be good.
 * @throws ConfigError listing every problem of the file
 */
export async function loadMailboxForCredentials(path: string, id: string, fields: readonly CredentialField[], command: string): Promise<MailboxConfig> {
  const json = await readConfigJson(path);
  const raw = isObject(json) && Array.isArray(json.mailboxes) ? json.mailboxes.find((m): m is JsonObject => isObject(m) && m.id === id) : undefined;
  if (raw === undefined) throw new UsageError(`no mailbox "${id}" in ${path}`, command);
  const defaults = isObject(json) && isObject(json.defaults) ? json.defaults : undefined;
  if (fields.includes('password')) {
    raw.password = PLACEHOLDER;
  } else {
    const oauth = isObject(raw.oauth) ? raw.oauth : isObject(defaults?.oauth) ? { ...defaults.oauth } : undefined;
    if (oauth === undefined) throw new UsageError(`mailbox "${id}" in ${path} has no "oauth" block for its ${fields.join(' and ')}`, command);
    for (const field of fields) oauth[field] = PLACEHOLDER;
    raw.oauth = oauth;
  }
  return parseConfig(json, path).mailboxes.find((m) => m.id === id)!;
}

/** Reads the values from stdin (or prompts), seals each for the mailbox, and puts them into its configuration. */
export async function sealInput(io: CliIo, store: SealedCredentialStore, config: MailboxConfig, fields: readonly CredentialField[], command: string): Promise<MailboxConfig> {
  const labels = fields.map((field) => `${FLAG_OF.find(([f]) => f === field)![2]} for mailbox ${config.id}`);
  const values = await readSecretLines(io, labels, command);
  const sealed = new Map<CredentialField, SecretRef>();
  for (const [i, field] of fields.entries()) sealed.set(field, { sealed: await store.seal(values[i]!, { mailboxId: config.id, field }) });
  return withCredentials(config, sealed, command);
}

/** The configuration with these references in place (a registered configuration, or a validated file's). */
export function withCredentials(config: MailboxConfig, refs: ReadonlyMap<CredentialField, SecretRef>, command: string): MailboxConfig {
  const password = refs.get('password');
  if (password !== undefined) {
    if (config.oauth !== undefined) throw new UsageError(`mailbox "${config.id}" logs in with OAuth: give --client-secret-stdin or --refresh-token-stdin, not --password-stdin`, command);
    return Object.freeze({ ...config, password });
  }
  if (config.oauth === undefined) throw new UsageError(`mailbox "${config.id}" logs in with a password: give --password-stdin`, command);
  const oauth: OAuthConfig = Object.freeze({ ...config.oauth, ...Object.fromEntries(refs) });
  return Object.freeze({ ...config, oauth });
}
