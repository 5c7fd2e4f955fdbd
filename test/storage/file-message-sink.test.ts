/**
 * FileMessageSink where it goes beyond the MessageSink contract
 * (test/contract/message-sink.contract.ts): what a write in progress and a killed process
 * leave on disk (a recognisable temporary file, never a partial `.eml`), how later stores
 * clean up after a crash, permissions, file system errors, and option validation.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTemporaryFileName } from '../../lambda/storage/atomic-file';
import { StorageError } from '../../lambda/storage/errors';
import { FileMessageSink } from '../../lambda/storage/file-message-sink';
import type { StoreMessageInput } from '../../lambda/storage/message-sink';

const MIB = 1024 * 1024;
/** Generous: tsx compiles the child's imports on a loaded machine. */
const CHILD_WRITE_TIMEOUT_MS = 60_000;
const TEMP_NAME = /^\.uid-1\.eml\.tmp-[0-9a-f]{12}$/;

function input(identity: string, body: Readable): StoreMessageInput {
  return { mailboxId: 'acme', identity, uid: identity, body, sizeHint: 0, firstSeenAt: '2024-05-01T10:00:00.000Z' };
}

/** `octets` of message, then no more bytes and no end: a server that stopped sending. */
function stallingSource(octets: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return; // never pushes again: the store waits for bytes forever
      sent = true;
      this.push(Buffer.concat([Buffer.from('Subject: stalled\r\n\r\n'), Buffer.alloc(octets, 0x61)]));
    },
  });
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe('FileMessageSink', () => {
  let root: string;
  let dirs = 0;
  const freshDir = (): string => join(root, `d${++dirs}`);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mailfetch-file-sink-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('writes into a recognisable temporary file (never *.eml) until the message is complete', async () => {
    const directory = freshDir();
    const sink = new FileMessageSink({ directory });
    const source = stallingSource(300_000);
    const store = sink.store(input('uid-1', source));
    const mailboxDir = join(directory, 'messages', 'acme');
    const [temp] = await until(async () => {
      const names = await readdir(mailboxDir).catch(() => []);
      return names.length > 0 && (await stat(join(mailboxDir, names[0]!))).size > 0 ? names : undefined;
    }, 10_000);
    expect(await readdir(mailboxDir)).toEqual([temp]);
    expect(temp).toMatch(TEMP_NAME);
    expect(isTemporaryFileName(temp!)).toBe(true);
    expect(isTemporaryFileName('uid-1.eml')).toBe(false);

    source.destroy(new Error('connection reset'));
    await expect(store).rejects.toMatchObject({ code: 'SOURCE_FAILED' });
    expect(await readdir(mailboxDir)).toEqual([]);
  });

  it('a process killed mid-write leaves no .eml at the final name; the next store stores the message and removes the leftover', async () => {
    const directory = freshDir();
    const sinkModule = fileURLToPath(new URL('../../lambda/storage/file-message-sink.ts', import.meta.url));
    const script = `
      import { Readable } from 'node:stream';
      const { FileMessageSink } = await import(${JSON.stringify(sinkModule)});
      const sink = new FileMessageSink({ directory: ${JSON.stringify(directory)} });
      let sent = 0;
      const body = new Readable({ read() { if (sent++ < 8) this.push(Buffer.alloc(256 * 1024, 0x62)); } });
      await sink.store({ mailboxId: 'acme', identity: 'uid-1', uid: 'uid-1', body, sizeHint: 0, firstSeenAt: new Date().toISOString() });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'ignore' });
    const mailboxDir = join(directory, 'messages', 'acme');
    try {
      // Killed once it wrote most of what it got (2 MiB): a write in the middle of a message.
      await until(async () => {
        const names = await readdir(mailboxDir).catch(() => []);
        const sizes = await Promise.all(names.map((n) => stat(join(mailboxDir, n)).then((s) => s.size, () => 0)));
        return sizes.some((size) => size >= MIB) ? true : undefined;
      }, CHILD_WRITE_TIMEOUT_MS);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((resolve) => (child.exitCode === null && child.signalCode === null ? child.once('exit', resolve) : resolve(undefined)));
    const left = await readdir(mailboxDir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(TEMP_NAME);

    // As --local does (it holds the directory's lock): every temporary file is a dead one.
    const body = Buffer.from('Subject: retried\r\n\r\nthe whole message\r\n');
    const stored = await new FileMessageSink({ directory, staleTempAgeMs: 0 }).store(input('uid-1', Readable.from([body])));
    expect(await readdir(mailboxDir)).toEqual(['uid-1.eml']);
    expect((await readFile(join(directory, stored.key))).equals(body)).toBe(true);
  });

  it('by default removes only temporary files older than an hour: a fresh one may be a live write', async () => {
    const directory = freshDir();
    const mailboxDir = join(directory, 'messages', 'acme');
    await mkdir(mailboxDir, { recursive: true });
    const stale = join(mailboxDir, '.old.eml.tmp-0123456789ab');
    const live = join(mailboxDir, '.other.eml.tmp-ba9876543210');
    const foreign = join(mailboxDir, 'notes.txt');
    for (const path of [stale, live, foreign]) await writeFile(path, 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60_000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);

    await new FileMessageSink({ directory }).store(input('uid-1', Readable.from([Buffer.from('Subject: x\r\n\r\n')])));
    expect((await readdir(mailboxDir)).sort()).toEqual(['.other.eml.tmp-ba9876543210', 'notes.txt', 'uid-1.eml']);
  });

  it('creates directories owner-only and message files readable by their owner only', async () => {
    const directory = freshDir();
    const stored = await new FileMessageSink({ directory }).store(input('uid-1', Readable.from([Buffer.from('Subject: x\r\n\r\n')])));
    const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;
    expect(await mode(join(directory, stored.key))).toBe(0o600);
    expect(await mode(join(directory, 'messages', 'acme'))).toBe(0o700);
  });

  it('recreates a mailbox directory removed between two stores', async () => {
    const directory = freshDir();
    const sink = new FileMessageSink({ directory });
    await sink.store(input('uid-1', Readable.from([Buffer.from('Subject: 1\r\n\r\n')])));
    await rm(join(directory, 'messages'), { recursive: true });
    const stored = await sink.store(input('uid-2', Readable.from([Buffer.from('Subject: 2\r\n\r\n')])));
    expect((await readFile(join(directory, stored.key))).toString()).toBe('Subject: 2\r\n\r\n');
  });

  it('reports a file where the mailbox directory belongs as WRITE_FAILED, not retryable, naming the path; stops the source', async () => {
    const directory = freshDir();
    await mkdir(join(directory, 'messages'), { recursive: true });
    await writeFile(join(directory, 'messages', 'acme'), 'in the way');
    const source = Readable.from([Buffer.from('Subject: x\r\n\r\n')]);
    const error = (await new FileMessageSink({ directory }).store(input('uid-1', source)).catch((e: unknown) => e)) as StorageError;
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'WRITE_FAILED', retryable: false });
    expect(error.message).toContain(join(directory, 'messages', 'acme'));
    expect(source.destroyed).toBe(true);
  });

  it('hashes what it wrote: the digest matches the file', async () => {
    const directory = freshDir();
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(10_000 + i, i));
    const stored = await new FileMessageSink({ directory }).store(input('uid-1', Readable.from(chunks)));
    const bytes = await readFile(join(directory, stored.key));
    expect(bytes.length).toBe(stored.size);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(stored.sha256);
  });

  it('reports every invalid option at once', () => {
    expect(() => new FileMessageSink({ directory: '', prefix: '../up/', staleTempAgeMs: -1, fileMode: 0o1777 })).toThrow(
      'invalid FileMessageSink options: directory is empty; prefix has an empty, "." or ".." path segment; staleTempAgeMs must be a non-negative integer; fileMode must be permission bits (0 to 0o777)',
    );
    for (const prefix of ['/abs/', 'a\\b/', 'a//b/', './x/', 'tab\t/']) {
      expect(() => new FileMessageSink({ directory: root, prefix }), prefix).toThrow(/prefix/);
    }
    for (const prefix of ['', 'messages/', 'mail/2026/', 'mail-']) expect(() => new FileMessageSink({ directory: root, prefix })).not.toThrow();
  });
});
