/**
 * The configuration file's shape (JSON). One file feeds the CLI, the Lambda event (one
 * mailbox per scheduled invocation) and the CDK app. Validation lives in
 * `validate-config.ts`; defaults are applied there, once.
 */
import type { AuthMechanismName, TlsMode } from '../pop3';

/** Where a secret value comes from. */
export type SecretRef =
  /** AWS Secrets Manager secret (name or ARN). With `key`, the secret string is JSON and the value is that field. */
  | { readonly secretId: string; readonly key?: string }
  /**
   * Sealed into the registry item itself (`v1:<keyVersion>:<base64url>`, from `mailfetch
   * mailboxes add --password-stdin` or `mailfetch secrets seal`): AES-256-GCM under the state
   * table's data key, bound to this mailbox and field. No per-secret fee, no per-run call.
   */
  | { readonly sealed: string }
  /** An environment variable (local runs). */
  | { readonly env: string };

/** OAuth 2.0 access tokens for XOAUTH2 / OAUTHBEARER, from a token endpoint. */
export interface OAuthConfig {
  /** `client_credentials` (Microsoft 365 app-only) or `refresh_token` (Gmail/Workspace). */
  readonly grant: 'client_credentials' | 'refresh_token';
  /** Token endpoint URL, e.g. https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token */
  readonly tokenEndpoint: string;
  readonly clientId: string;
  /** Client secret (optional for public clients with refresh_token). */
  readonly clientSecret?: SecretRef;
  /** Refresh token (refresh_token grant). A rotated token is written back to its secret or, sealed, to the registry item. */
  readonly refreshToken?: SecretRef;
  /** Space-separated scopes, e.g. https://outlook.office365.com/.default */
  readonly scope?: string;
}

/**
 * A TLS client certificate and its private key, sent when the server asks for one in the
 * handshake (implicit TLS and STLS alike). It is the identity of `auth: 'EXTERNAL'`; with a
 * password or OAuth it is only presented at the TLS level (servers that require one).
 */
export interface ClientCertificateConfig {
  /**
   * The certificate, PEM (the leaf first; intermediates may follow): a SecretRef, or the PEM
   * text itself, since a certificate is public.
   */
  readonly certificate: SecretRef | string;
  /** Its private key, PEM without a passphrase (PKCS#8, PKCS#1 or SEC1): a SecretRef only. */
  readonly key: SecretRef;
}

/** What happens to a message on the server once it is stored and recorded. */
export type Retention = 'keep' | 'delete' | { readonly deleteAfterDays: number };

export interface MailboxLimits {
  /** Messages fetched per run at most. @default 10000 */
  readonly maxMessagesPerRun: number;
  /** Octets (by LIST size) fetched per run at most. @default 2 GiB */
  readonly maxBytesPerRun: number;
  /** Larger messages are skipped and recorded as skipped. @default 50 MiB */
  readonly maxMessageBytes: number;
}

export interface MailboxConfig {
  /** Stable id: [A-Za-z0-9._-], 1..64 chars. Part of S3 keys and state keys: never change it. */
  readonly id: string;
  readonly host: string;
  /** @default 995 with implicit TLS, 110 otherwise */
  readonly port: number;
  /** @default 'implicit' */
  readonly tls: TlsMode;
  /** Extra trusted CA certificate(s), PEM. @default none (system roots) */
  readonly tlsCa?: string;
  /** Certificate name to verify and send as SNI. @default host */
  readonly tlsServername?: string;
  /** The login name. With EXTERNAL, the authorization identity: the user the client certificate names. */
  readonly username: string;
  /** @default 'auto' */
  readonly auth: AuthMechanismName | 'auto';
  /** Password source (password mechanisms). */
  readonly password?: SecretRef;
  /** OAuth token source (XOAUTH2/OAUTHBEARER). */
  readonly oauth?: OAuthConfig;
  /** TLS client certificate: the credential of EXTERNAL, or presented alongside a password or OAuth. @default none */
  readonly clientCertificate?: ClientCertificateConfig;
  /** Allow credentials over a link without TLS. @default false */
  readonly allowPlaintextAuth: boolean;
  /** @default 'keep' */
  readonly retention: Retention;
  readonly limits: MailboxLimits;
  /** Use POP3 PIPELINING when offered. @default true */
  readonly pipelining: boolean;
  /**
   * The server hides (or deletes) every retrieved message when the session ends with QUIT,
   * as Gmail's POP does. Then a message stored in a session that could not QUIT (a crash,
   * a deadline) is retrieved once more, checked against the stored bytes, so that the next
   * QUIT hides it: otherwise it would hold its place at the head of every listing.
   * @default true for pop.gmail.com and pop.googlemail.com, else false
   */
  readonly hidesRetrievedMail?: boolean;
  /** EventBridge Scheduler expression, e.g. `rate(5 minutes)`. @default 'rate(5 minutes)' */
  readonly schedule: string;
}

/**
 * One mailbox as written in a configuration file, before validation: `id`, `host`,
 * `username` and a credential (`password`, `oauth` or `clientCertificate`) are needed, every other field has
 * the default documented on `MailboxConfig`. A validated `MailboxConfig` is one too.
 */
export type MailboxInput = Pick<MailboxConfig, 'id' | 'host' | 'username'> &
  Partial<Omit<MailboxConfig, 'id' | 'host' | 'username' | 'limits'>> & {
    readonly limits?: Partial<MailboxLimits>;
  };

export interface AppConfig {
  readonly mailboxes: readonly MailboxConfig[];
}

export const DEFAULT_LIMITS: MailboxLimits = {
  maxMessagesPerRun: 10_000,
  maxBytesPerRun: 2 * 1024 ** 3,
  maxMessageBytes: 50 * 1024 ** 2,
};
export const DEFAULT_SCHEDULE = 'rate(5 minutes)';
