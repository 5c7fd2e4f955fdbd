/**
 * Dovecot through the existing fixture (test/fixtures/dovecot.ts), with CRAM-MD5 and SCRAM
 * added to its mechanisms (its passwords are stored in plain form, from which it computes
 * what CRAM-MD5, APOP and SCRAM need). Dovecot 2.3 has no SCRAM-*-PLUS (2.4 added it).
 * EXTERNAL: every TLS client is asked for a certificate from a private client CA (the user
 * is its commonName); a client without one still logs in with the other mechanisms.
 *
 * Quirks:
 * - A message whose first line starts with "." is not dot-stuffed (RFC 1939 violation): the
 *   matrix never generates one.
 * - A message without a final line end gets CRLF appended (2 octets more than LIST says).
 */
import { makeClientPki } from '../../fixtures/client-pki';
import { dovecotAvailable, startDovecot } from '../../fixtures/dovecot';
import { stat } from './direct';
import { LOOPBACK, packageVersion, toLf } from './setup';
import type { InteropServer, ServerModule } from './types';

const USER = { name: 'alice', password: 'alice-pw' };
const AUTH_MECHANISMS = 'plain login apop cram-md5 scram-sha-1 scram-sha-256 external';
const MECHANISMS = ['USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'EXTERNAL'] as const;

/** The first is avoided (never generated), not tested: the worker cannot undo it. */
export const QUIRKS = ['leading "." of a message not dot-stuffed (avoided)', 'CRLF appended to a last line without one'] as const;

async function start(): Promise<InteropServer> {
  const pki = await makeClientPki([USER.name]);
  const dovecot = await startDovecot({ users: [USER], oauth: false, authMechanisms: AUTH_MECHANISMS, clientCertificates: { ca: pki.caCert } });
  try {
    const instance: InteropServer = {
      name: 'dovecot',
      version: await packageVersion('dovecot-pop3d'),
      host: LOOPBACK,
      ports: { plain: dovecot.port, implicitTls: dovecot.tlsPort },
      stls: true,
      ca: dovecot.ca,
      user: { username: USER.name, password: USER.password },
      mechanisms: MECHANISMS,
      clientCertificate: pki.clients.get(USER.name)!,
      workDir: dovecot.dir,
      quirks: QUIRKS,
      deliver: async (messages) => void (await dovecot.deliver(USER.name, messages.map(toLf))),
      count: () => stat(instance),
      stop: () => dovecot.stop(),
    };
    return instance;
  } catch (error) {
    await dovecot.stop();
    throw error;
  }
}

export const dovecot: ServerModule = {
  profile: {
    name: 'dovecot',
    label: 'Dovecot',
    modes: ['starttls', 'implicit', 'none'],
    mechanisms: MECHANISMS,
    pipelining: true,
  },
  unavailable: () => (dovecotAvailable() ? undefined : '/usr/sbin/dovecot is missing (apt-get install dovecot-pop3d)'),
  start,
};
