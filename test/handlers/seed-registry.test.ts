/**
 * The deployment's registry seeding (custom resource handler) against dynalite, reading
 * the mailbox list from a local S3 as it reads the deployment's asset: the file's
 * mailboxes go in, CLI changes to other mailboxes and to `enabled` survive a redeploy,
 * and a rollback puts the registry back as it was.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import { SEED_MAILBOXES_BUCKET_PROPERTY, SEED_MAILBOXES_KEY_PROPERTY, SEED_MAILBOXES_PROPERTY } from '../../lambda/env';
import { handleSeedEvent, s3AssetReader, SEED_PHYSICAL_ID, type ReadAssetObject, type SeedEvent } from '../../lambda/handlers/seed-registry';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynalite, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { createLocalS3Client } from '../fixtures/s3rver-process';

const ASSETS_BUCKET = 'cdk-assets';
const box = (id: string, port = 995): object => ({ id, host: 'pop.example.org', port, username: 'u', password: { secretId: `mail/${id}` } });

describe('seed-registry handler', () => {
  let dynamo: LocalDynamo;
  let s3: LocalS3;
  let registry: DynamoDbMailboxRegistry;
  let readObject: ReadAssetObject;
  let assets = 0;

  /** Uploads the list as `cdk deploy` uploads the asset, and returns the properties naming it. */
  async function props(...mailboxes: object[]): Promise<Record<string, unknown>> {
    const key = `asset-${++assets}.json`;
    await s3.s3.send(new PutObjectCommand({ Bucket: ASSETS_BUCKET, Key: key, Body: JSON.stringify(mailboxes.map((m) => parseMailbox(m))) }));
    return { [SEED_MAILBOXES_BUCKET_PROPERTY]: ASSETS_BUCKET, [SEED_MAILBOXES_KEY_PROPERTY]: key };
  }
  const seed = (event: SeedEvent): ReturnType<typeof handleSeedEvent> => handleSeedEvent(event, registry, readObject);
  const registered = async (): Promise<unknown[]> => (await registry.list()).map((m) => [m.config.id, m.enabled, m.config.port, m.deployed ?? 'cli']);

  beforeAll(async () => {
    [dynamo, s3] = await Promise.all([startDynalite(), startS3rver()]);
    await s3.createBucket(ASSETS_BUCKET);
    readObject = s3AssetReader(s3.s3);
  });
  afterAll(async () => {
    await Promise.all([dynamo?.stop(), s3?.stop()]);
  });

  it("create adds the file's mailboxes; update changes and removes only the file's, keeping enabled and CLI-added ones; delete keeps all", async () => {
    await ensureTable(dynamo.dynamodb, 'seed');
    registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: 'seed' });
    const first = await props(box('a'), box('b'));
    const created = await seed({ RequestType: 'Create', ResourceProperties: first });
    await registry.setEnabled('a', false);
    await registry.add(parseMailbox(box('from-cli')));

    const second = await props(box('a', 1995), box('c'));
    const updated = await seed({ RequestType: 'Update', ResourceProperties: second, OldResourceProperties: first });
    await seed({ RequestType: 'Delete', ResourceProperties: second });

    expect(created).toEqual({ PhysicalResourceId: SEED_PHYSICAL_ID, Data: { added: 2, updated: 0, removed: 0 } });
    expect(updated).toEqual({ PhysicalResourceId: SEED_PHYSICAL_ID, Data: { added: 1, updated: 1, removed: 1 } });
    expect(await registered()).toEqual([
      ['a', false, 1995, 'added'],
      ['c', true, 995, 'added'],
      ['from-cli', true, 995, 'cli'],
    ]);
  });

  it("a mailbox added with the CLI and then named by the file is adopted; a rollback removes what the failed deploy added and hands the adopted one back", async () => {
    await ensureTable(dynamo.dynamodb, 'rollback');
    registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: 'rollback' });
    await registry.add(parseMailbox(box('shared')));
    await registry.add(parseMailbox(box('cli-only')));
    const before = await props(box('a'));
    await seed({ RequestType: 'Create', ResourceProperties: before });

    const after = await props(box('b'), box('shared'));
    const updated = await seed({ RequestType: 'Update', ResourceProperties: after, OldResourceProperties: before });
    expect(updated.Data).toEqual({ added: 1, updated: 1, removed: 1 });
    expect(await registered()).toEqual([
      ['b', true, 995, 'added'],
      ['cli-only', true, 995, 'cli'],
      ['shared', true, 995, 'adopted'],
    ]);

    // CloudFormation rolls back a failed deploy with an Update back to the old properties.
    await seed({ RequestType: 'Update', ResourceProperties: before, OldResourceProperties: after });
    expect(await registered()).toEqual([
      ['a', true, 995, 'added'],
      ['cli-only', true, 995, 'cli'],
      ['shared', true, 995, 'cli'],
    ]);
  });

  it("an empty list removes the mailboxes the deployment added and nothing else; a rotated sealed refresh token is never put back", async () => {
    await ensureTable(dynamo.dynamodb, 'empty');
    registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: 'empty' });
    const oauthBox = (token: string): object => ({
      id: 'gmail',
      host: 'pop.gmail.com',
      username: 'u@example.org',
      auth: 'XOAUTH2',
      oauth: { grant: 'refresh_token', tokenEndpoint: 'https://oauth2.example.org/token', clientId: 'c', refreshToken: { sealed: token } },
    });
    await registry.add(parseMailbox(box('cli')));
    const first = await props(box('a'), oauthBox('v1:1:AAAA'));
    await seed({ RequestType: 'Create', ResourceProperties: first });
    // The worker rotated the token (replace-sealed-credential.ts writes it back into the item).
    await registry.update(parseMailbox(oauthBox('v1:1:BBBB')));

    const second = await props(box('a', 1995), oauthBox('v1:1:AAAA'));
    await seed({ RequestType: 'Update', ResourceProperties: second, OldResourceProperties: first });
    const gmail = await registry.get('gmail');
    expect(gmail?.config.oauth?.refreshToken).toEqual({ sealed: 'v1:1:BBBB' });

    const emptied = await seed({ RequestType: 'Update', ResourceProperties: await props(), OldResourceProperties: second });
    expect(emptied.Data).toEqual({ added: 0, updated: 0, removed: 2 });
    expect(await registered()).toEqual([['cli', true, 995, 'cli']]);
  });

  it('retries an asset read S3 refuses while the new policy propagates, then reads it', async () => {
    const client = createLocalS3Client(s3.endpoint);
    let refusals = 2;
    client.middlewareStack.add(
      (next) => async (args) => {
        if (refusals-- > 0) throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
        return next(args);
      },
      { step: 'initialize', name: 'propagationDelay' },
    );
    const { [SEED_MAILBOXES_KEY_PROPERTY]: key } = await props(box('late'));
    try {
      const text = await s3AssetReader(client, 1_000, 10)(ASSETS_BUCKET, key as string);
      expect(JSON.parse(text)).toEqual([expect.objectContaining({ id: 'late' })]);
      expect(refusals).toBe(-1);
    } finally {
      client.destroy();
    }
  });

  it('reads the list inline too; refuses one that is not a valid mailbox list, or an asset that is gone, writing nothing', async () => {
    const before = await registry.list();

    const inline = { [SEED_MAILBOXES_PROPERTY]: JSON.stringify([{ id: 'x', host: 'h' }]) };
    await expect(seed({ RequestType: 'Create', ResourceProperties: inline })).rejects.toThrow(/username/);
    const gone = { [SEED_MAILBOXES_BUCKET_PROPERTY]: ASSETS_BUCKET, [SEED_MAILBOXES_KEY_PROPERTY]: 'no-such-asset.json' };
    await expect(seed({ RequestType: 'Update', ResourceProperties: gone })).rejects.toThrow(/mailbox list s3:\/\/cdk-assets\/no-such-asset.json could not be read \(NoSuchKey.*cdk deploy/);

    expect(await registry.list()).toEqual(before);
  });
});
