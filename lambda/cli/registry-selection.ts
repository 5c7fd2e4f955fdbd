/**
 * Mailboxes from the registry for commands run without --config (fetch, baseline, reset):
 * those named by --mailbox, in the order given, else every enabled one. A disabled
 * mailbox runs only where that is the point (a baseline before enabling it).
 */
import type { MailboxConfig } from '../config/mailbox-config';
import type { MailboxRegistry, RegisteredMailbox } from '../registry/mailbox-registry';
import { UsageError } from './exit-codes';

export interface RegistrySelectionOptions {
  /** Whether a disabled mailbox may be named (baseline, reset). */
  readonly allowDisabled: boolean;
}

export async function registryMailboxes(
  registry: MailboxRegistry,
  ids: readonly string[] | undefined,
  command: string,
  options: RegistrySelectionOptions,
): Promise<MailboxConfig[]> {
  if (ids === undefined || ids.length === 0) {
    const all = await registry.list();
    const chosen = all.filter((m) => m.enabled);
    if (chosen.length === 0) {
      const what = all.length === 0 ? 'no mailbox' : `no enabled mailbox (${all.length} disabled)`;
      throw new UsageError(`the registry (${registry.description}) has ${what}; 'mailfetch mailboxes add --config FILE' adds some, or give --config FILE`, command);
    }
    return chosen.map((m) => m.config);
  }
  const found: RegisteredMailbox[] = [];
  for (const id of new Set(ids)) {
    const mailbox = await registry.get(id);
    if (mailbox === undefined) {
      throw new UsageError(`no mailbox "${id}" in the registry (${registry.description}); 'mailfetch mailboxes list' shows the registered ones`, command);
    }
    if (!mailbox.enabled && !options.allowDisabled) {
      throw new UsageError(
        `mailbox "${id}" is disabled; 'mailfetch baseline --mailbox ${id}' records its current mail as seen, then 'mailfetch mailboxes enable --mailbox ${id}'`,
        command,
      );
    }
    found.push(mailbox);
  }
  return found.map((m) => m.config);
}
