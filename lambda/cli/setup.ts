/**
 * What every mailbox command sets up the same way: the selected mailboxes from the
 * configuration file, credentials (the Lambda's SecretResolver and OAuthTokenProvider)
 * and a structured logger on stderr.
 */
import { isAbsolute, resolve } from 'node:path';
import type { MailboxConfig } from '../config/mailbox-config';
import { loadConfigFile } from '../config/validate-config';
import { OAuthTokenProvider } from '../credentials/oauth-token-provider';
import type { SealedCredentialStore } from '../credentials/sealed-credential-store';
import { SecretResolver } from '../credentials/secret-resolver';
import { createLogger, type Logger, type LogLevel } from '../observability/logger';
import type { CliIo } from './cli-io';
import { UsageError } from './exit-codes';

/**
 * Loads and validates the configuration (ConfigError lists every problem) and picks the
 * mailboxes named by --mailbox, in the order given; all of them when none is named.
 */
export async function loadMailboxes(configPath: string | undefined, ids: readonly string[] | undefined, io: CliIo, command: string): Promise<MailboxConfig[]> {
  if (configPath === undefined || configPath === '') throw new UsageError('--config FILE is required', command);
  const path = isAbsolute(configPath) ? configPath : resolve(io.cwd, configPath);
  const config = await loadConfigFile(path);
  if (ids === undefined || ids.length === 0) return [...config.mailboxes];
  const byId = new Map(config.mailboxes.map((m) => [m.id, m]));
  const unknown = ids.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    const known = config.mailboxes.map((m) => m.id).join(', ');
    throw new UsageError(`no mailbox ${unknown.map((id) => `"${id}"`).join(', ')} in ${configPath} (it has: ${known})`, command);
  }
  return [...new Set(ids)].map((id) => byId.get(id)!);
}

export interface Credentials {
  readonly secrets: SecretResolver;
  readonly oauth: OAuthTokenProvider;
}

/**
 * As in Lambda: `{ "env": ... }` from the environment, `{ "secretId": ... }` from Secrets
 * Manager, `{ "sealed": ... }` with the state table's data keys (when there is a table).
 */
export function createCredentials(io: CliIo, sealed?: SealedCredentialStore): Credentials {
  const secrets = new SecretResolver({ env: io.env, ...(sealed === undefined ? {} : { sealed }) });
  return { secrets, oauth: new OAuthTokenProvider({ secrets }) };
}

/**
 * Logs on stderr: text a person reads on a terminal, JSON lines for a pipe, a file or
 * `--json` (machines read those). Level: debug with --verbose, else LOG_LEVEL, else warn
 * (the command's own output already says what happened).
 */
export function createCliLogger(io: CliIo, verbose: boolean | undefined, base: Record<string, unknown> = {}, json = false): Logger {
  const level: LogLevel = verbose ? 'debug' : (logLevel(io.env.LOG_LEVEL) ?? 'warn');
  const format = io.stderr.isTTY && !json ? 'text' : 'json';
  return createLogger(base, { level, format, write: (line) => io.stderr.write(`${line}\n`) });
}

function logLevel(value: string | undefined): LogLevel | undefined {
  const l = value?.toLowerCase();
  return l === 'debug' || l === 'info' || l === 'warn' || l === 'error' ? l : undefined;
}
