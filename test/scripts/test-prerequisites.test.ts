/**
 * `npm test` starts with scripts/test-prerequisites.sh: on a machine where it cannot
 * install what is missing (no root, no password-less sudo) it must say what to install and
 * stop; where everything is present it must pass silently. The machine is simulated with a
 * PATH of stand-ins: nothing is installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/bundling';

const SCRIPT = join(PROJECT_ROOT, 'scripts/test-prerequisites.sh');
let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

/** A bin directory holding `tools` (real commands by absolute path) and stand-in scripts. */
function machine(tools: Record<string, string>, standIns: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailfetch-prereq-'));
  dirs.push(dir);
  for (const [name, target] of Object.entries(tools)) symlinkSync(target, join(dir, name));
  for (const [name, body] of Object.entries(standIns)) writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

function run(bin: string, dovecot: string): { status: number | null; stderr: string; stdout: string } {
  const result = spawnSync('/bin/bash', [SCRIPT], { env: { PATH: bin, MAILFETCH_DOVECOT_BIN: dovecot }, encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

const NOT_ROOT = { id: 'echo 1000', sudo: 'exit 1', 'apt-get': 'echo "apt-get must not run" >&2; exit 99' };

describe('test prerequisites', () => {
  it('without root or sudo, names each missing package and the command that installs it, and fails', () => {
    const bin = machine({ openssl: '/usr/bin/openssl' }, NOT_ROOT);

    const result = run(bin, '/nonexistent/dovecot');

    expect(result.status).toBe(1);
    expect(result.stderr).toContain('missing dovecot-pop3d openjdk-17-jre-headless');
    expect(result.stderr).toContain('sudo apt-get install -y --no-install-recommends dovecot-pop3d openjdk-17-jre-headless');
    expect(result.stderr).not.toContain('apt-get must not run');
  });

  it('as root, installs what is missing with apt-get', () => {
    const bin = machine({ openssl: '/usr/bin/openssl', java: '/usr/bin/java' }, { id: 'echo 0', 'apt-get': 'echo "apt-get $*"' });

    const result = run(bin, '/nonexistent/dovecot');

    expect(result.status).toBe(0);
    expect(result.stdout).toContain('apt-get update -qq');
    expect(result.stdout).toMatch(/installing dovecot-pop3d with apt-get/);
  });

  it('passes silently when everything is there', () => {
    const bin = machine({ openssl: '/usr/bin/openssl', java: '/usr/bin/java' }, NOT_ROOT);

    const result = run(bin, '/bin/sh');

    expect(result).toEqual({ status: 0, stderr: '', stdout: '' });
  });
});
