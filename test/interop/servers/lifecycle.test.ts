/**
 * The fixtures leave nothing behind: stop() ends every process a server started, and so
 * does the death of the test process itself (SIGKILL: no clean-up code runs), through the
 * parent-death signal and the PID namespace (see process.ts).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { courier, cyrus, mailutils, popa3d, requireServer, warnLoudly } from './index';
import { sleep } from './setup';

/** The kernel tears a namespace down asynchronously once its init died. */
const GONE_TIMEOUT_MS = 5_000;
const GONE_POLL_MS = 50;
const CHILD_START_TIMEOUT_MS = 30_000;
const CHILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'lifecycle-child.ts');

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

function pidNamespace(pid: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Live processes of an instance: those naming its work dir, and all in their PID namespaces. */
function processesOf(workDir: string): number[] {
  const hostNs = pidNamespace('self');
  const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  const alive = pids.filter((p) => !/^\d+ \(.*\) Z/s.test(readOrEmpty(`/proc/${p}/stat`)));
  const named = alive.filter((p) => readOrEmpty(`/proc/${p}/cmdline`).includes(workDir));
  const namespaces = new Set(named.map(pidNamespace).filter((ns) => ns !== undefined && ns !== hostNs));
  return alive.filter((p) => named.includes(p) || namespaces.has(pidNamespace(p))).map(Number);
}

async function expectGone(workDir: string): Promise<void> {
  const deadline = Date.now() + GONE_TIMEOUT_MS;
  while (processesOf(workDir).length > 0 && Date.now() < deadline) await sleep(GONE_POLL_MS);
  expect(processesOf(workDir)).toEqual([]);
}

/** Starts the server in a child process and returns its work dir and the child. */
function startInChild(name: string): Promise<{ workDir: string; kill: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, name], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not start ${name}:\n${output}`));
    }, CHILD_START_TIMEOUT_MS);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      const { workDir } = JSON.parse(line) as { workDir: string };
      resolve({ workDir, kill: async () => void (child.kill('SIGKILL'), await exited) });
    });
    child.once('exit', () => reject(new Error(`child exited before starting ${name}:\n${output}`)));
  });
}

/** Like the matrix: a server that cannot start fails in CI and is skipped (loudly) locally. */
async function orSkip<T>(label: string, start: Promise<T>, skip: () => never): Promise<T> {
  try {
    return await start;
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    warnLoudly(`${label} could not start; SKIPPING this lifecycle test:\n${String(error)}`);
    return skip();
  }
}

for (const module of [mailutils, popa3d, courier, cyrus]) {
  const { label } = module.profile;
  describe.skipIf(!requireServer(module))(`${label}: lifecycle`, () => {
    it('stop() ends every process it started and removes the work dir', async (context) => {
      const server = await orSkip(label, module.start(), () => context.skip());
      expect(processesOf(server.workDir).length).toBeGreaterThan(0);
      await server.stop();
      await server.stop(); // idempotent
      await expectGone(server.workDir);
      expect(readOrEmpty(join(server.workDir, 'start.sh'))).toBe('');
    });

    it('a test process killed with SIGKILL takes its server with it', async (context) => {
      const { workDir, kill } = await orSkip(label, startInChild(module.profile.name), () => context.skip());
      try {
        expect(processesOf(workDir).length).toBeGreaterThan(0);
        await kill();
        await expectGone(workDir);
      } finally {
        await rm(workDir, { recursive: true, force: true });
      }
    });
  });
}
