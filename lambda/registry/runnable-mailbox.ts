import { disabled, notRegistered } from './errors';
import type { MailboxRegistry, RegisteredMailbox } from './mailbox-registry';

/**
 * The mailbox the worker may run: registered and enabled.
 * @throws RegistryError MAILBOX_NOT_REGISTERED or MAILBOX_DISABLED, naming the mailbox and the fix
 */
export async function runnableMailbox(registry: MailboxRegistry, id: string): Promise<RegisteredMailbox> {
  const mailbox = await registry.get(id);
  if (mailbox === undefined) throw notRegistered(id, registry.description);
  if (!mailbox.enabled) throw disabled(id);
  return mailbox;
}
