/**
 * What a configured `ca` does to the trust store: it adds to Node's bundled roots (as the
 * README says of `tlsCa`), and it stays with the sessions that configured it.
 *
 * Whether a bundled root is in a store is seen without its private key: a leaf whose
 * issuer is a copy of a bundled root (same name and key identifier, re-signed with a key
 * of ours) fails on the signature when the real root is in the store, and for want of an
 * issuer when it is not.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pop3Client } from '../../lambda/pop3';
import { makeTestPki, type TestPki } from '../fixtures/test-ca';

const run = promisify(execFile);

interface Greeter {
  readonly port: number;
  close(): Promise<void>;
}

/** A TLS server that greets like POP3. Its own store holds only `ca`, so it sends no chain built from the bundled roots. */
async function startGreeter(key: Buffer, cert: Buffer, ca: Buffer): Promise<Greeter> {
  const server = tls.createServer({ key, cert, ca }, (socket) => {
    socket.on('error', () => {});
    socket.end('+OK ready\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A leaf for localhost "issued" by a bundled RSA root, really signed by a key of ours. */
async function leafUnderBundledRootName(dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  const root = tls.rootCertificates.find((pem) => {
    const cert = new X509Certificate(pem);
    return cert.publicKey.asymmetricKeyType === 'rsa' && cert.checkIssued(cert);
  });
  if (!root) throw new Error('no self-signed RSA root among Node\'s bundled roots');
  await writeFile(join(dir, 'root.pem'), root);
  await writeFile(join(dir, 'leaf.ext'), 'basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await openssl('genrsa', '-out', 'fake-root.key', '2048');
  // Keeps the root's subject and key identifier, with our key: the leaf names the real root as its issuer.
  await openssl('x509', '-in', 'root.pem', '-signkey', 'fake-root.key', '-out', 'fake-root.pem');
  await openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  await openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'fake-root.pem', '-CAkey', 'fake-root.key', '-set_serial', '0x5eed', '-days', '2', '-extfile', 'leaf.ext', '-out', 'leaf.pem');
  return { key: await readFile(join(dir, 'leaf.key')), cert: await readFile(join(dir, 'leaf.pem')) };
}

describe('TLS trust with a configured ca', () => {
  let dir: string;
  let pki: TestPki;
  let underRoot: Greeter;
  let underCa: Greeter;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mf-trust-'));
    pki = await makeTestPki();
    const leaf = await leafUnderBundledRootName(dir);
    underRoot = await startGreeter(leaf.key, leaf.cert, pki.otherCaCert);
    underCa = await startGreeter(pki.serverKey, pki.serverCert, pki.otherCaCert);
  });
  afterAll(async () => {
    await Promise.all([underRoot?.close(), underCa?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  /** The verification error of a session that does not reject, so the error can be read. */
  async function verdict(port: number, ca?: Buffer): Promise<string | undefined> {
    const client = await Pop3Client.connect({
      host: '127.0.0.1',
      port,
      tls: 'implicit',
      tlsOptions: { rejectUnauthorized: false, servername: 'localhost', ...(ca ? { ca } : {}) },
    });
    client.close();
    return client.tls?.authorizationError;
  }

  it('keeps Node\'s bundled roots: the copied root is found, and its signature fails', async () => {
    expect(await verdict(underRoot.port, pki.caCert)).toBe('CERT_SIGNATURE_FAILURE');
    expect(await verdict(underRoot.port)).toBe('CERT_SIGNATURE_FAILURE');
  });

  it('tells a store without the bundled roots apart (control: Node\'s own ca option replaces them)', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: underRoot.port, servername: 'localhost', ca: pki.caCert, rejectUnauthorized: false });
    const error = await new Promise<string | undefined>((resolve, reject) => {
      socket.once('secureConnect', () => resolve(socket.authorizationError as unknown as string | undefined));
      socket.once('error', reject);
    });
    socket.destroy();
    expect(error).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('a ca that is neither PEM text nor a Buffer is a USAGE error, not a silently empty trust', async () => {
    for (const ca of [123, {}, null]) {
      await expect(Pop3Client.connect({ host: '127.0.0.1', port: underCa.port, tls: 'implicit', tlsOptions: { ca: ca as unknown as string } })).rejects.toMatchObject({ code: 'USAGE' });
    }
  });

  it('trusts the configured ca in its own sessions only', async () => {
    expect(await verdict(underCa.port)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await verdict(underCa.port, pki.caCert)).toBeUndefined();
    // A context that added the ca must not have added it to the store every session shares.
    expect(await verdict(underCa.port)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await verdict(underCa.port, pki.otherCaCert)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});
