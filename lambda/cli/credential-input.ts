/**
 * `--password-stdin`, `--client-secret-stdin`, `--refresh-token-stdin`: credentials typed
 * by the operator; `--client-certificate FILE --client-key FILE`: a TLS client certificate
 * and its key from their files. Each is sealed for one mailbox with the table's data key
 * and stored in its registry item as `{ "sealed": ... }`. The file (or the registered
 * configuration) then needs no credential reference of its own.
 */
import { isObject, type JsonObject } from '../config/json-object';
import type { MailboxConfig, SecretRef } from '../config/mailbox-config';
import { parseConfig, parseMailbox, readConfigJson } from '../config/validate-config';
import { isPemField, type CredentialField } from '../credentials/credential-slot';
import type { SealedCredentialStore } from '../credentials/sealed-credential-store';
import type { CliIo } from './cli-io';
import { CLIENT_CERTIFICATE_OPTIONS, readClientCertificateFiles, wantsClientCertificate, type ClientCertificateFlags } from './client-certificate-input';
import { UsageError } from './exit-codes';
import { readSecretLines } from './secret-input';

export const CREDENTIAL_OPTIONS = {
  'password-stdin': { type: 'boolean' },
  'client-secret-stdin': { type: 'boolean' },
  'refresh-token-stdin': { type: 'boolean' },
  ...CLIENT_CERTIFICATE_OPTIONS,
} as const;

export interface CredentialFlags extends ClientCertificateFlags {
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

/**
 * The fields the flags ask for; a password and OAuth secrets exclude each other. A client
 * certificate goes with either (a server may want both), or alone (EXTERNAL).
 */
export function requestedFields(flags: CredentialFlags, command: string): CredentialField[] {
  const fields = FLAG_OF.filter(([, flag]) => flags[flag] === true).map(([field]) => field);
  if (fields.includes('password') && fields.length > 1) {
    throw new UsageError('--password-stdin cannot be combined with --client-secret-stdin or --refresh-token-stdin: a mailbox logs in with a password or with OAuth', command);
  }
  return wantsClientCertificate(flags, command) ? [...fields, 'clientCertificate', 'clientKey'] : fields;
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
  if (fields.includes('password')) raw.password = PLACEHOLDER;
  const oauthFields = fields.filter((field) => field === 'clientSecret' || field === 'refreshToken');
  if (oauthFields.length > 0) {
    const oauth = isObject(raw.oauth) ? raw.oauth : isObject(defaults?.oauth) ? { ...defaults.oauth } : undefined;
    if (oauth === undefined) throw new UsageError(`mailbox "${id}" in ${path} has no "oauth" block for its ${oauthFields.join(' and ')}`, command);
    for (const field of oauthFields) oauth[field] = PLACEHOLDER;
    raw.oauth = oauth;
  }
  if (fields.includes('clientCertificate')) raw.clientCertificate = { certificate: PLACEHOLDER, key: PLACEHOLDER };
  return parseConfig(json, path).mailboxes.find((m) => m.id === id)!;
}

/**
 * Reads the values from stdin (or prompts) and the certificate files, seals each for the
 * mailbox, and puts them into its configuration. Everything is read and checked before anything is sealed.
 */
export async function sealInput(
  io: CliIo,
  store: SealedCredentialStore,
  config: MailboxConfig,
  fields: readonly CredentialField[],
  flags: CredentialFlags,
  command: string,
): Promise<MailboxConfig> {
  const typed = fields.filter((field) => !isPemField(field));
  const labels = typed.map((field) => `${FLAG_OF.find(([f]) => f === field)![2]} for mailbox ${config.id}`);
  const values = new Map<CredentialField, string>(typed.length === 0 ? [] : (await readSecretLines(io, labels, command)).map((value, i) => [typed[i]!, value]));
  if (fields.includes('clientCertificate')) {
    const { cert, key } = await readClientCertificateFiles(io, config.id, flags, command);
    values.set('clientCertificate', cert).set('clientKey', key);
  }
  const sealed = new Map<CredentialField, SecretRef>();
  for (const [field, value] of values) sealed.set(field, { sealed: await store.seal(value, { mailboxId: config.id, field }) });
  return withCredentials(config, sealed, command);
}

/**
 * The configuration with these references in place (a registered configuration, or a
 * validated file's), validated again: a registered mailbox must stay one the worker accepts.
 * @throws UsageError for a credential the mailbox does not log in with; ConfigError
 */
export function withCredentials(config: MailboxConfig, refs: ReadonlyMap<CredentialField, SecretRef>, command: string): MailboxConfig {
  let next: MailboxConfig = config;
  const password = refs.get('password');
  if (password !== undefined) {
    if (config.oauth !== undefined) throw new UsageError(`mailbox "${config.id}" logs in with OAuth: give --client-secret-stdin or --refresh-token-stdin, not --password-stdin`, command);
    next = { ...next, password };
  }
  const oauthRefs = [...refs].filter(([field]) => field === 'clientSecret' || field === 'refreshToken');
  if (oauthRefs.length > 0) {
    if (config.oauth === undefined) throw new UsageError(`mailbox "${config.id}" logs in with a password: give --password-stdin`, command);
    next = { ...next, oauth: { ...config.oauth, ...Object.fromEntries(oauthRefs) } };
  }
  const certificate = refs.get('clientCertificate');
  const key = refs.get('clientKey');
  if (certificate !== undefined && key !== undefined) next = { ...next, clientCertificate: { certificate, key } };
  return parseMailbox(next, `mailbox "${config.id}"`);
}
