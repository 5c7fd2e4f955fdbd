import { checkKeys } from './check-keys';
import { fieldAt, readChoice, readNonEmptyString, readOptional, readRequired, type Field } from './field-readers';
import { isObject } from './json-object';
import type { OAuthConfig } from './mailbox-config';
import type { Problems } from './problems';
import { readSecretRef } from './read-secret-ref';

export const OAUTH_KEYS = ['grant', 'tokenEndpoint', 'clientId', 'clientSecret', 'refreshToken', 'scope'] as const;
export const OAUTH_GRANTS: readonly OAuthConfig['grant'][] = ['client_credentials', 'refresh_token'];
/** Token endpoints over plain http are only acceptable on the local machine (tests, proxies). */
const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The `oauth` block: a token endpoint and the client's credentials for the chosen grant. */
export function readOAuth(field: Field, problems: Problems): OAuthConfig | undefined {
  const v = field.value;
  if (!isObject(v)) {
    problems.add(field.path, 'must be an object with grant, tokenEndpoint, clientId and a clientSecret or refreshToken');
    return undefined;
  }
  const before = problems.count;
  const at = (key: (typeof OAUTH_KEYS)[number]): Field | undefined => fieldAt(v, key, field.path);
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
  const endpoint = field.value;
  if (typeof endpoint !== 'string' || !isSecureEndpoint(endpoint)) {
    problems.add(field.path, 'must be an https:// URL (http:// only for localhost, 127.0.0.1 or ::1)');
    return undefined;
  }
  const { username, password } = new URL(endpoint);
  if (username !== '' || password !== '') {
    problems.add(field.path, 'must not contain credentials; use clientId and clientSecret');
    return undefined;
  }
  return endpoint;
}

/** An https URL, or an http one to this machine. */
function isSecureEndpoint(endpoint: string): boolean {
  if (!URL.canParse(endpoint)) return false;
  const url = new URL(endpoint);
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTNAMES.has(url.hostname));
}
