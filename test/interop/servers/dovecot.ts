/**
 * Dovecot through the existing fixture (test/fixtures/dovecot.ts), with CRAM-MD5 added to
 * its mechanisms (its passwords are stored in plain form, which CRAM-MD5 and APOP need).
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
/** Appended to dovecot.conf: a repeated setting overrides the earlier one. */
const EXTRA_CONFIG = 'auth_mechanisms = plain login apop cram-md5\n';

/** The first is avoided (never generated), not tested: the worker cannot undo it. */
export const QUIRKS = ['leading "." of a message not dot-stuffed (avoided)', 'CRLF appended to a last line without one'] as const;

async function start(): Promise<InteropServer> {
  const dovecot = await startDovecot({ users: [USER], oauth: false, extraConfig: EXTRA_CONFIG });
  try {
    const instance: InteropServer = {
      name: 'dovecot',
      version: await packageVersion('dovecot-pop3d'),
      host: LOOPBACK,
      ports: { plain: dovecot.port, implicitTls: dovecot.tlsPort },
      stls: true,
      ca: dovecot.ca,
      user: { username: USER.name, password: USER.password },
      mechanisms: ['USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5'],
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
    mechanisms: ['USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5'],
    pipelining: true,
  },
  unavailable: () => (dovecotAvailable() ? undefined : '/usr/sbin/dovecot is missing (apt-get install dovecot-pop3d)'),
  start,
};
