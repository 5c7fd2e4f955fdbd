/**
 * Review of issue 10 (local mode): while `mailfetch` runs with `--local DIR`, its embedded
 * DynamoDB (dynalite) and KMS endpoints listen on 127.0.0.1 and answer any request. Another
 * user of the same machine can then read and change the registry, and have the KMS endpoint
 * decrypt the data key that seals the mailbox passwords (reproduced by hand as user
 * `nobody`: Scan of mailfetch-state, then TrentService.Decrypt of the #KEYRING item's
 * ciphertext, then the sealed password opened). DIR is the boundary the docs promise
 * ("readable by their owner only"); these endpoints must not widen it to every local user.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_DYNAMODB_SUBDIR, EMBEDDED_KMS_SUBDIR, LOCAL_CREDENTIALS, startEmbeddedAws, type EmbeddedAws } from '../../lambda/local/embedded-aws';

/** Credentials an outsider makes up: it has no access to DIR. */
const OUTSIDER = { accessKeyId: 'AKIAOUTSIDER0000000', secretAccessKey: 'guessed-by-someone-else' };
const CONTEXT = { purpose: 'mailfetch-credentials', table: 'mailfetch-state', keyVersion: '1' };

async function endpointOf(client: KMSClient | DynamoDBClient): Promise<string> {
  const ep = await client.config.endpoint!();
  return `${ep.protocol}//${ep.hostname}${ep.port === undefined ? '' : `:${ep.port}`}${ep.path}`;
}

describe('embedded AWS endpoints refuse a client that does not hold the run\'s secret', () => {
  let dir: string;
  let aws: EmbeddedAws;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailfetch-outsider-'));
    aws = await startEmbeddedAws(dir);
  });
  afterAll(async () => {
    await aws.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('KMS: an outsider cannot decrypt the data key', async () => {
    const { CiphertextBlob } = await aws.kms.send(new GenerateDataKeyCommand({ KeyId: aws.credentialsKeyArn, KeySpec: 'AES_256', EncryptionContext: CONTEXT }));
    const outsider = new KMSClient({ endpoint: await endpointOf(aws.kms), region: 'us-east-1', credentials: OUTSIDER, maxAttempts: 1 });
    try {
      await expect(outsider.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: CONTEXT }))).rejects.toThrow();
    } finally {
      outsider.destroy();
    }
  });

  it('an outsider with the published local credentials, or with no signature at all, is refused too', async () => {
    const known = new DynamoDBClient({ endpoint: await endpointOf(aws.dynamodb), region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    try {
      await expect(known.send(new ListTablesCommand({}))).rejects.toThrow(/security token/);
    } finally {
      known.destroy();
    }
    for (const client of [aws.dynamodb, aws.kms]) {
      const unsigned = await fetch(await endpointOf(client), { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' }, body: '{}' });
      expect(unsigned.status).toBe(403);
    }
    // The run's own clients still work.
    expect((await aws.dynamodb.send(new ListTablesCommand({}))).TableNames).toBeDefined();
  });

  it('keeps the store and the key in directories only their owner can enter', async () => {
    for (const sub of [EMBEDDED_DYNAMODB_SUBDIR, EMBEDDED_KMS_SUBDIR]) expect((await stat(join(dir, sub))).mode & 0o777).toBe(0o700);
  });

  it('DynamoDB: an outsider cannot read the state table', async () => {
    const outsider = new DynamoDBClient({ endpoint: await endpointOf(aws.dynamodb), region: 'us-east-1', credentials: OUTSIDER, maxAttempts: 1 });
    try {
      await expect(outsider.send(new ListTablesCommand({}))).rejects.toThrow();
    } finally {
      outsider.destroy();
    }
  });
});
