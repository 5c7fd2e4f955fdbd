/**
 * Adversarial review of channel binding (issue 13): SCRAM-*-PLUS over TLS 1.2, where the
 * binding is the hash of the server certificate chosen by its signature algorithm
 * (tls-server-end-point), against servers whose certificates are not the usual ECDSA-SHA256
 * (RSA-PSS with SHA-384, legacy RSA-SHA1, Ed25519, which has no such hash); and the binding
 * of a link that has closed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSession, Pop3Client, Pop3ErrorCode, type Pop3SessionOptions } from '../../lambda/pop3';
import type { FakePop3Options, FakePop3Server } from '../fixtures/fake-pop3-server';
import { makeTestPki, type TestPki } from '../fixtures/test-ca';
import { closeServers, errorOf, fake } from './pop3-test-kit';

const run = promisify(execFile);

interface ServerCertificate {
  readonly cert: Buffer;
  readonly key: Buffer;
}

let dir: string;
let pki: TestPki;
const certificates = new Map<string, ServerCertificate>();

/** A self-signed server certificate for 127.0.0.1 (its own trust anchor), made with `key` and extra `openssl req` arguments. */
async function selfSigned(name: string, key: string, args: string[]): Promise<ServerCertificate> {
  const out = join(dir, `${name}.crt`);
  await run('openssl', ['req', '-x509', '-key', join(dir, key), '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-out', out, ...args]);
  return { cert: await readFile(out), key: await readFile(join(dir, key)) };
}

beforeAll(async () => {
  pki = await makeTestPki();
  dir = await mkdtemp(join(tmpdir(), 'mailfetch-review-cb-'));
  await run('openssl', ['genpkey', '-algorithm', 'rsa', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(dir, 'rsa.pem')]);
  await run('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'ed.pem')]);
  certificates.set('rsa-pss-sha384', await selfSigned('rsa-pss-sha384', 'rsa.pem', ['-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1']));
  certificates.set('rsa-sha1', await selfSigned('rsa-sha1', 'rsa.pem', ['-sha1']));
  certificates.set('ed25519', await selfSigned('ed25519', 'ed.pem', []));
}, 60_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});
afterEach(closeServers);

const SCRAM = 'SASL SCRAM-SHA-256 SCRAM-SHA-256-PLUS';

/** A TLS 1.2 fake server with certificate `name`, offering SCRAM with and without -PLUS. */
function tls12(name: string, extra: FakePop3Options = {}): Promise<FakePop3Server> {
  const { cert, key } = certificates.get(name)!;
  return fake({ pki: { serverCert: cert, serverKey: key }, tls: 'implicit', tlsMaxVersion: 'TLSv1.2', capabilities: ['USER', 'UIDL', SCRAM], ...extra });
}

function options(server: FakePop3Server, name: string, extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions {
  return { host: '127.0.0.1', port: server.port, tlsOptions: { ca: certificates.get(name)!.cert }, username: 'alice', password: 'secret', ...extra };
}

/** The mechanism and GS2 header of the AUTH line the server got. */
function authSent(server: FakePop3Server): string {
  const [, mechanism, initial] = server.commands.find((c) => c.line.startsWith('AUTH '))!.line.split(' ');
  const first = Buffer.from(initial!, 'base64').toString('latin1');
  return `${mechanism} ${first.slice(0, first.indexOf(',n=') + 1)}`;
}

describe('tls-server-end-point with certificates other than ECDSA-SHA256', () => {
  for (const [name, hash] of [['rsa-pss-sha384', 'sha384'], ['rsa-sha1', 'sha256']] as const) {
    it(`${name}: auto logs in with SCRAM-SHA-256-PLUS, bound with the ${hash} of the certificate`, async () => {
      const server = await tls12(name, { scram: { endPointHash: hash } });

      const client = await openSession(options(server, name));
      await client.quit();

      expect(client.tls?.protocol).toBe('TLSv1.2');
      expect(authSent(server)).toBe('SCRAM-SHA-256-PLUS p=tls-server-end-point,,');
    });
  }

  it('ed25519 (no hash to bind with): auto logs in with SCRAM-SHA-256 and "n"; an explicit -PLUS is UNSUPPORTED before any AUTH', async () => {
    const server = await tls12('ed25519');

    const client = await openSession(options(server, 'ed25519'));
    const binding = await client.channelBinding();
    await client.quit();
    const err = await errorOf(openSession(options(server, 'ed25519', { auth: 'SCRAM-SHA-256-PLUS' })));

    expect(binding).toBeUndefined();
    expect(client.tls?.protocol).toBe('TLSv1.2');
    expect(authSent(server)).toBe('SCRAM-SHA-256 n,,');
    expect(err.code).toBe(Pop3ErrorCode.UNSUPPORTED);
    expect(server.commands.filter((c) => c.line.startsWith('AUTH '))).toHaveLength(1);
  });
});

describe('the channel binding of a closed link', () => {
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`FINDING: ${version}: read once the connection is closed, Pop3Client.channelBinding() answers none instead of throwing a TypeError`, async () => {
      const server = await fake({ pki, tls: 'implicit', tlsMaxVersion: version });
      const client = await Pop3Client.connect({ host: '127.0.0.1', port: server.port, tlsOptions: { ca: pki.caCert } });
      expect(await client.channelBinding()).toBeDefined();

      client.close();
      // The TLS socket lets go of its handle once it has closed, a few turns of the event loop later.
      const bound = async (): Promise<boolean> => {
        try {
          return (await client.channelBinding()) !== undefined;
        } catch {
          return false;
        }
      };
      for (let turn = 0; turn < 200 && (await bound()); turn++) await new Promise((resolve) => setTimeout(resolve, 10));

      await expect(client.channelBinding()).resolves.toBeUndefined();
    });
  }
});
