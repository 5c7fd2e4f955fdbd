import { clientOf, type ClientSource } from '../client-source';
import type { MailboxConfig } from '../config/mailbox-config';
import { resolveClientCertificate } from '../credentials/client-certificate';
import type { OAuthTokenProvider } from '../credentials/oauth-token-provider';
import type { SecretResolver } from '../credentials/secret-resolver';
import { openSession, type Pop3Client, type Pop3SessionOptions } from '../pop3';

/**
 * How long the worker waits for QUIT's answer. A server rewriting a large mbox after many
 * DELEs can take tens of seconds; an unanswered QUIT leaves the deletions unconfirmed
 * (the next run does a full diff), so waiting is worth it. The run's deadline abort
 * bounds it anyway.
 */
export const WORKER_QUIT_TIMEOUT_MS = 60_000;

export interface SessionOpenerDeps {
  readonly secrets: SecretResolver;
  /** OAuth access tokens, or how to make the provider when a mailbox first needs one (the Lambda's lazy chunk). */
  readonly oauth: ClientSource<Pick<OAuthTokenProvider, 'getAccessToken'>>;
  /** Extra engine options (tests: timeouts, trace). */
  readonly engine?: Partial<Pop3SessionOptions>;
}

/**
 * Builds the engine options for a mailbox, with its credentials resolved: all of them before
 * any connection, so a bad one fails the run without a login attempt. A client certificate
 * goes into the TLS options (implicit TLS and STLS); openSession scrubs its key from
 * everything the session reports.
 */
export async function sessionOptions(mailbox: MailboxConfig, deps: SessionOpenerDeps, signal?: AbortSignal): Promise<Pop3SessionOptions> {
  const clientCertificate = mailbox.clientCertificate && (await resolveClientCertificate(mailbox.id, mailbox.clientCertificate, deps.secrets));
  const credentials = mailbox.oauth
    ? { accessToken: await (await clientOf(deps.oauth)).getAccessToken(mailbox.id, mailbox.oauth) }
    : mailbox.password
      ? { password: await deps.secrets.resolve(mailbox.password, { mailboxId: mailbox.id, field: 'password' }) }
      : {};
  return {
    host: mailbox.host,
    port: mailbox.port,
    tls: mailbox.tls,
    tlsOptions: {
      ...(mailbox.tlsCa ? { ca: mailbox.tlsCa } : {}),
      ...(mailbox.tlsServername ? { servername: mailbox.tlsServername } : {}),
      ...(clientCertificate ?? {}),
    },
    username: mailbox.username,
    auth: mailbox.auth,
    allowPlaintextAuth: mailbox.allowPlaintextAuth,
    pipelining: mailbox.pipelining,
    quitTimeoutMs: WORKER_QUIT_TIMEOUT_MS,
    ...credentials,
    ...(signal ? { signal } : {}),
    ...deps.engine,
  };
}

/** The `openSession` dependency of runMailbox: credentials from Secrets Manager, sealed values, env or OAuth; a client certificate from any of the first three. */
export function createSessionOpener(deps: SessionOpenerDeps): (mailbox: MailboxConfig, signal: AbortSignal) => Promise<Pop3Client> {
  return async (mailbox, signal) => openSession(await sessionOptions(mailbox, deps, signal));
}
