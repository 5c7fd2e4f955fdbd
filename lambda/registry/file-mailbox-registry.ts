/**
 * A configuration file as a registry: the mailboxes of `loadConfigFile`, all enabled.
 * Read-only, because the file is the operator's (with its `defaults`, order and layout,
 * which a rewrite would lose): edit it, or `mailfetch mailboxes import` it into a table.
 * Health is kept in memory for the life of the process, so a CLI run from a file is
 * wired exactly like a run from the table.
 */
import type { AppConfig } from '../config/mailbox-config';
import { loadConfigFile } from '../config/validate-config';
import { RegistryError, RegistryErrorCode } from './errors';
import type { MailboxHealth, MailboxRegistry, RegisteredMailbox, RunOutcome } from './mailbox-registry';

export class FileMailboxRegistry implements MailboxRegistry {
  readonly description: string;
  private readonly config: AppConfig;
  private readonly health = new Map<string, MailboxHealth>();

  /** From an already validated configuration; `path` names it in messages. */
  constructor(config: AppConfig, path: string) {
    this.config = config;
    this.description = `file ${path}`;
  }

  /** @throws ConfigError listing every problem of the file */
  static async load(path: string): Promise<FileMailboxRegistry> {
    return new FileMailboxRegistry(await loadConfigFile(path), path);
  }

  async get(id: string): Promise<RegisteredMailbox | undefined> {
    const config = this.config.mailboxes.find((m) => m.id === id);
    return config === undefined ? undefined : { config, enabled: true, health: this.healthOf(id), configVersion: 1 };
  }

  /** In the file's order (the order runs take). */
  async list(): Promise<RegisteredMailbox[]> {
    return this.config.mailboxes.map((config) => ({ config, enabled: true, health: this.healthOf(config.id), configVersion: 1 }));
  }

  async add(): Promise<void> {
    throw this.readOnly();
  }

  async update(): Promise<void> {
    throw this.readOnly();
  }

  async setEnabled(): Promise<void> {
    throw this.readOnly();
  }

  async remove(): Promise<boolean> {
    throw this.readOnly();
  }

  async recordRun(id: string, outcome: RunOutcome): Promise<boolean> {
    if (!this.config.mailboxes.some((m) => m.id === id)) return false;
    const before = this.healthOf(id);
    this.health.set(id, {
      ...before,
      lastRunAt: outcome.at,
      lastRunStatus: outcome.status,
      lastAction: outcome.action,
      ...(outcome.status === 'busy' ? {} : { backlog: outcome.backlog, lastDurationMs: outcome.durationMs }),
      ...(outcome.loginDelay ? { loginDelaySeconds: outcome.loginDelay.seconds, nextLoginAt: outcome.loginDelay.nextLoginAt } : {}),
      ...(outcome.status === 'ok' ? { lastSuccessAt: outcome.at, consecutiveFailures: 0 } : {}),
      ...(outcome.status === 'error'
        ? {
            lastErrorAt: outcome.at,
            lastErrorCode: outcome.error?.code ?? 'UNKNOWN',
            lastErrorMessage: outcome.error?.message ?? '',
            consecutiveFailures: before.consecutiveFailures + 1,
          }
        : {}),
    });
    return true;
  }

  private healthOf(id: string): MailboxHealth {
    return this.health.get(id) ?? { consecutiveFailures: 0 };
  }

  private readOnly(): RegistryError {
    return new RegistryError(
      RegistryErrorCode.REGISTRY_READ_ONLY,
      `the registry is the ${this.description}, which mailfetch does not rewrite; edit the file, or import it into a table with 'mailfetch mailboxes import --config FILE'`,
    );
  }
}
