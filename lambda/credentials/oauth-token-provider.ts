/**
 * OAuth 2.0 access tokens for XOAUTH2/OAUTHBEARER (RFC 6749 section 4.4 client
 * credentials, section 6 refresh). Tokens are cached per mailbox, endpoint and client until
 * shortly before they expire; a refresh token the endpoint rotates is written back to its
 * Secrets Manager secret, or sealed into the mailbox's registry item. Nothing here logs, and no message carries a token or a secret:
 * the endpoint's error text is scrubbed of every secret sent to it.
 */
import type { OAuthConfig, SecretRef } from '../config/mailbox-config';
import { CredentialError, CredentialErrorCode, isCredentialError, sanitizeText } from './credential-error';
import type { CredentialField, CredentialSlot } from './credential-slot';
import type { SecretResolver } from './secret-resolver';

/** Refresh this long before expiry, so a token never runs out in the middle of a POP3 session. */
export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;
/** A token endpoint answers in well under a second; ten leaves room for a cold TLS handshake. */
export const DEFAULT_TOKEN_TIMEOUT_MS = 10_000;
/** RFC 6749 makes expires_in optional; an hour is what the major providers issue. */
const DEFAULT_EXPIRES_IN_S = 3_600;
/** Token responses are a few KiB; anything much larger is not a token endpoint answering. */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
const MAX_ERROR_CODE_CHARS = 64;
const MAX_ERROR_DESCRIPTION_CHARS = 300;
/** RFC 6749 5.2 errors that retrying cannot fix: the client, the grant or the request is wrong. */
const PERMANENT_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'invalid_scope',
  'invalid_request',
  'unsupported_grant_type',
]);
/** Errors an authorization server reports for its own transient trouble (RFC 6749 4.1.2.1). */
const TRANSIENT_OAUTH_ERRORS: ReadonlySet<string> = new Set(['temporarily_unavailable', 'server_error']);
/** Long runs of token alphabet (JWTs, opaque tokens, client secrets) are scrubbed even when not ours. */
const TOKEN_LIKE = /[A-Za-z0-9._~+=-]{32,}/g;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export interface OAuthTokenProviderOptions {
  /** Resolves client secrets and refresh tokens, and writes rotated refresh tokens back. */
  readonly secrets: SecretResolver;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
  /** Get a new token this long before the cached one expires (at most half its lifetime). @default 300000 (5 minutes) */
  readonly refreshMarginMs?: number;
  /** Whole token request, response body included. @default 10000 (10 seconds) */
  readonly timeoutMs?: number;
}

interface CachedToken {
  readonly accessToken: string;
  readonly refreshAt: number;
}

/** A refresh token the endpoint rotated. `unsaved`: it belongs in its store and is not there yet. */
interface RotatedToken {
  readonly token: string;
  unsaved: boolean;
  /** The token the store holds (a sealed value is replaced only while it still holds this one). */
  readonly stored: string;
}

interface TokenResponse {
  readonly accessToken: string;
  readonly expiresInS: number;
  readonly refreshToken?: string;
}

interface TokenContext {
  readonly mailboxId: string;
  readonly config: OAuthConfig;
  /** Every secret value sent in this request: scrubbed from any text the endpoint returns. */
  readonly secrets: readonly string[];
}

export class OAuthTokenProvider {
  private readonly secrets: SecretResolver;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly refreshMarginMs: number;
  private readonly timeoutMs: number;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly rotated = new Map<string, RotatedToken>();

  constructor(options: OAuthTokenProviderOptions) {
    this.secrets = options.secrets;
    // Looked up per call, not captured: tests and instrumentation may replace the global.
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = options.now ?? Date.now;
    this.refreshMarginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TOKEN_TIMEOUT_MS;
  }

