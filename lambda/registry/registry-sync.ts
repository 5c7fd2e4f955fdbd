/**
 * Making a registry match a list of mailboxes (`mailfetch mailboxes import`, and the CDK
 * deployment's seeding): plan the changes, then apply them one item at a time.
 */
import type { MailboxConfig } from '../config/mailbox-config';
import type { DeployedMark, MailboxRegistry, RegisteredMailbox } from './mailbox-registry';

export type ChangeKind = 'added' | 'updated' | 'removed' | 'unchanged';

export interface RegistryChange {
  readonly mailbox: string;
  readonly change: ChangeKind;
  /** `updated`: the configuration fields that differ. */
  readonly fields?: readonly string[];
  /** The deployment's mark to set (null: remove it) with an `updated` change; undefined leaves it. */
  readonly deployed?: DeployedMark | null;
  /** The list's configuration (every change but `removed`). */
  readonly config?: MailboxConfig;
}

export interface PlanOptions {
  /**
   * Remove registered mailboxes the list does not name. The deployment's seeding passes
   * false: mailboxes added with the CLI are not the file's to remove. @default true
   */
  readonly removeMissing?: boolean;
}

/** The changes, in the list's order, then removals by id. */
export function planSync(wanted: readonly MailboxConfig[], registered: readonly RegisteredMailbox[], options: PlanOptions = {}): RegistryChange[] {
  const current = new Map(registered.map((m) => [m.config.id, m.config]));
  const changes: RegistryChange[] = wanted.map((config) => {
    const before = current.get(config.id);
    if (before === undefined) return { mailbox: config.id, change: 'added', config };
    const fields = changedFields(before, config);
    return fields.length === 0 ? { mailbox: config.id, change: 'unchanged', config } : { mailbox: config.id, change: 'updated', fields, config };
  });
  if (options.removeMissing ?? true) {
    const wantedIds = new Set(wanted.map((m) => m.id));
    const removed = [...current.keys()].filter((id) => !wantedIds.has(id)).sort();
    for (const id of removed) changes.push({ mailbox: id, change: 'removed' });
  }
  return changes;
}

export interface ApplyOptions {
  /** Whether mailboxes added by the sync start enabled. @default true */
  readonly enableAdded?: boolean;
  /** Mark added mailboxes as the deployment's (registry seeding; see RegistryChange.deployed for updates). @default false */
  readonly deployed?: boolean;
}

/** Applies planned changes (`enabled` and health of updated mailboxes stay as they are). */
export async function applySync(registry: MailboxRegistry, changes: readonly RegistryChange[], options: ApplyOptions = {}): Promise<void> {
  const deployed = options.deployed ?? false;
  for (const change of changes) {
    if (change.change === 'added' && change.config) await registry.add(change.config, { enabled: options.enableAdded ?? true, deployed });
    else if (change.change === 'updated' && change.config) await registry.update(change.config, change.deployed === undefined ? {} : { deployed: change.deployed });
    else if (change.change === 'removed') await registry.remove(change.mailbox);
  }
}

/** Top-level configuration fields whose values differ (compared as JSON). */
export function changedFields(before: MailboxConfig, after: MailboxConfig): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const b = before as unknown as Record<string, unknown>;
  const a = after as unknown as Record<string, unknown>;
  return [...keys].filter((key) => JSON.stringify(b[key]) !== JSON.stringify(a[key]));
}
