/**
 * Interrupting `mailfetch fetch` (the real process, `node bin/mailfetch.js`) against the fake
 * POP3 server in this process, modelled as Gmail (retrieved mail is hidden at QUIT), with
 * embedded storage: the first Ctrl-C stops cleanly (summary, lease released, exit 130), a
 * second one exits at once and still releases the lease, and `unlock` frees a lease whose
 * holder was killed. After each, the next fetch runs, and every message is stored exactly
 * once, byte for byte.
 */
import { readdir, readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localMessageDirectory, openStorage } from '../../lambda/cli/storage';
import { DEFAULT_PREFIX } from '../../lambda/env';
import { startFakePop3, type FakeMessage, type FakePop3Options, type FakePop3Server, type FakeSession } from '../fixtures/fake-pop3-server';
import { gmail } from '../fixtures/pop3-profiles';
import { jsonLines, runMailfetch, startMailfetch, type CliResult, type RunningCli } from './cli-runner';

const PASSWORD = 'interrupt-test-pw-5521';
const PASSWORD_ENV = 'MF_INTERRUPT_TEST_PASSWORD';
/** Each run starts Node, tsx and the embedded store: slow on a busy machine. */
const SLOW_TEST_MS = 180_000;
const MESSAGES = 30;
/** Per RETR: long enough that a run is still going when the signal lands. */
const RETR_DELAY_MS = 100;
/** The RETR (by count) at which the test sends the signal. */
const SIGNAL_AT_RETR = 4;
/** How long the test waits for a killed CLI's embedded-server child to let go of the store. */
const STORE_RELEASE_WAIT_MS = 30_000;

const message = (n: number): FakeMessage => ({
  uid: `uid-${n}`,
  bytes: Buffer.from(`From: a@example.org\r\nTo: b@example.org\r\nSubject: message ${n}\r\n\r\n${`line ${n}\r\n`.repeat(50 + n)}`, 'latin1'),
});

let workDir: string;
const servers: FakePop3Server[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'mailfetch-interrupt-'));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface Setup {
  readonly server: FakePop3Server;
  readonly config: string;
  readonly local: string;
  /** RETR commands received so far. */
  retrs(): number;
}

/**
 * A Gmail-like server with MESSAGES messages, each RETR answered after RETR_DELAY_MS;
 * `onRetr` runs when a RETR arrives (before it is answered) and may answer it itself.
 */
async function setup(name: string, onRetr: (count: number, session: FakeSession, n: number) => Promise<boolean> | boolean = () => false): Promise<Setup> {
  let retrs = 0;
  const onCommand: FakePop3Options['onCommand'] = async (cmd, session) => {
    if (cmd.verb !== 'RETR') return false;
    retrs++;
    if (await onRetr(retrs, session, Number(cmd.args[0]))) return true;
    await sleep(RETR_DELAY_MS);
    return false;
  };
  const server = await startFakePop3({ user: 'alice', password: PASSWORD, messages: Array.from({ length: MESSAGES }, (_, i) => message(i + 1)), profiles: [gmail()], onCommand });
  servers.push(server);
  const config = join(workDir, `${name}.config.json`);
  const mailbox = { id: 'box', host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: { env: PASSWORD_ENV }, hidesRetrievedMail: true };
  await writeFile(config, JSON.stringify({ mailboxes: [mailbox] }));
  return { server, config, local: join(workDir, `${name}-store`), retrs: () => retrs };
}

function start(s: Setup, extra: string[] = []): RunningCli {
  return startMailfetch(['fetch', '--config', s.config, '--local', s.local, ...extra], workDir, { [PASSWORD_ENV]: PASSWORD });
}

function run(s: Setup, args: string[]): Promise<CliResult> {
  return runMailfetch([...args, '--config', s.config, '--local', s.local], workDir, { [PASSWORD_ENV]: PASSWORD });
}

/** Every message file of the local store (`.eml`; a temporary file of an unfinished write is not one). */
async function storedObjects(local: string): Promise<Buffer[]> {
  const dir = localMessageDirectory(local, DEFAULT_PREFIX, '');
  if (!existsSync(dir)) return [];
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.eml'));
  return Promise.all(files.map((f) => readFile(join(dir, f))));
}

/**
 * Nothing lost, nothing twice, nothing partial: every object is exactly one message's bytes,
 * no message is stored twice, and every message that left the server (Gmail: hidden at
 * QUIT) is stored. Returns how many messages are stored.
 */
