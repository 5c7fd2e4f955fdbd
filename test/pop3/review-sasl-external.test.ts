/**
 * Adversarial review of AUTH EXTERNAL (issue 13): its one message is the authorization
 * identity, the mailbox's user name, which is no secret. Registered with the session's
 * scrubber like a credential, it would be cut from everything the server says afterwards.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSession, Pop3ErrorCode, type TraceEvent } from '../../lambda/pop3';
import { makeClientPki, type ClientKeyPair } from '../fixtures/client-pki';
import { makeTestPki, type TestPki } from '../fixtures/test-ca';
import { closeServers, errorOf, fake } from './pop3-test-kit';

let pki: TestPki;
let alice: ClientKeyPair;
beforeAll(async () => {
  pki = await makeTestPki();
  alice = (await makeClientPki(['alice'])).clients.get('alice')!;
}, 60_000);
afterEach(closeServers);

describe('EXTERNAL and the session scrubber', () => {
  it('FINDING: the user name sent as authorization identity is scrubbed like a credential: a UIDL holding it is refused, and the server\'s text loses it', async () => {
    // A server whose unique-ids name the account (as some maildir-based servers do) and whose errors name the user.
    const server = await fake({
      pki,
      tls: 'implicit',
      capabilities: ['UIDL', 'SASL EXTERNAL'],
      onCommand: async (cmd, s) => {
        if (cmd.verb === 'AUTH') await s.writeLine('+OK logged in');
        else if (cmd.verb === 'UIDL') await s.writeLine('+OK\r\n1 alice.0001\r\n.');
        else if (cmd.verb === 'DELE') await s.writeLine('-ERR [SYS/TEMP] mailbox of alice is being rebuilt');
        else return false;
        return true;
      },
    });
    const trace: TraceEvent[] = [];
    const client = await openSession({ host: '127.0.0.1', port: server.port, tlsOptions: { ca: pki.caCert, ...alice }, username: 'alice', trace: (e) => trace.push(e) });

    const listing = await client.uidl();
    const err = await errorOf(client.dele(1));
    await client.quit();

    expect(server.commands.find((c) => c.line.startsWith('AUTH'))?.line).toBe(`AUTH EXTERNAL ${Buffer.from('alice').toString('base64')}`);
    expect(listing.invalid).toEqual([]);
    expect(err.code).toBe(Pop3ErrorCode.SYS_TEMP);
    expect(err.message).toContain('mailbox of alice is being rebuilt');
    expect(trace.map((e) => e.line)).toContain('-ERR [SYS/TEMP] mailbox of alice is being rebuilt');
  });
});
