/**
 * Lambda entry point of the deployment's registry seeding (a CloudFormation custom
 * resource behind the CDK Provider framework): puts the deployed configuration file's
 * mailboxes into the registry, so `cdk deploy -c config=FILE` keeps working now that the
 * worker takes only ids. Wiring only.
 *
 * - Create / Update: each mailbox of the file is added (enabled, marked `added`) or its
 *   configuration updated (`enabled` and health stay: a mailbox disabled with the CLI
 *   stays disabled; a mailbox added with the CLI is marked `adopted`). Marked mailboxes
 *   the file no longer names are removed (`added`) or handed back to the CLI (`adopted`:
 *   the mark goes). Other CLI-added mailboxes are never touched. The marks, not the
 *   previous deployment's list, decide: a rollback, which sends the older list as an
 *   Update, leaves the mailboxes it names as they were before the failed deploy.
 * - Delete: nothing. CloudFormation also sends Delete for a resource whose logical id
 *   changed, after creating its successor: removing anything here could empty the
 *   registry. To remove the deployment's mailboxes, deploy an empty list (the app does
 *   that without `-c config`). The registry lives in the state table, retained by default.
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

/**
 * The file's mailboxes in and marked; the deployment's other mailboxes out: removed when
 * the deployment added them, handed back to the CLI (mark removed) when it adopted them.
 */
function deploymentChanges(wanted: readonly MailboxConfig[], registered: readonly RegisteredMailbox[]): RegistryChange[] {
  const byId = new Map(registered.map((m) => [m.config.id, m]));
  const kept = keepRotatedTokens(wanted, byId);
  const changes = planSync(kept, registered, { removeMissing: false }).map((c): RegistryChange => {
    if (c.change === 'added' || byId.get(c.mailbox)?.deployed !== undefined) return c;
    return { ...c, change: 'updated', fields: [...(c.fields ?? []), 'deployed'], deployed: 'adopted' };
  });
  const names = new Set(wanted.map((m) => m.id));
  for (const m of [...registered].sort((a, b) => a.config.id.localeCompare(b.config.id))) {
    if (m.deployed === undefined || names.has(m.config.id)) continue;
    changes.push(m.deployed === 'added' ? { mailbox: m.config.id, change: 'removed' } : { mailbox: m.config.id, change: 'updated', fields: ['deployed'], config: m.config, deployed: null });
  }
  return changes;
}

/**
 * A sealed refresh token in the registry is the one the worker last received (providers
 * rotate them and may revoke the old one): the file's sealed token seeds a new mailbox, it
 * never replaces a rotated one. `mailfetch mailboxes update` replaces it on purpose.
 */
function keepRotatedTokens(wanted: readonly MailboxConfig[], byId: ReadonlyMap<string, RegisteredMailbox>): MailboxConfig[] {
  return wanted.map((config) => {
    const current = byId.get(config.id)?.config.oauth?.refreshToken;
    const fromFile = config.oauth?.refreshToken;
    if (config.oauth === undefined || current === undefined || fromFile === undefined || !('sealed' in current) || !('sealed' in fromFile)) return config;
    return { ...config, oauth: { ...config.oauth, refreshToken: current } };
  });
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

/** A policy naming a new asset key may take this long to reach S3 after CloudFormation updated it. */
const ACCESS_PROPAGATION_WAIT_MS = 60_000;
const ACCESS_RETRY_FIRST_MS = 1_000;

/**
 * Reads an asset object with the function's role (s3:GetObject on that one key). Every list
 * change swaps the key in the policy just before the call, and IAM is eventually consistent:
 * AccessDenied is retried for a minute before it counts.
 */
export function s3AssetReader(s3: S3Client, waitMs = ACCESS_PROPAGATION_WAIT_MS, firstRetryMs = ACCESS_RETRY_FIRST_MS): ReadAssetObject {
  return async (bucket, key) => {
    const started = Date.now();
    for (let delay = firstRetryMs; ; delay *= 2) {
      try {
        const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return (await response.Body?.transformToString('utf8')) ?? '';
      } catch (err) {
        const name = err instanceof Error ? err.name : '';
        if (name === 'AccessDenied' && Date.now() - started + delay <= waitMs) {
          await new Promise((resolve) => setTimeout(resolve, delay));
          continue;
        }
        const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        throw new Error(`the deployment's mailbox list s3://${bucket}/${key} could not be read (${why}); run 'cdk deploy' again, which uploads it`, { cause: err });
      }
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
