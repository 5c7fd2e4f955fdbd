/**
 * popa3d (Debian package popa3d, unpacked, not installed: it conflicts with dovecot-pop3d),
 * inetd style under socat, as root in a private mount + PID namespace where a private
 * passwd/group/shadow/pam.d and /var are bind-mounted (the host's files stay untouched).
 * mbox at /var/mail/alice, plain POP3 only, USER/PASS only.
 * Recipe: /work/shared/notes/other-pop3-servers.md section 2.
 *
 * Quirks:
 * - No CAPA (`-ERR`), no STLS, no SASL, no APOP; the greeting is a bare `+OK`.
 * - UIDLs are a hash of a few headers: messages without Date and Message-ID all get the
 *   same UIDL, so one listing can hold duplicate UIDLs.
 */
import { appendFile, chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stat } from './direct';
import { ConfinedProcess } from './process';
import {
  copyProgram, execFileAsync, isRoot, LOOPBACK, MAIL_OWNER, makeWorkDir, missingFile, packageVersion, removeWorkDir,
  START_TIMEOUT_MS, toLf, unpacked, waitUntilGreeting, withFreshPorts,
} from './setup';
import type { InteropServer, ServerModule } from './types';

const POPA3D = unpacked('popa3d', 'usr/sbin/popa3d');
const SOCAT = '/usr/bin/socat';
/** popa3d's privilege-separated login stage runs as this account (chrooted to /var/lib/popa3d). */
const POPA3D_UID = 40000;
const USER = { name: 'alice', password: 'alice-pw' };
/** mbox separator line; the date is irrelevant to popa3d. */
const MBOX_FROM_LINE = 'From interop@example.com Sat Jan  1 00:00:00 2000\n';

export const QUIRKS = ['no CAPA', 'bare +OK greeting', 'duplicate UIDLs'] as const;

async function prepare(dir: string): Promise<string> {
  for (const sub of ['etc/pam.d', 'var/mail', 'var/lib/popa3d']) await mkdir(join(dir, sub), { recursive: true });
  const etc = join(dir, 'etc');
  await writeFile(
    join(etc, 'passwd'),
    [
      'root:x:0:0::/root:/bin/sh',
      `popa3d:x:${POPA3D_UID}:${POPA3D_UID}::/var/lib/popa3d:/usr/sbin/nologin`,
      `${USER.name}:x:${MAIL_OWNER}:${MAIL_OWNER}::/nonexistent:/usr/sbin/nologin`,
      '',
    ].join('\n'),
  );
  await writeFile(join(etc, 'group'), ['root:x:0:', 'mail:x:8:', `popa3d:x:${POPA3D_UID}:`, `${USER.name}:x:${MAIL_OWNER}:`, ''].join('\n'));
  const { stdout: hash } = await execFileAsync('openssl', ['passwd', '-6', USER.password]);
  await writeFile(join(etc, 'shadow'), `${USER.name}:${hash.trim()}:19000:0:99999:7:::\n`, { mode: 0o600 });
  await writeFile(join(etc, 'pam.d', 'popa3d'), 'auth required pam_unix.so\naccount required pam_unix.so\n');
  const mbox = join(dir, 'var', 'mail', USER.name);
  await writeFile(mbox, '', { mode: 0o600 });
  await chown(mbox, MAIL_OWNER, MAIL_OWNER);
  await copyProgram(POPA3D, join(dir, 'popa3d'));
  return mbox;
}

/** The namespace's script: bind the private files over the host's, then serve inetd style. */
function startScript(dir: string, port: number): string {
  return `set -e
for f in passwd group shadow pam.d; do mount --bind ${dir}/etc/$f /etc/$f; done
mount --bind ${dir}/var /var
exec ${SOCAT} TCP-LISTEN:${port},bind=${LOOPBACK},fork,reuseaddr EXEC:${dir}/popa3d,nofork
`;
}

async function launch(dir: string, deadline: number): Promise<{ server: ConfinedProcess; port: number }> {
  return withFreshPorts(1, deadline, async ([port]) => {
    const script = join(dir, 'start.sh');
    await writeFile(script, startScript(dir, port!));
    await chmod(script, 0o755);
    const server = ConfinedProcess.launch(['sh', script], { mountNamespace: true });
    try {
      await waitUntilGreeting([{ port: port!, tls: 'none' }], deadline, () => server.running, () => server.describeExit());
      return { server, port: port! };
    } catch (error) {
      await server.stop();
      throw error;
    }
  });
}

/** mbox form: separator line, LF line ends, a final LF, and the blank line before the next. */
export function mboxEntry(message: Buffer): Buffer {
  const lf = toLf(message);
  // Lines starting with "From " would need ">From " quoting, which changes the message.
  if (/(^|\n)From /.test(lf.toString('latin1'))) throw new RangeError('popa3d fixture: a line starts with "From "; mbox would quote it');
  const ending = lf[lf.length - 1] === 0x0a ? '\n' : '\n\n';
  return Buffer.concat([Buffer.from(MBOX_FROM_LINE, 'latin1'), lf, Buffer.from(ending, 'latin1')]);
}

async function start(): Promise<InteropServer> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const dir = await makeWorkDir('popa3d');
  try {
    const mbox = await prepare(dir);
    const { server, port } = await launch(dir, deadline);
    let stopping: Promise<void> | undefined;
    const instance: InteropServer = {
      name: 'popa3d',
      version: await packageVersion('popa3d'),
      host: LOOPBACK,
      ports: { plain: port },
      stls: false,
      user: { username: USER.name, password: USER.password },
      mechanisms: ['USER'],
      workDir: dir,
      quirks: QUIRKS,
      deliver: async (messages) => {
        for (const message of messages) await appendFile(mbox, mboxEntry(message));
      },
      count: () => stat(instance),
      stop: () => (stopping ??= server.stop().finally(() => removeWorkDir(dir))),
    };
    return instance;
  } catch (error) {
    await removeWorkDir(dir);
    throw error;
  }
}

export const popa3d: ServerModule = {
  profile: { name: 'popa3d', label: 'popa3d', modes: ['none'], mechanisms: ['USER'], pipelining: false },
  unavailable: () => (isRoot() ? missingFile([POPA3D, SOCAT]) : 'needs root (chroot, two uids, bind mounts in a namespace)'),
  start,
};
