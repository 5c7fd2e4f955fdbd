/**
 * LazyMessageSink: keys without loading anything (a run plans its keys before it stores),
 * one load however many stores start at once, and the keys the S3 sink it stands for uses.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileMessageSink } from '../../lambda/storage/file-message-sink';
import { LazyMessageSink } from '../../lambda/storage/lazy-message-sink';
import { S3MessageSink } from '../../lambda/storage/s3-message-sink';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailfetch-lazy-sink-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const input = (identity: string) => ({
  mailboxId: 'box',
  identity,
  uid: identity,
  body: Readable.from([Buffer.from(`Subject: ${identity}\r\n\r\nbody\r\n`)]),
  sizeHint: 32,
  firstSeenAt: '2026-01-01T00:00:00.000Z',
});

describe('LazyMessageSink', () => {
  it('names keys without loading its sink, and loads it once for concurrent stores and reads', async () => {
    let loads = 0;
    const files = new FileMessageSink({ directory: root, prefix: 'mail/' });
    const sink = new LazyMessageSink('mail/', async () => {
      loads += 1;
      return files;
    });
    expect(sink.objectKey('box', 'u1')).toBe(files.objectKey('box', 'u1'));
    expect(loads).toBe(0);
    const stored = await Promise.all([sink.store(input('u1')), sink.store(input('u2')), sink.readHeaderBlock(files.objectKey('box', 'u3'))]);
    expect(loads).toBe(1);
    expect(stored[0].key).toBe(files.objectKey('box', 'u1'));
    expect(stored[0].headerBlock.toString()).toBe('Subject: u1\r\n');
    expect(stored[2]).toBeUndefined();
  });

  it('names the keys the S3 sink it stands for stores under', () => {
    const s3 = new S3MessageSink({ client: new S3Client({ region: 'us-east-1' }), bucket: 'b', prefix: 'messages/' });
    const lazy = new LazyMessageSink('messages/', () => Promise.reject(new Error('not loaded')));
    for (const [mailbox, identity] of [['support', 'UID-1'], ['a.b_c-d', 'sha256:' + 'f'.repeat(64)], ['x', 'odd/uid with spaces']] as const) {
      expect(lazy.objectKey(mailbox, identity)).toBe(s3.objectKey(mailbox, identity));
    }
  });

  it('fails the store when its sink cannot be loaded', async () => {
    const sink = new LazyMessageSink('mail/', () => Promise.reject(new Error('chunk missing')));
    await expect(sink.store(input('u1'))).rejects.toThrow('chunk missing');
  });
});