  /**
   * A valid access token for the mailbox: from the cache, or from the token endpoint.
   * Concurrent calls for one mailbox share one request.
   * @throws CredentialError TOKEN_INVALID (fix the configuration or the grant),
   *   TOKEN_REQUEST_FAILED (usually retryable), or a secret resolution error
   */
  async getAccessToken(mailboxId: string, config: OAuthConfig): Promise<string> {
    const key = cacheKey(mailboxId, config);
    await this.saveRotatedToken(key, mailboxId, config);
    const cached = this.tokens.get(key);
    if (cached && this.now() < cached.refreshAt) return cached.accessToken;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.requestAndCache(key, mailboxId, config).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  /** Drops the cached access token, e.g. after the POP3 server rejected it. */
  invalidate(mailboxId: string, config: OAuthConfig): void {
    this.tokens.delete(cacheKey(mailboxId, config));
  }

  private async requestAndCache(key: string, mailboxId: string, config: OAuthConfig): Promise<string> {
    const requestedAt = this.now();
    const { body, secrets, currentRefreshToken } = await this.requestBody(key, mailboxId, config);
    const response = await this.post(body, { mailboxId, config, secrets });
    const lifetimeMs = response.expiresInS * 1000;
    // A short-lived token (shorter than twice the margin) is still used for half its life.
    const refreshAt = requestedAt + Math.max(lifetimeMs - this.refreshMarginMs, lifetimeMs / 2);
    this.tokens.set(key, { accessToken: response.accessToken, refreshAt });
    if (config.grant === 'refresh_token' && response.refreshToken !== undefined && response.refreshToken !== currentRefreshToken) {
      this.rememberRotatedToken(key, config.refreshToken, response.refreshToken, currentRefreshToken!);
      await this.saveRotatedToken(key, mailboxId, config);
    }
    return response.accessToken;
  }

  private async requestBody(key: string, mailboxId: string, config: OAuthConfig): Promise<{ body: URLSearchParams; secrets: string[]; currentRefreshToken?: string }> {
    const slot = (field: CredentialField): CredentialSlot => ({ mailboxId, field });
    const clientSecret = config.clientSecret && (await this.secrets.resolve(config.clientSecret, slot('clientSecret')));
    const body = new URLSearchParams({ grant_type: config.grant, client_id: config.clientId });
    if (config.grant === 'client_credentials') {
      if (clientSecret === undefined) throw missingSetting(config, 'clientSecret');
      body.set('client_secret', clientSecret);
      if (config.scope !== undefined) body.set('scope', config.scope);
      return { body, secrets: [clientSecret] };
    }
    if (config.refreshToken === undefined) throw missingSetting(config, 'refreshToken');
    const refreshToken = this.rotated.get(key)?.token ?? (await this.secrets.resolve(config.refreshToken, slot('refreshToken')));
    body.set('refresh_token', refreshToken);
    if (clientSecret !== undefined) body.set('client_secret', clientSecret);
    if (config.scope !== undefined) body.set('scope', config.scope);
    return { body, secrets: clientSecret === undefined ? [refreshToken] : [refreshToken, clientSecret], currentRefreshToken: refreshToken };
  }

  /**
   * Keeps a rotated refresh token in memory: for an `env` reference that is all we can do
   * (this process keeps using it), for a secret or a sealed value it covers the time until
   * it is written. `replaced` is the token the request sent.
   */
  private rememberRotatedToken(key: string, ref: SecretRef | undefined, token: string, replaced: string): void {
    const before = this.rotated.get(key);
    // Rotated twice before a write succeeded: the store still holds the token before both.
    const stored = before?.unsaved ? before.stored : replaced;
    this.rotated.set(key, { token, unsaved: ref !== undefined && !('env' in ref), stored });
  }

  /**
   * Writes an unsaved rotated refresh token to its store. Called again on every later
   * call until it succeeds: the stored token may already be revoked, so a failure is
   * reported, not swallowed; the access token stays cached meanwhile.
   */
  private async saveRotatedToken(key: string, mailboxId: string, config: OAuthConfig): Promise<void> {
    const rotated = this.rotated.get(key);
    const ref = config.refreshToken;
    if (!rotated?.unsaved || ref === undefined || 'env' in ref) return;
    try {
      await this.secrets.update(ref, rotated.token, { slot: { mailboxId, field: 'refreshToken' }, previous: rotated.stored });
    } catch (err) {
      const where = 'secretId' in ref ? `secret "${ref.secretId}"` : 'its sealed value in the registry';
      const message = `mailbox "${mailboxId}": the token endpoint rotated the refresh token, and writing it to ${where} failed`;
      const detail = err instanceof Error ? `: ${err.message}` : '';
      throw new CredentialError(isCredentialError(err) ? err.code : CredentialErrorCode.SECRET_UNAVAILABLE, `${message}${detail}`, {
        retryable: isCredentialError(err) ? err.retryable : true,
        cause: err,
      });
    }
    // Saved (or, sealed, replaced meanwhile by the operator): the store is the source again.
    this.rotated.delete(key);
  }

  private async post(body: URLSearchParams, context: TokenContext): Promise<TokenResponse> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await this.fetch(context.config.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: body.toString(),
        signal: controller.signal,
        // Never follow: a redirected POST would carry the client secret to another URL.
        redirect: 'manual',
      });
      status = response.status;
      text = await readBodyCapped(response, MAX_TOKEN_RESPONSE_BYTES);
    } catch (err) {
      if (controller.signal.aborted) throw requestFailed(context, `timed out after ${this.timeoutMs} ms`, true, err);
      if (err instanceof BodyTooLargeError) throw requestFailed(context, `answered with more than ${MAX_TOKEN_RESPONSE_BYTES} bytes`, true);
      throw requestFailed(context, `failed: ${describeNetworkError(err)}`, true, err);
    } finally {
      clearTimeout(timer);
    }
    return interpretResponse(status, text, context);
  }
}

