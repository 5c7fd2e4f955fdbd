// SCRAM's code loads lazily (open-session.ts): callers of chooseMechanism without it, and
// sessions that cannot use SCRAM, get what they got before.
import { afterEach, describe, expect, it } from 'vitest';
import { chooseMechanism, openSession, Pop3Error } from '../../lambda/pop3';
import { parseCapabilities } from '../../lambda/pop3/capabilities';
import { verbServer, type VerbServer } from './verb-server';

const caps = (...lines: string[]) => parseCapabilities(lines.map((l) => Buffer.from(l)));
const servers: VerbServer[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

async function scramServer(): Promise<number> {
  const server = await verbServer((verb, socket) => socket.write(verb === 'CAPA' ? '+OK\r\nUSER\r\nSASL SCRAM-SHA-256 PLAIN\r\n.\r\n' : '-ERR no\r\n'));
  servers.push(server);
  return server.port;
}

describe('SCRAM loaded lazily', () => {
  it('chooseMechanism without SCRAM loaded passes over SCRAM unless SASLprep is sure to leave the credentials alone (printable ASCII)', () => {
    const offered = caps('USER', 'SASL SCRAM-SHA-256 PLAIN');
    const choose = (username: string, password: string): string => chooseMechanism({ host: 'h', username, password }, offered, '+OK ready', true);
    // U+00A0 is mapped to U+0020 by SASLprep: a server that skips SASLprep would refuse the right password.
    expect(choose('alice', 'pass\u00a0word')).toBe('PLAIN');
    expect(choose('alice', 'p\u00e4ss')).toBe('PLAIN');
    expect(choose('al\u00efce', 'pass')).toBe('PLAIN');
    expect(choose('alice', 'tab\there')).toBe('PLAIN');
    expect(choose('alice', 'pass word~!')).toBe('SCRAM-SHA-256');
  });

  it('auto without a password on a SCRAM server fails with "this mechanism needs a password"', async () => {
    const port = await scramServer();
    const err = await openSession({ host: '127.0.0.1', port, tls: 'none', allowPlaintextAuth: true, username: 'u' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Pop3Error);
    expect((err as Error).message).toBe('this mechanism needs a password');
  });
});