async function expectStoredExactlyOnce(s: Setup): Promise<number> {
  const objects = await storedObjects(s.local);
  const byBytes = new Map(s.server.truth.all().map((r) => [r.bytes.toString('latin1'), r.uid]));
  const uids = objects.map((o) => byBytes.get(o.toString('latin1')));
  expect(uids.filter((u) => u === undefined), 'objects that are no message byte for byte (partial)').toEqual([]);
  expect(new Set(uids).size, 'a message stored twice').toBe(uids.length);
  const left = s.server.truth.left().map((r) => r.uid);
  expect(left.filter((u) => !uids.includes(u)), 'messages that left the server unstored').toEqual([]);
  return uids.length;
}

function sigint(cli: RunningCli): void {
  cli.child.kill('SIGINT');
}

describe('Ctrl-C during mailfetch fetch', { timeout: SLOW_TEST_MS }, () => {
  it('the first Ctrl-C finishes the messages in flight, QUITs, releases the lease, prints the summary and exits 130; nothing is lost', async () => {
    // Prepare: the signal goes out while the 4th RETR is being answered.
    const running: { cli?: RunningCli } = {};
    const s = await setup('first', (count) => {
      if (count === SIGNAL_AT_RETR) sigint(running.cli!);
      return false;
    });

    // Act
    running.cli = start(s);
    const interrupted = await running.cli.result;

    // Assess: exit 130, the notice, the summary saying "interrupted" with what was done.
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain('mailfetch: interrupted (SIGINT): finishing the messages in flight');
    expect(interrupted.stdout).toMatch(/^box: interrupted, the next run continues \(/m);
    const fetched = Number(/fetched (\d+)/.exec(interrupted.stdout)?.[1]);
    expect(fetched).toBeGreaterThanOrEqual(SIGNAL_AT_RETR);
    expect(fetched).toBeLessThan(MESSAGES);
    // The session ended with QUIT (every retrieved message stored), so Gmail hid exactly those.
    expect(s.server.commands.some((c) => c.line === 'QUIT')).toBe(true);
    expect(s.server.truth.hidden()).toHaveLength(fetched);
    expect(await expectStoredExactlyOnce(s)).toBe(fetched);

    // The lease was released: the next fetch runs at once (not busy) and takes the rest.
    const next = await run(s, ['fetch', '--json']);
    expect(next.code).toBe(0);
    expect(jsonLines(next.stdout)).toEqual([expect.objectContaining({ status: 'ok', fetched: MESSAGES - fetched, complete: true, interrupted: false, errors: [] })]);
    expect(await expectStoredExactlyOnce(s)).toBe(MESSAGES);
    expect(s.server.truth.hidden()).toHaveLength(MESSAGES);
  });

  it('a second Ctrl-C exits at once without QUIT and still releases the lease; nothing is lost', async () => {
    // Prepare: the 4th RETR sends half its message and then nothing (a stalled server), so
    // the first Ctrl-C cannot finish it; the second comes while the run waits for it.
    const running: { cli?: RunningCli } = {};
    let stalled = false;
    const s = await setup('second', async (count, session, n) => {
      if (count !== SIGNAL_AT_RETR || stalled) return false;
      stalled = true;
      const bytes = session.mailbox[n - 1]!.bytes;
      await session.writeLine(`+OK ${bytes.length} octets`);
      await session.write(bytes.subarray(0, bytes.length >> 1));
      session.stall();
      sigint(running.cli!);
      await sleep(1_000);
      sigint(running.cli!);
      return true;
    });

    // Act
    running.cli = start(s);
    const result = await running.cli.result;

    // Assess: exit 130, the lease released on the way out, no summary (it did not wait).
    expect(result.code).toBe(130);
    expect(result.stderr).toContain('interrupted again: exiting now');
    expect(result.stderr).toContain('box: lease released');
    expect(result.stdout).not.toMatch(/^box: /m);
    // No QUIT: Gmail hid nothing, so whatever was stored or not is still on the server.
    expect(s.server.commands.some((c) => c.line === 'QUIT')).toBe(false);
    expect(s.server.truth.left()).toEqual([]);
    await expectStoredExactlyOnce(s);

    // Not busy: the next fetch (its child's store freed) stores everything, each once.
    await waitForStore(s.local);
    const next = await run(s, ['fetch', '--json']);
    expect(next.code).toBe(0);
    expect(jsonLines(next.stdout)).toEqual([expect.objectContaining({ status: 'ok', complete: true, errors: [] })]);
    expect(await expectStoredExactlyOnce(s)).toBe(MESSAGES);
  });
});

describe('mailfetch unlock', { timeout: SLOW_TEST_MS }, () => {
  it('a fetch killed with SIGKILL leaves the mailbox busy, naming holder and expiry; unlock frees it and the next fetch runs', async () => {
    // Prepare: kill the fetch (no handler runs: the lease stays) while it fetches.
    const running: { cli?: RunningCli } = {};
    let killed: number | undefined;
    const s = await setup('killed', (count) => {
      if (count === SIGNAL_AT_RETR && killed === undefined) {
        killed = running.cli!.child.pid;
        running.cli!.child.kill('SIGKILL');
      }
      return false;
    });
    running.cli = start(s);
    await running.cli.result;
    await waitForStore(s.local);

    // Act / Assess: busy, with who and until when, and the way out.
    const busy = await run(s, ['fetch']);
    expect(busy.code).toBe(1);
    expect(busy.stdout).toMatch(new RegExp(`^box: busy: held by mailfetch fetch \\(pid ${killed} on ${escape(hostname())}\\) until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z`, 'm'));
    expect(busy.stdout).toContain("'mailfetch unlock --mailbox box'");
    const busyJson = await run(s, ['fetch', '--json']);
    expect(jsonLines(busyJson.stdout)).toEqual([expect.objectContaining({ status: 'busy', heldBy: expect.objectContaining({ holder: `mailfetch fetch (pid ${killed} on ${hostname()})` }) })]);

    const unlock = await run(s, ['unlock', '--mailbox', 'box']);
    expect(unlock.code).toBe(0);
    expect(unlock.stdout).toContain(`box: released the lease of mailfetch fetch (pid ${killed} on ${hostname()})`);
    expect(unlock.stdout).toContain(`process ${killed} no longer runs on this host`);
    const again = await run(s, ['unlock', '--mailbox', 'box']);
    expect(again.stdout).toBe('box: not locked; nothing to do.\n');

    const next = await run(s, ['fetch', '--json']);
    expect(next.code).toBe(0);
    expect(jsonLines(next.stdout)).toEqual([expect.objectContaining({ status: 'ok', complete: true, errors: [] })]);
    expect(await expectStoredExactlyOnce(s)).toBe(MESSAGES);
  });

  it('refuses a holder that may still run (exit 2, nothing changed) unless --force', async () => {
    // Prepare: a lease held by this test process (alive, on this host), written directly.
    const s = await setup('live');
    const storage = await openStorage({ kind: 'local', dir: s.local, prefix: DEFAULT_PREFIX }, { readOnly: false });
    try {
      expect(await storage.state.acquireLease('box', 'live-run', Date.now(), 600_000, { description: 'a live holder', host: hostname(), pid: process.pid })).toBe(true);
    } finally {
      await storage.close();
    }

    // Act / Assess: refused, naming the process; --force releases it.
    const refused = await run(s, ['unlock', '--mailbox', 'box']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`box is held by a live holder until`);
    expect(refused.stderr).toContain(`process ${process.pid} still runs on this host`);
    expect((await run(s, ['fetch'])).stdout).toMatch(/^box: busy: held by a live holder until /m);
    const forced = await run(s, ['unlock', '--mailbox', 'box', '--force', '--json']);
    expect(forced.code).toBe(0);
    expect(jsonLines(forced.stdout)).toEqual([{ mailbox: 'box', released: true, owner: 'live-run', holder: 'a live holder', forced: true }]);
    expect((await run(s, ['fetch', '--json'])).code).toBe(0);
  });
});

/**
 * A killed CLI's embedded-server child exits when it notices its parent is gone; until then
 * it holds the store's LevelDB lock (an fcntl lock: /proc/locks lists it by inode on Linux).
 */
async function waitForStore(local: string): Promise<void> {
  const lockFile = join(local, 'dynamodb', 'LOCK');
  if (!existsSync('/proc/locks') || !existsSync(lockFile)) return;
  const inode = `:${statSync(lockFile).ino} `;
  const deadline = Date.now() + STORE_RELEASE_WAIT_MS;
  while (Date.now() < deadline && readFileSync('/proc/locks', 'utf8').includes(inode)) await sleep(100);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