function cacheKey(mailboxId: string, config: OAuthConfig): string {
  return JSON.stringify([mailboxId, config.tokenEndpoint, config.clientId]);
}

function interpretResponse(status: number, text: string, context: TokenContext): TokenResponse {
  const json = parseJsonObject(text);
  if (status >= 200 && status < 300) {
    const accessToken = json?.access_token;
    if (typeof accessToken !== 'string' || accessToken === '') {
      throw requestFailed(context, `answered HTTP ${status} without an access_token`, true);
    }
    const refreshToken = typeof json?.refresh_token === 'string' && json.refresh_token !== '' ? json.refresh_token : undefined;
    return { accessToken, expiresInS: expiresIn(json?.expires_in), ...(refreshToken === undefined ? {} : { refreshToken }) };
  }
  if (status >= 300 && status < 400) {
    throw requestFailed(context, `answered with a redirect (HTTP ${status}); set tokenEndpoint to the final URL`, false);
  }
  const oauthError = typeof json?.error === 'string' ? scrub(json.error, context.secrets, MAX_ERROR_CODE_CHARS) : undefined;
  const description = typeof json?.error_description === 'string' ? scrub(json.error_description, context.secrets, MAX_ERROR_DESCRIPTION_CHARS) : undefined;
  const detail = `HTTP ${status}${oauthError ? ` ${oauthError}` : ''}${description ? `: ${description}` : ''}`;
  if ((status === 400 || status === 401) && oauthError !== undefined && PERMANENT_OAUTH_ERRORS.has(oauthError)) {
    throw tokenInvalid(context, detail);
  }
  const transient = status >= 500 || status === 429 || status === 408 || (oauthError !== undefined && TRANSIENT_OAUTH_ERRORS.has(oauthError));
  throw requestFailed(context, `failed (${detail})`, transient);
}

function tokenInvalid(context: TokenContext, detail: string): CredentialError {
  return new CredentialError(CredentialErrorCode.TOKEN_INVALID, `${describeRequest(context)} was rejected (${detail})`);
}

function requestFailed(context: TokenContext, what: string, retryable: boolean, cause?: unknown): CredentialError {
  return new CredentialError(CredentialErrorCode.TOKEN_REQUEST_FAILED, `${describeRequest(context)} ${what}`, {
    retryable,
    ...(cause === undefined ? {} : { cause }),
  });
}

function missingSetting(config: OAuthConfig, setting: string): CredentialError {
  return new CredentialError(CredentialErrorCode.TOKEN_INVALID, `oauth.${setting} is required for grant ${config.grant}`);
}

/** `token request (client_credentials) for mailbox "m365" to https://host/path`: no query, it may hold secrets. */
function describeRequest({ mailboxId, config }: TokenContext): string {
  const url = URL.canParse(config.tokenEndpoint) ? new URL(config.tokenEndpoint) : undefined;
  const endpoint = url ? `${url.origin}${url.pathname}` : 'the token endpoint';
  return `token request (${config.grant}) for mailbox "${mailboxId}" to ${endpoint}`;
}

/** Endpoint text may echo what it was sent: remove every secret first, then make it printable and short. */
function scrub(text: string, secrets: readonly string[], maxChars: number): string {
  let clean = text;
  for (const secret of secrets) {
    if (secret !== '') clean = clean.split(secret).join('***');
  }
  clean = clean.replace(TOKEN_LIKE, (run) => (UUID.test(run) ? run : '***'));
  return sanitizeText(clean, maxChars);
}

function expiresIn(value: unknown): number {
  // Some endpoints (Azure AD v1) send expires_in as a string.
  const seconds = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_EXPIRES_IN_S;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

class BodyTooLargeError extends Error {}

async function readBodyCapped(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new BodyTooLargeError();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `fetch failed (ECONNREFUSED)`: undici hides the reason in `cause`. */
function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown error';
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const reason = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return sanitizeText(`${err.message}${reason ? ` (${reason})` : ''}`, 200);
}
