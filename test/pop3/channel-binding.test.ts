/**
 * tls-server-end-point (RFC 5929): the certificate's own signature hash, except MD5 and SHA-1
 * (then SHA-256), read from certificates openssl signs with each algorithm; none for Ed25519.
 * And SCRAM's PBKDF2 leaves the event loop free while it runs.
 */
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSignatureHash, tlsServerEndPoint } from '../../lambda/pop3/channel-binding';
import { MAX_SCRAM_ITERATIONS, scramMechanism } from '../../lambda/pop3/sasl-scram';

const run = promisify(execFile);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailfetch-cb-'));
  // Small keys: only the signature algorithm matters here, and they are generated fast.
  await run('openssl', ['genpkey', '-algorithm', 'rsa', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', join(dir, 'rsa.pem')]);
  await run('openssl', ['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', join(dir, 'ec.pem')]);
  await run('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'ed.pem')]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A self-signed certificate (DER) made with `key` and extra `openssl req` arguments. */
async function certificate(name: string, key: string, args: string[]): Promise<Buffer> {
  const out = join(dir, `${name}.crt`);
  await run('openssl', ['req', '-x509', '-key', join(dir, key), '-subj', '/CN=localhost', '-days', '1', '-out', out, ...args]);
  return new X509Certificate(await readFile(out)).raw;
}

describe('tls-server-end-point', () => {
  const CASES: [string, string, string[], string | undefined, string | undefined][] = [
    // name, key, openssl arguments, the signature's hash, the hash RFC 5929 then uses
    ['rsa-sha1', 'rsa.pem', ['-sha1'], 'sha1', 'sha256'],
    ['rsa-sha256', 'rsa.pem', ['-sha256'], 'sha256', 'sha256'],
    ['rsa-sha384', 'rsa.pem', ['-sha384'], 'sha384', 'sha384'],
    ['rsa-sha512', 'rsa.pem', ['-sha512'], 'sha512', 'sha512'],
    ['rsa-pss-sha384', 'rsa.pem', ['-sha384', '-sigopt', 'rsa_padding_mode:pss'], 'sha384', 'sha384'],
    ['rsa-pss-sha256', 'rsa.pem', ['-sha256', '-sigopt', 'rsa_padding_mode:pss'], 'sha256', 'sha256'],
    ['ecdsa-sha1', 'ec.pem', ['-sha1'], 'sha1', 'sha256'],
    ['ecdsa-sha256', 'ec.pem', ['-sha256'], 'sha256', 'sha256'],
    ['ecdsa-sha512', 'ec.pem', ['-sha512'], 'sha512', 'sha512'],
    ['ed25519', 'ed.pem', [], undefined, undefined],
  ];
  for (const [name, key, args, signatureHash, bindingHash] of CASES) {
    it(`${name}: ${bindingHash ? `the ${bindingHash} of the certificate` : 'none'}`, async () => {
      const der = await certificate(name, key, args);
      expect(certificateSignatureHash(der)).toBe(signatureHash);
      expect(tlsServerEndPoint(der)).toEqual(bindingHash ? createHash(bindingHash).update(der).digest() : undefined);
    });
  }

  it('none for bytes that are not a certificate', () => {
    expect(tlsServerEndPoint(Buffer.from('not DER at all'))).toBeUndefined();
    expect(tlsServerEndPoint(Buffer.from([0x30, 0x82, 0xff, 0xff, 0x30]))).toBeUndefined();
  });
});

describe('SCRAM and the event loop', () => {
  it(`the event loop keeps turning while PBKDF2 runs ${MAX_SCRAM_ITERATIONS} iterations`, async () => {
    const m = scramMechanism({ username: 'user', password: 'pencil' }, { hash: 'sha256', nonce: 'abc' });
    let turns = 0;
    let done = false;
    const spin = (): void => {
      turns++;
      if (!done) setImmediate(spin);
    };
    setImmediate(spin);
    await m.respond(Buffer.from(`r=abcdef,s=QSXCR+Q6sek8bf92,i=${MAX_SCRAM_ITERATIONS}`));
    done = true;
    // Computed on the event loop (pbkdf2Sync), the proof would be ready before a single turn.
    expect(turns).toBeGreaterThan(1);
  });
});
