/**
 * mpop, fetchmail and getmail6 (Debian packages, scripts/install-bench-tools.sh) fetching a
 * Dovecot mailbox in keep mode into a Maildir, each from "nothing seen": every run gets a
 * fresh scratch dir with a new Maildir, a new state file (mpop uidls file, fetchmail
 * idfile, getmail oldmail dir) and its own config. All of them use implicit TLS on the
 * same port, verify the server with the fixture's CA, and add no header of their own where
 * they have a switch for it.
 *
 * What each one does with a message:
 * - mpop: pipelined RETRs; native Maildir delivery (tmp/ then rename into new/, CRLF -> LF).
 * - fetchmail: one RETR at a time (it does not pipeline); it has no Maildir delivery of its
 *   own, so an MDA writes the file: `exec cat > Maildir/new/<pid>.fetchmail`, run by
 *   /bin/sh, one fork + exec per message (fetchmail's documented way to deliver without an
 *   MTA). fetchmail adds a Received: header (no switch turns that off).
 * - getmail6: one RETR at a time (Python poplib); native Maildir delivery (tmp/ then link
 *   into new/) in a forked child per message, Delivered-To/Received headers switched off.
 *   Run through bench/getmail6-race-fix.py, which fixes the packaged version's lost-SIGCHLD
 *   hang (it would otherwise stall for its 180 s timeout within a few hundred messages).
 */
import { chown, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { countMaildir, execMeasured, freshDir, makeMaildir, type ExecResult } from './common';

export interface MailboxTarget {
  readonly host: string;
  readonly tlsPort: number;
  readonly user: string;
  readonly password: string;
  /** PEM file of the CA that signed the server certificate. */
  readonly caFile: string;
}

export interface ClassicRun {
  readonly ms: number;
  readonly cpuMs: number | undefined;
  readonly messages: number;
}

export interface ClassicTool {
  readonly id: 'mpop' | 'fetchmail' | 'getmail6';
  readonly command: string;
  run(target: MailboxTarget, scratchParent: string): Promise<ClassicRun>;
}

const TIMEOUT_MS = 10 * 60_000;
const NOBODY = 65534;
/** Debian's Python, the one getmail6 is installed for (a pyenv python3 on PATH lacks getmailcore). */
const PYTHON = '/usr/bin/python3';
/** /usr/bin/getmail with the fix for its fork/SIGCHLD race (see the file). */
const GETMAIL_WRAPPER = join(import.meta.dirname, 'getmail6-race-fix.py');
const asRoot = process.getuid?.() === 0;

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await chownTree(join(dir, entry.name), uid, gid);
    else await chown(join(dir, entry.name), uid, gid);
  }
}

function check(tool: string, r: ExecResult): void {
  if (r.code !== 0) throw new Error(`${tool} exited with ${r.code ?? r.signal}:\n${r.stderr.trim().slice(-3000)}\n${r.stdout.trim().slice(-2000)}`);
}

export const mpop: ClassicTool = {
  id: 'mpop',
  command: 'mpop',
  async run(t, parent) {
    const dir = await freshDir(parent, 'mpop');
    const maildir = await makeMaildir(join(dir, 'Maildir'));
    const rc = join(dir, 'mpoprc');
    await writeFile(
      rc,
      [
        'defaults',
        'tls on',
        'tls_starttls off',
        `tls_trust_file ${t.caFile}`,
        'account bench',
        `host ${t.host}`,
        `port ${t.tlsPort}`,
        `user ${t.user}`,
        `password ${t.password}`,
        'auth on',
        'pipelining auto',
        'keep on',
        'only_new on',
        'received_header off',
        `uidls_file ${join(dir, 'uidls')}`,
        `delivery maildir ${maildir}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const r = await execMeasured('mpop', ['--quiet', '-C', rc, 'bench'], { timeoutMs: TIMEOUT_MS, scratch: dir });
    check('mpop', r);
    return { ms: r.ms, cpuMs: r.cpuMs, messages: await countMaildir(maildir) };
  },
};

export const fetchmail: ClassicTool = {
  id: 'fetchmail',
  command: 'fetchmail',
  async run(t, parent) {
    const dir = await freshDir(parent, 'fetchmail');
    const maildir = await makeMaildir(join(dir, 'Maildir'));
    const rc = join(dir, 'fetchmailrc');
    await writeFile(
      rc,
      [
        'set no syslog',
        'set no bouncemail',
        `poll localhost via ${t.host} protocol POP3 service ${t.tlsPort} uidl`,
        `  user "${t.user}" there with password "${t.password}" is "root" here`,
        `  ssl sslcertck sslcertfile "${t.caFile}" sslcommonname "localhost"`,
        '  keep fetchall no rewrite',
        `  mda "exec cat > ${maildir}/new/$$.fetchmail"`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const r = await execMeasured(
      'fetchmail',
      ['--silent', '--nodetach', '-f', rc, '--idfile', join(dir, 'fetchids'), '--pidfile', join(dir, 'fetchmail.pid')],
      { timeoutMs: TIMEOUT_MS, env: { ...process.env, HOME: dir, FETCHMAILHOME: dir }, scratch: dir },
    );
    check('fetchmail', r);
    return { ms: r.ms, cpuMs: r.cpuMs, messages: await countMaildir(maildir) };
  },
};

export const getmail6: ClassicTool = {
  id: 'getmail6',
  command: 'getmail',
  async run(t, parent) {
    const dir = await freshDir(parent, 'getmail6');
    const maildir = await makeMaildir(join(dir, 'Maildir'));
    const getmaildir = await freshDir(dir, 'state');
    const rc = join(getmaildir, 'getmailrc');
    await writeFile(
      rc,
      [
        '[retriever]',
        'type = SimplePOP3SSLRetriever',
        `server = ${t.host}`,
        `port = ${t.tlsPort}`,
        `username = ${t.user}`,
        `password = ${t.password}`,
        `ca_certs = ${t.caFile}`,
        'ssl_cert_hostname = localhost',
        '',
        '[destination]',
        'type = Maildir',
        `path = ${maildir}/`,
        // getmail6 refuses to deliver as root: its per-message delivery child switches to nobody.
        ...(asRoot ? ['user = nobody'] : []),
        '',
        '[options]',
        'verbose = 0',
        'read_all = true',
        'delete = false',
        'delivered_to = false',
        'received = false',
        'message_log_syslog = false',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    if (asRoot) await chownTree(maildir, NOBODY, NOBODY);
    const r = await execMeasured(PYTHON, [GETMAIL_WRAPPER, '--getmaildir', getmaildir, '--rcfile', rc], { timeoutMs: TIMEOUT_MS, scratch: dir });
    check('getmail6', r);
    return { ms: r.ms, cpuMs: r.cpuMs, messages: await countMaildir(maildir) };
  },
};

export const CLASSIC_TOOLS: readonly ClassicTool[] = [mpop, fetchmail, getmail6];
