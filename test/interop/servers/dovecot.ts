/**
 * Dovecot through the existing fixture (test/fixtures/dovecot.ts), with CRAM-MD5 and SCRAM
 * added to its mechanisms (its passwords are stored in plain form, from which it computes
 * what CRAM-MD5, APOP and SCRAM need). Dovecot 2.3 has no SCRAM-*-PLUS (2.4 added it).
 *
 * Quirks:
 * - A message whose first line starts with "." is not dot-stuffed (RFC 1939 violation): the
 *   matrix never generates one.
 * - A message without a final line end gets CRLF appended (2 octets more than LIST says).
 */
import { dovecotAvailable, startDovecot } from '../../fixtures/dovecot';
import { stat } from './direct';
import { LOOPBACK, packageVersion, toLf } from './setup';
import type { InteropServer, ServerModule } from './types';

const USER = { name: 'alice', password: 'alice-pw' };
const AUTH_MECHANISMS = 'plain login apop cram-md5 scram-sha-1 scram-sha-256';

/** The first is avoided (never generated), not tested: the worker cannot undo it. */
export const QUIRKS = ['leading "." of a message not dot-stuffed (avoided)', 'CRLF appended to a last line without one'] as const;

async function start(): Promise<InteropServer> {
  const dovecot = await startDovecot({ users: [USER], oauth: false, authMechanisms: AUTH_MECHANISMS });
  try {
    const instance: InteropServer = {
      name: 'dovecot',
      version: await packageVersion('dovecot-pop3d'),
      host: LOOPBACK,
      ports: { plain: dovecot.port, implicitTls: dovecot.tlsPort },
      stls: true,
      ca: dovecot.ca,
      user: { username: USER.name, password: USER.password },
      mechanisms: ['USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-1', 'SCRAM-SHA-256'],
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
    mechanisms: ['USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-1', 'SCRAM-SHA-256'],
    pipelining: true,
  },
  unavailable: () => (dovecotAvailable() ? undefined : '/usr/sbin/dovecot is missing (apt-get install dovecot-pop3d)'),
  start,
};
