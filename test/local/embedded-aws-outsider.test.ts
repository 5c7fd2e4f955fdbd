/**
 * Review of issue 10 (local mode): while `mailfetch` runs with `--local DIR`, its embedded
 * DynamoDB (dynalite) and KMS endpoints listen on 127.0.0.1 and answer any request. Another
 * user of the same machine can then read and change the registry, and have the KMS endpoint
 * decrypt the data key that seals the mailbox passwords (reproduced by hand as user
 * `nobody`: Scan of mailfetch-state, then TrentService.Decrypt of the #KEYRING item's
 * ciphertext, then the sealed password opened). DIR is the boundary the docs promise
 * ("readable by their owner only"); these endpoints must not widen it to every local user.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedAws, type EmbeddedAws } from '../../lambda/local/embedded-aws';

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

  it('DynamoDB: an outsider cannot read the state table', async () => {
    const outsider = new DynamoDBClient({ endpoint: await endpointOf(aws.dynamodb), region: 'us-east-1', credentials: OUTSIDER, maxAttempts: 1 });
    try {
      await expect(outsider.send(new ListTablesCommand({}))).rejects.toThrow();
    } finally {
      outsider.destroy();
    }
  });
});
