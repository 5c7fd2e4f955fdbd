/**
 * Lambda entry point of the deployment's registry seeding (a CloudFormation custom
 * resource behind the CDK Provider framework): puts the deployed configuration file's
 * mailboxes into the registry, so `cdk deploy -c config=FILE` keeps working now that the
 * worker takes only ids. Wiring only.
 *
 * - Create / Update: each mailbox of the file is added (enabled) or its configuration
 *   updated (`enabled` and health stay: a mailbox disabled with the CLI stays disabled).
 *   On Update, mailboxes that were in the previous deployment's file but are not in this
 *   one are removed. Mailboxes added with the CLI are never touched.
 * - Delete: nothing. The registry lives in the state table, which is retained by default.
 *
 * Properties: `Mailboxes`, the validated mailbox list as a JSON string (CloudFormation
 * would turn numbers and booleans of a structured property into strings).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { MailboxConfig } from '../config/mailbox-config';
import { parseConfig } from '../config/validate-config';
import { ENV, SEED_MAILBOXES_PROPERTY } from '../env';
import { DynamoDbMailboxRegistry } from '../registry/dynamodb-mailbox-registry';
import type { MailboxRegistry } from '../registry/mailbox-registry';
import { applySync, planSync, type RegistryChange } from '../registry/registry-sync';

/** One physical id for the resource's whole life: an update never looks like a replacement. */
export const SEED_PHYSICAL_ID = 'mailfetch-registry-seed';

/** The part of CloudFormation's custom resource event this handler reads. */
export interface SeedEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResourceProperties: Readonly<Record<string, unknown>>;
  readonly OldResourceProperties?: Readonly<Record<string, unknown>>;
}

export interface SeedResult {
  readonly PhysicalResourceId: string;
  /** Counts of the changes made, for the stack events. */
  readonly Data: { readonly added: number; readonly updated: number; readonly removed: number };
}

export async function handleSeedEvent(event: SeedEvent, registry: MailboxRegistry): Promise<SeedResult> {
  const changes: RegistryChange[] = [];
  if (event.RequestType !== 'Delete') {
    const wanted = mailboxesOf(event.ResourceProperties);
    changes.push(...planSync(wanted, await registry.list(), { removeMissing: false }));
    const kept = new Set(wanted.map((m) => m.id));
    const previous = event.RequestType === 'Update' && event.OldResourceProperties ? mailboxesOf(event.OldResourceProperties) : [];
    for (const old of previous) if (!kept.has(old.id)) changes.push({ mailbox: old.id, change: 'removed' });
    await applySync(registry, changes);
  }
  const count = (kind: RegistryChange['change']): number => changes.filter((c) => c.change === kind).length;
  return { PhysicalResourceId: SEED_PHYSICAL_ID, Data: { added: count('added'), updated: count('updated'), removed: count('removed') } };
}

/** Validated again here: the property is only as trustworthy as whoever wrote the template. */
function mailboxesOf(properties: Readonly<Record<string, unknown>>): readonly MailboxConfig[] {
  const raw = properties[SEED_MAILBOXES_PROPERTY];
  const mailboxes = JSON.parse(typeof raw === 'string' ? raw : '[]') as unknown;
  if (Array.isArray(mailboxes) && mailboxes.length === 0) return [];
  return parseConfig({ mailboxes }).mailboxes;
}

let registry: MailboxRegistry | undefined;

export const handler = async (event: SeedEvent): Promise<SeedResult> => {
  const table = process.env[ENV.TABLE];
  if (!table) throw new Error(`${ENV.TABLE} must be set`);
  registry ??= new DynamoDbMailboxRegistry({ client: new DynamoDBClient({}), tableName: table });
  return handleSeedEvent(event, registry);
};
