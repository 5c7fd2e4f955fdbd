/**
 * Lambda entry point of the deployment's registry seeding (a CloudFormation custom
 * resource behind the CDK Provider framework): puts the deployed configuration file's
 * mailboxes into the registry, so `cdk deploy -c config=FILE` keeps working now that the
 * worker takes only ids. Wiring only.
 *
 * - Create / Update: each mailbox of the file is added (enabled) or its configuration
 *   updated (`enabled` and health stay: a mailbox disabled with the CLI stays disabled),
 *   and marked as the deployment's (`deployed`). Mailboxes so marked that the file no
 *   longer names are removed. Mailboxes added with the CLI are never touched. The mark,
 *   not the previous deployment's list, decides removals: a rollback, which sends the
 *   older list as an Update, puts the registry back as it was.
 * - Delete: nothing. The registry lives in the state table, which is retained by default.
 *
 * Properties: `MailboxesBucket` and `MailboxesKey`, the deployment asset holding the
 * validated mailbox list as JSON: an asset rather than a property, since 1,000 mailboxes
 * inline would take ~400 KB of template. `Mailboxes`, the list inline as a JSON string,
 * is read too (tests).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { MailboxConfig } from '../config/mailbox-config';
import { parseConfig } from '../config/validate-config';
import { ENV, SEED_MAILBOXES_BUCKET_PROPERTY, SEED_MAILBOXES_KEY_PROPERTY, SEED_MAILBOXES_PROPERTY } from '../env';
import { DynamoDbMailboxRegistry } from '../registry/dynamodb-mailbox-registry';
import type { MailboxRegistry, RegisteredMailbox } from '../registry/mailbox-registry';
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

/** An object of the deployment's assets, as text. */
export type ReadAssetObject = (bucket: string, key: string) => Promise<string>;

export async function handleSeedEvent(event: SeedEvent, registry: MailboxRegistry, readObject: ReadAssetObject): Promise<SeedResult> {
  let changes: RegistryChange[] = [];
  if (event.RequestType !== 'Delete') {
    const wanted = await mailboxesOf(event.ResourceProperties, readObject);
    changes = deploymentChanges(wanted, await registry.list());
    await applySync(registry, changes, { deployed: true });
  }
  const count = (kind: RegistryChange['change']): number => changes.filter((c) => c.change === kind).length;
  return { PhysicalResourceId: SEED_PHYSICAL_ID, Data: { added: count('added'), updated: count('updated'), removed: count('removed') } };
}

/** The file's mailboxes in (and marked), the deployment's other mailboxes out; CLI-added ones left alone. */
function deploymentChanges(wanted: readonly MailboxConfig[], registered: readonly RegisteredMailbox[]): RegistryChange[] {
  const marked = new Set(registered.filter((m) => m.deployed === true).map((m) => m.config.id));
  const changes = planSync(wanted, registered, { removeMissing: false }).map(
    (c): RegistryChange => (c.change === 'unchanged' && !marked.has(c.mailbox) ? { ...c, change: 'updated', fields: ['deployed'] } : c),
  );
  const kept = new Set(wanted.map((m) => m.id));
  for (const id of [...marked].sort()) if (!kept.has(id)) changes.push({ mailbox: id, change: 'removed' });
  return changes;
}

/** Validated again here: the list is only as trustworthy as whoever wrote the template. */
async function mailboxesOf(properties: Readonly<Record<string, unknown>>, readObject: ReadAssetObject): Promise<readonly MailboxConfig[]> {
  const bucket = properties[SEED_MAILBOXES_BUCKET_PROPERTY];
  const key = properties[SEED_MAILBOXES_KEY_PROPERTY];
  const inline = properties[SEED_MAILBOXES_PROPERTY];
  const json = typeof bucket === 'string' && typeof key === 'string' ? await readObject(bucket, key) : typeof inline === 'string' ? inline : '[]';
  const mailboxes = JSON.parse(json) as unknown;
  if (Array.isArray(mailboxes) && mailboxes.length === 0) return [];
  return parseConfig({ mailboxes }).mailboxes;
}

/** Reads an asset object with the function's role (s3:GetObject on that one key). */
export function s3AssetReader(s3: S3Client): ReadAssetObject {
  return async (bucket, key) => {
    try {
      const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await response.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new Error(`the deployment's mailbox list s3://${bucket}/${key} could not be read (${why}); run 'cdk deploy' again, which uploads it`, { cause: err });
    }
  };
}

let registry: MailboxRegistry | undefined;
let readObject: ReadAssetObject | undefined;

export const handler = async (event: SeedEvent): Promise<SeedResult> => {
  const table = process.env[ENV.TABLE];
  if (!table) throw new Error(`${ENV.TABLE} must be set`);
  registry ??= new DynamoDbMailboxRegistry({ client: new DynamoDBClient({}), tableName: table });
  readObject ??= s3AssetReader(new S3Client({}));
  return handleSeedEvent(event, registry, readObject);
};
