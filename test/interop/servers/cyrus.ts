/**
 * Cyrus pop3d (Debian package cyrus-pop3d, unpacked, not installed: it conflicts with
 * dovecot-pop3d) under cyrmaster (cyrus-common) with a private imapd.conf/cyrus.conf, as
 * nobody in a private PID namespace. Users in a private sasldb2; mail is delivered over
 * LMTP (lmtpd on a unix socket). STLS on the plain port, implicit TLS on a second one;
 * USER/PASS, APOP and SASL PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256 (libsasl2's
 * scram plugin, from the sasldb password) and their -PLUS forms over TLS (and DIGEST-MD5,
 * which we do not speak). EXTERNAL (built into libsasl2): every TLS client is asked for a
 * certificate from a private client CA (tls_client_ca_file; tls_client_certs defaults to
 * optional); a verified one's commonName is the user, and only then is EXTERNAL offered.
 * Recipe: /work/shared/notes/other-pop3-servers.md section 4.
 *
 * Quirks:
 * - Delivery is LMTP; Cyrus adds Return-Path, Received and more headers to every message.
 * - `popminpoll` (Debian's default config: 1 minute) makes a login within that time fail
 *   with `-ERR [LOGIN-DELAY]`; CAPA then announces `LOGIN-DELAY 60`.
 * - SCRAM-*-PLUS binds with tls-unique only (the client's Finished message, on TLS 1.3 too,
 *   where RFC 9266 leaves tls-unique undefined): the tls-exporter and tls-server-end-point
 *   bindings mailfetch sends are refused with `-ERR [AUTH] authenticating: bad protocol`.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeClientPki } from '../../fixtures/client-pki';
import { stat } from './direct';
import { deliverOverLmtp } from './lmtp';
import { ConfinedProcess } from './process';
import {
  chownRecursive, copyProgram, isRoot, LOOPBACK, makeWorkDir, missingFile, NOBODY, packageVersion, removeWorkDir, runWithInput,
  sharedCertificate, START_TIMEOUT_MS, unpacked, waitFor, waitUntilGreeting, withFreshPorts,
} from './setup';
import type { InteropServer, ServerModule } from './types';

const POP3D = unpacked('cyrus-pop3d', 'usr/lib/cyrus/bin/pop3d');
const CYRMASTER = '/usr/sbin/cyrmaster';
const LMTPD = '/usr/lib/cyrus/bin/lmtpd';
const CTL_CYRUSDB = '/usr/lib/cyrus/bin/ctl_cyrusdb';
const SASLPASSWD2 = '/usr/sbin/saslpasswd2';
/** Cyrus's servername, also the SASL realm of the users. */
const SERVERNAME = 'localhost';
const USER = { name: 'alice', password: 'alice-pw' };
const MECHANISMS = ['USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'EXTERNAL'] as const;

export const QUIRKS = ['LMTP delivery', 'adds Return-Path/Received headers', 'LOGIN-DELAY (popminpoll)', 'SCRAM-*-PLUS takes tls-unique only: auto fails naming the fix'] as const;

export interface CyrusOptions {
  /** Minutes between logins (Cyrus's popminpoll). @default 0 */
  readonly popminpoll?: number;
}

function renderImapdConf(dir: string, popminpoll: number): string {
  return [
    `configdirectory: ${dir}/lib`,
    'defaultpartition: default',
    `partition-default: ${dir}/spool`,
    `proc_path: ${dir}/run/proc`,
    `mboxname_lockpath: ${dir}/run/lock`,
    `lmtpsocket: ${dir}/run/socket/lmtp`,
    `idlesocket: ${dir}/run/socket/idle`,
    `notifysocket: ${dir}/run/socket/notify`,
    `servername: ${SERVERNAME}`,
    // Accept the unprivileged uid we run as.
    'cyrus_user: nobody',
    'cyrus_group: nogroup',
    'allowplaintext: yes',
    'allowapop: yes',
    `popminpoll: ${popminpoll}`,
    // Tests deliver messages that differ only in their body: never drop one as a duplicate.
    'duplicatesuppression: no',
    'sasl_pwcheck_method: auxprop',
    'sasl_auxprop_plugin: sasldb',
    `sasl_sasldb_path: ${dir}/sasldb2`,
    'sasl_mech_list: PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256 EXTERNAL',
    'autocreate_quota: 0',
    // The first LMTP delivery creates user.alice.
    'autocreate_post: yes',
    `tls_server_cert: ${dir}/tls/cert.pem`,
    `tls_server_key: ${dir}/tls/key.pem`,
    `tls_client_ca_file: ${dir}/tls/client-ca.pem`,
    '',
  ].join('\n');
}

function renderCyrusConf(dir: string, plain: number, implicit: number): string {
  const conf = `${dir}/imapd.conf`;
  return `START { recover cmd="${CTL_CYRUSDB} -C ${conf} -r" }
SERVICES {
  pop3     cmd="${dir}/bin/pop3d -C ${conf}" listen="${LOOPBACK}:${plain}" prefork=0 maxchild=20
  pop3s    cmd="${dir}/bin/pop3d -s -C ${conf}" listen="${LOOPBACK}:${implicit}" prefork=0 maxchild=20
  lmtpunix cmd="${LMTPD} -C ${conf}" listen="${dir}/run/socket/lmtp" prefork=0 maxchild=5
}
EVENTS { }
`;
}

async function prepare(dir: string, popminpoll: number, clientCa: Buffer): Promise<Buffer> {
  for (const sub of ['lib', 'spool', 'run/proc', 'run/lock', 'run/socket', 'tls', 'log', 'bin']) await mkdir(join(dir, sub), { recursive: true });
  const { cert, key } = await sharedCertificate();
  await writeFile(join(dir, 'tls', 'cert.pem'), cert);
  await writeFile(join(dir, 'tls', 'key.pem'), key, { mode: 0o600 });
  await writeFile(join(dir, 'tls', 'client-ca.pem'), clientCa);
  await writeFile(join(dir, 'imapd.conf'), renderImapdConf(dir, popminpoll));
  await runWithInput(SASLPASSWD2, ['-p', '-f', join(dir, 'sasldb2'), '-u', SERVERNAME, '-c', USER.name], `${USER.password}\n`);
  await copyProgram(POP3D, join(dir, 'bin', 'pop3d'));
  await chownRecursive(dir, NOBODY, NOBODY);
  return cert;
}

async function launch(dir: string, deadline: number, ca: Buffer): Promise<{ server: ConfinedProcess; plain: number; implicit: number }> {
  return withFreshPorts(2, deadline, async ([plain, implicit]) => {
    await writeFile(join(dir, 'cyrus.conf'), renderCyrusConf(dir, plain!, implicit!));
    const server = ConfinedProcess.launch([
      'setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--',
      CYRMASTER, '-C', join(dir, 'imapd.conf'), '-M', join(dir, 'cyrus.conf'), '-p', join(dir, 'run', 'master.pid'),
    ]);
    try {
      const probes = [{ port: plain!, tls: 'none' as const }, { port: implicit!, tls: 'implicit' as const, ca }];
      await waitUntilGreeting(probes, deadline, () => server.running, () => server.describeExit());
      await waitFor(() => existsSync(join(dir, 'run', 'socket', 'lmtp')), deadline, 'the LMTP socket');
      return { server, plain: plain!, implicit: implicit! };
    } catch (error) {
      await server.stop();
      throw error;
    }
  });
}

async function start(options: CyrusOptions = {}): Promise<InteropServer> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const dir = await makeWorkDir('cyrus');
  try {
    const pki = await makeClientPki([USER.name]);
    const ca = await prepare(dir, options.popminpoll ?? 0, pki.caCert);
    const { server, plain, implicit } = await launch(dir, deadline, ca);
    let stopping: Promise<void> | undefined;
    const instance: InteropServer = {
      name: 'cyrus',
      version: await packageVersion('cyrus-pop3d'),
      host: LOOPBACK,
      ports: { plain, implicitTls: implicit },
      stls: true,
      ca,
      user: { username: USER.name, password: USER.password },
      mechanisms: MECHANISMS,
      clientCertificate: pki.clients.get(USER.name)!,
      workDir: dir,
      quirks: QUIRKS,
      deliver: (messages) => deliverOverLmtp(join(dir, 'run', 'socket', 'lmtp'), USER.name, messages),
      count: () => stat(instance),
      stop: () => (stopping ??= server.stop().finally(() => removeWorkDir(dir))),
    };
    return instance;
  } catch (error) {
    await removeWorkDir(dir);
    throw error;
  }
}

export const cyrus: ServerModule<CyrusOptions> = {
  profile: {
    name: 'cyrus',
    label: 'Cyrus pop3d',
    modes: ['starttls', 'implicit', 'none'],
    mechanisms: MECHANISMS,
    pipelining: true,
  },
  unavailable: () => (isRoot() ? missingFile([POP3D, CYRMASTER, LMTPD, CTL_CYRUSDB, SASLPASSWD2]) : 'needs root in this fixture (runs cyrmaster as nobody)'),
  start,
};
