/**
 * The embedded endpoints of `--local DIR`, in this process: dynalite's state survives a
 * restart on the same directory, a directory in use is refused with its cause, and nothing
 * but the state store and the KMS key lands below DIR (no S3 server, no s3rver files).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, GetItemCommand, ListTablesCommand, PutItemCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedAws } from '../../lambda/local/embedded-aws';

const TABLE_ACTIVE_TIMEOUT_S = 10;

describe('embedded AWS (--local DIR)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailfetch-embedded-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps items across a restart on the same directory, and keeps only state and key below it', async () => {
    const first = await startEmbeddedAws(dir);
    try {
      await first.dynamodb.send(
        new CreateTableCommand({
          TableName: 'state',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await waitUntilTableExists({ client: first.dynamodb, maxWaitTime: TABLE_ACTIVE_TIMEOUT_S, minDelay: 1 }, { TableName: 'state' });
      await first.dynamodb.send(new PutItemCommand({ TableName: 'state', Item: { pk: { S: 'uid#kept' }, value: { S: 'v1' } } }));
    } finally {
      await first.stop();
    }
    await first.stop(); // idempotent

    const second = await startEmbeddedAws(dir);
    try {
      const item = await second.dynamodb.send(new GetItemCommand({ TableName: 'state', Key: { pk: { S: 'uid#kept' } } }));
      expect(item.Item?.value).toEqual({ S: 'v1' });
      expect(second.credentialsKeyArn).toBe(first.credentialsKeyArn);
    } finally {
      await second.stop();
    }
    expect((await readdir(dir)).sort()).toEqual(['dynamodb', 'kms']);
  });

  it('refuses a second instance on a directory in use, naming the cause', async () => {
    const first = await startEmbeddedAws(dir);
    try {
      await expect(startEmbeddedAws(dir)).rejects.toThrow(/dynalite: cannot open the LevelDB store .*LOCK/);
    } finally {
      await first.stop();
    }
    // Free again once the first one stopped.
    const third = await startEmbeddedAws(dir);
    await third.stop();
  });

  it('lets exactly one of two simultaneous starts on one directory have it', async () => {
    const starts = await Promise.allSettled([startEmbeddedAws(dir), startEmbeddedAws(dir)]);
    const started = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const refused = starts.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
    try {
      expect(started).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.message).toMatch(/dynalite: cannot open the LevelDB store .*LOCK/);
      // The one that started serves.
      const tables = await started[0]!.dynamodb.send(new ListTablesCommand({}));
      expect(tables.TableNames).toEqual(['state']);
    } finally {
      await Promise.all(started.map((s) => s.stop()));
    }
  });
});
