/**
 * Adversarial review of `--client-certificate FILE --client-key FILE` (issue 13): files that
 * are not PEM files. Each is refused with the option and the file named, and nothing more of
 * it is read than a sealed value can hold, whatever the file is.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../lambda/cli/cli-io';
import { readClientCertificateFiles } from '../../lambda/cli/client-certificate-input';
import { MAX_SEALED_PLAINTEXT_BYTES } from '../../lambda/credentials/sealed-value';
import { makeClientPki, type ClientKeyPair } from '../fixtures/client-pki';

const run = promisify(execFile);

let dir: string;
let alice: ClientKeyPair;
let io: CliIo;
const writers: FileHandle[] = [];

beforeAll(async () => {
  alice = (await makeClientPki(['alice'])).clients.get('alice')!;
  dir = await mkdtemp(join(tmpdir(), 'mailfetch-review-cli-'));
  await writeFile(join(dir, 'alice.pem'), alice.cert);
  await writeFile(join(dir, 'alice.key'), alice.key, { mode: 0o600 });
  const sink = { write: () => undefined, isTTY: false };
  io = { stdout: sink, stderr: sink, env: {}, cwd: dir };
}, 60_000);
afterEach(async () => {
  await Promise.all(writers.splice(0).map((w) => w.close()));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What reading the pair fails with (the test fails if it succeeds). */
async function refusal(cert: string, key: string): Promise<Error> {
  const err = await readClientCertificateFiles(io, 'ext', { 'client-certificate': cert, 'client-key': key }, 'mailboxes add').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).name).toBe('UsageError');
  return err as Error;
}

describe('files that are not PEM files', () => {
  it('FINDING: a key "file" that is a pipe which never ends (a stuck process substitution, /dev/urandom): read to its end before its size is checked, it hangs (and grows without bound) instead of being refused past the limit', async () => {
    const fifo = join(dir, 'key.fifo');
    await run('mkfifo', [fifo]);
    // The writer opens once the reader does; it sends more than a sealed value holds and never closes.
    const feeding = open(fifo, 'w').then(async (writer) => {
      writers.push(writer);
      await writer.write(Buffer.alloc(2 * MAX_SEALED_PLAINTEXT_BYTES, 0x41));
    });

    const err = await refusal('alice.pem', 'key.fifo');
    await feeding;

    expect(err.message).toMatch(new RegExp(`^--client-key key\\.fifo: .*more than the ${MAX_SEALED_PLAINTEXT_BYTES} bytes a sealed value holds`));
  });

  it('a directory, a file over the limit: refused naming the option, the file and the cause; no byte of the content shown', async () => {
    await mkdir(join(dir, 'certs.d'));
    await writeFile(join(dir, 'big.pem'), `${alice.cert}${'#'.repeat(MAX_SEALED_PLAINTEXT_BYTES)}`);

    const directory = await refusal('certs.d', 'alice.key');
    const big = await refusal('big.pem', 'alice.key');

    expect(directory.message).toBe('--client-certificate certs.d: cannot be read (EISDIR)');
    expect(big.message).toMatch(new RegExp(`^--client-certificate big\\.pem: .*more than the ${MAX_SEALED_PLAINTEXT_BYTES} bytes a sealed value holds`));
    expect(big.message).not.toContain('BEGIN');
  });

  it('the two files swapped, and a key in the certificate\'s place: refused without a line of the key', async () => {
    const swapped = await refusal('alice.key', 'alice.pem');

    expect(swapped.message).toContain('clientCertificate');
    expect(swapped.message).toContain('is not a PEM certificate');
    for (const line of alice.key.split('\n').filter((l) => l.length > 20)) expect(swapped.message).not.toContain(line);
  });
});
