/**
 * The `--local DIR` layout: message files under DIR/<prefix>, state in DIR/dynamodb, the
 * KMS key in DIR/kms; a prefix that would reach into the store's own data is refused
 * before anything starts.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localPrefixProblem, openStorage } from '../../lambda/cli/storage';

describe('--local storage', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailfetch-local-storage-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('stores messages as .eml files under DIR/messages and says where they are', async () => {
    const storage = await openStorage({ kind: 'local', dir, prefix: 'messages/' }, { readOnly: false });
    try {
      const body = Buffer.from('Subject: hello\r\n\r\nbody\r\n');
      const stored = await storage.sink.store({ mailboxId: 'box', identity: 'u1', uid: 'u1', body: Readable.from([body]), sizeHint: body.length, firstSeenAt: new Date().toISOString() });
      expect(stored.key).toBe('messages/box/u1.eml');
      expect(storage.messageLocation('box')).toBe(`${join(dir, 'messages', 'box')}${sep}`);
      expect(await readFile(join(storage.messageLocation('box'), 'u1.eml'))).toEqual(body);
      expect(storage.bucket).toBeUndefined();
      expect(storage.description).toContain(join(dir, 'messages'));
    } finally {
      await storage.close();
    }
    expect((await readdir(dir)).sort()).toEqual(['dynamodb', 'kms', 'messages']);
  });

  it.each(['', 'mail-', 'dynamodb/', 'kms/x/', 's3/'])('refuses the prefix %j before starting anything', async (prefix) => {
    expect(localPrefixProblem(prefix)).toBeDefined();
    const elsewhere = join(dir, `refused-${prefix.length}`);
    await expect(openStorage({ kind: 'local', dir: elsewhere, prefix }, { readOnly: false })).rejects.toMatchObject({ name: 'UsageError' });
    await expect(readdir(elsewhere)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each(['messages/', 'mail/2026/', 'mail/in-'])('accepts the prefix %j', (prefix) => {
    expect(localPrefixProblem(prefix)).toBeUndefined();
  });
});
