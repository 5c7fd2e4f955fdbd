/**
 * The OAuth 2.0 SASL mechanisms: XOAUTH2 (Google, Microsoft) and OAUTHBEARER (RFC 7628).
 * A rejected token is not answered with -ERR at once: the server sends a JSON error as a
 * challenge, the client answers it with a dummy response, and -ERR follows. The JSON's
 * status and scope say why (an expired token, a missing scope): they explain the error.
 */
import type { SyncSaslMechanism, TokenCredentials } from './sasl';

/** Where the client connected: RFC 7628 sends it so the server can check the token's audience. */
export interface OAuthTarget {
  readonly host: string;
  readonly port: number;
}

/** The fields of an OAuth error challenge worth showing: none can hold the token itself. */
const ERROR_FIELDS = ['status', 'scope', 'schemes'] as const;
/** A field value longer than this is not shown (a scope list can be long, a status is a word). */
const MAX_FIELD_CHARS = 200;
/** What the statuses providers send mean, for the operator reading the error. */
const STATUS_HINTS: Readonly<Record<string, string>> = {
  invalid_token: 'the token is expired, revoked or not for this server',
  insufficient_scope: 'the token lacks a scope the server needs',
  invalid_request: 'the server found the request malformed',
  '400': 'Google: the token is expired, revoked or not for this user',
  '401': 'the token is expired or revoked',
};

/**
 * XOAUTH2. `twoStep` sends `AUTH XOAUTH2` alone and answers the empty "+" (Microsoft 365
 * requires this form). The error challenge is answered with an empty response.
 */
export function xoauth2Mechanism({ username, accessToken }: TokenCredentials, twoStep: boolean): SyncSaslMechanism {
  const response = Buffer.from(`user=${username}\x01auth=Bearer ${accessToken}\x01\x01`, 'utf8');
  let sent = !twoStep;
  let error: string | undefined;
  return {
    name: 'XOAUTH2',
    initialResponse: twoStep ? undefined : response,
    respond: (challenge) => {
      if (sent) {
        error = describeOAuthError(challenge);
        return Buffer.alloc(0);
      }
      sent = true;
      return response;
    },
    failureDetail: () => error,
  };
}

/**
 * RFC 7628 OAUTHBEARER: a GS2 header naming the user, the host and port connected to, the
 * token. The error challenge is answered with %x01, as the RFC says.
 */
export function oauthBearerMechanism({ username, accessToken }: TokenCredentials, target?: OAuthTarget): SyncSaslMechanism {
  const authzid = username.replace(/=/g, '=3D').replace(/,/g, '=2C');
  const where = target === undefined ? '' : `host=${target.host}\x01port=${target.port}\x01`;
  const response = Buffer.from(`n,a=${authzid},\x01${where}auth=Bearer ${accessToken}\x01\x01`, 'utf8');
  let error: string | undefined;
  return {
    name: 'OAUTHBEARER',
    initialResponse: response,
    respond: (challenge) => {
      error = describeOAuthError(challenge);
      return Buffer.from([0x01]);
    },
    failureDetail: () => error,
  };
}

/**
 * `the provider said: status invalid_token (the token is expired, revoked or not for this
 * server), scope https://mail.google.com/` from an OAuth error challenge; undefined when
 * the challenge is not such a JSON object. Only status, scope and schemes are read.
 */
export function describeOAuthError(challenge: Buffer): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(challenge.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const fields = parsed as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ERROR_FIELDS) {
    const value = fields[key];
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_FIELD_CHARS || !/^[\x20-\x7e]+$/.test(value)) continue;
    const hint = key === 'status' ? STATUS_HINTS[value.toLowerCase()] : undefined;
    parts.push(`${key} ${value}${hint ? ` (${hint})` : ''}`);
  }
  return parts.length === 0 ? undefined : `the provider said: ${parts.join(', ')}`;
}
