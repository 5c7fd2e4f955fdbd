/**
 * Helpers shared by the server fixtures: work dirs, the TLS certificate, free ports,
 * readiness probes, Maildir delivery and package versions.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { chmod, chown, copyFile, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pop3Client } from '../../../lambda/pop3';

export const execFileAsync = promisify(execFile);

/** Runs a program with `input` on stdin; rejects with its output when it fails. */
export function runWithInput(cmd: string, args: readonly string[], input: string): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = execFile(cmd, [...args], (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} failed: ${error.message}\n${stderr}`));
      else resolveRun(stdout);
    });
    child.stdin?.end(input);
  });
}

export const LOOPBACK = '127.0.0.1';
/** Debian's nobody/nogroup: servers that need no root run as this. */
export const NOBODY = 65534;
/** uid/gid of the mailbox owner where a server wants a real (non-nobody) account. */
export const MAIL_OWNER = 40001;

/** Budget for one fixture start (all attempts): a cold start takes ~0.2-1 s. */
export const START_TIMEOUT_MS = 20_000;
/** Another process may grab a port between our pick and the server's bind: retry this often. */
export const MAX_START_ATTEMPTS = 3;
const READY_POLL_INTERVAL_MS = 50;
/** One readiness probe must connect and receive the greeting within this. */
const PROBE_TIMEOUT_MS = 2_000;

/** First Maildir timestamp; file names sort in delivery order. */
const MAILDIR_BASE_TIMESTAMP = 1_700_000_000;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where scripts/install-interop-servers.sh unpacks popa3d, courier-pop and cyrus-pop3d. */
export function cacheDir(): string {
  return process.env.INTEROP_CACHE_DIR ?? join(REPO_ROOT, '.cache', 'interop');
}

/** Path of a file inside an unpacked package. */
export function unpacked(pkg: string, path: string): string {
  return join(cacheDir(), pkg, 'root', path);
}

export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** First missing path, as a reason for `unavailable()`; undefined when all exist. */
export function missingFile(paths: readonly string[]): string | undefined {
  const missing = paths.find((p) => !exists(p));
  return missing === undefined ? undefined : `${missing} is missing (run scripts/install-interop-servers.sh)`;
}

/** Version of an installed Debian package, or of one unpacked into the cache. */
export async function packageVersion(pkg: string): Promise<string> {
  try {
    return (await readFile(join(cacheDir(), pkg, 'version'), 'utf8')).trim();
  } catch {
    const { stdout } = await execFileAsync('dpkg-query', ['-W', '-f=${Version}', pkg]);
    return stdout.trim();
  }
}

/** True if every directory from `path` up to / is searchable by "others" (e.g. nobody). */
function traversableByOthers(path: string): boolean {
  for (let dir = path; ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

/** A fresh work dir that every run user can traverse (mkdtemp makes it 0700). */
export async function makeWorkDir(name: string): Promise<string> {
  const parent = traversableByOthers(os.tmpdir()) ? os.tmpdir() : '/tmp';
  const dir = await mkdtemp(join(parent, `mailfetch-interop-${name}-`));
  await chmod(dir, 0o755);
  return dir;
}

export async function removeWorkDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** chown -R (Node has no recursive chown). */
export async function chownRecursive(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of await readdir(path)) await chownRecursive(join(path, entry), uid, gid);
}

/** Copies a program into the work dir: the run user may not be able to reach the cache. */
export async function copyProgram(from: string, to: string): Promise<string> {
  await copyFile(from, to);
  await chmod(to, 0o755);
  return to;
}

// ---------------------------------------------------------------------------------------
// TLS certificate: one per process (generating an RSA key is the slowest part of a start)

export interface KeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

let certificate: Promise<KeyPair> | undefined;

export function sharedCertificate(): Promise<KeyPair> {
  certificate ??= generateCertificate().catch((error: unknown) => {
    certificate = undefined; // let the next start try again
    throw error;
  });
  return certificate;
}

async function generateCertificate(): Promise<KeyPair> {
  const dir = await mkdtemp(join(os.tmpdir(), 'mailfetch-interop-cert-'));
  try {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await execFileAsync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-sha256', '-days', '3650', '-nodes',
      '-keyout', key, '-out', cert, '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
    return { cert: await readFile(cert), key: await readFile(key) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------
// Ports and readiness

/** Distinct free ports: all listeners stay open until all are known. */
export async function pickFreePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolvePort, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, LOOPBACK, () => resolvePort(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}

export interface Probe {
  readonly port: number;
  readonly tls: 'none' | 'implicit';
  readonly ca?: Buffer;
}

/** True once the port answers with a POP3 greeting (over verified TLS for implicit ports). */
async function greets(probe: Probe): Promise<boolean> {
  try {
    const client = await Pop3Client.connect({
      host: LOOPBACK,
      port: probe.port,
      tls: probe.tls,
      tlsOptions: probe.ca ? { ca: probe.ca } : {},
      connectTimeoutMs: PROBE_TIMEOUT_MS,
      greetingTimeoutMs: PROBE_TIMEOUT_MS,
    });
    client.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until every probe greets. `alive` is asked between probes: a server that died
 * during start-up fails at once with `why()` instead of at the deadline.
 */
export async function waitUntilGreeting(probes: readonly Probe[], deadline: number, alive: () => boolean, why: () => string): Promise<void> {
  const pending = [...probes];
  while (pending.length > 0) {
    if (!alive()) throw new Error(`server exited during start-up: ${why()}`);
    if (await greets(pending[0]!)) {
      pending.shift();
      continue;
    }
    if (Date.now() > deadline) throw new Error(`no POP3 greeting on port ${pending[0]!.port} in time: ${why()}`);
    await sleep(READY_POLL_INTERVAL_MS);
  }
}

export async function waitFor(condition: () => boolean, deadline: number, what: string): Promise<void> {
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(READY_POLL_INTERVAL_MS);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * Runs `attempt` with fresh ports until it succeeds, retrying only when the failure says a
 * port was taken in between (the message matches "in use") and the deadline allows.
 */
export async function withFreshPorts<T>(count: number, deadline: number, attempt: (ports: number[]) => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(await pickFreePorts(count));
    } catch (error) {
      const inUse = /in use/i.test(String((error as Error)?.message));
      if (!inUse || n >= MAX_START_ATTEMPTS || Date.now() > deadline) throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Message stores

/** Wire form (CRLF) to the LF form local delivery writes into Maildir and mbox files. */
export function toLf(wire: Buffer): Buffer {
  return Buffer.from(wire.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

/**
 * Maildir delivery: write to tmp/, rename into new/. `seq` numbers the files across calls so
 * that the names (and so most servers' message order) follow delivery order.
 */
export async function deliverToMaildir(maildir: string, messages: readonly Buffer[], owner: { uid: number; gid: number }, seq: { next: number }): Promise<void> {
  for (const message of messages) {
    const n = seq.next++;
    const name = `${MAILDIR_BASE_TIMESTAMP + n}.M${n}P1.interop`;
    const tmp = join(maildir, 'tmp', name);
    await writeFile(tmp, toLf(message));
    await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, join(maildir, 'new', name));
  }
}
