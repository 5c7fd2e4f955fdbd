// Pipelined commands queued in one turn leave in one write: one TLS record and one send
// for a fetch's whole look-ahead refill, not one per RETR.
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openSession } from '../../lambda/pop3';
import { verbServer, type VerbServer } from './verb-server';

const MESSAGE = 'Subject: x\r\n\r\nbody\r\n';
const servers: VerbServer[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  servers.splice(0).forEach((s) => s.close());
});

/** What the client writes from now on, one entry per socket write (the server, in this process, would read them merged). */
function clientWrites(): string[] {
  const writes: string[] = [];
  const write = net.Socket.prototype.write;
  vi.spyOn(net.Socket.prototype, 'write').mockImplementation(function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
    const data = args[0];
    const text = typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString('latin1');
    if (/^(RETR|QUIT)/.test(text)) writes.push(text);
    return write.apply(this, args);
  } as net.Socket['write']);
  return writes;
}

/** A POP3 server that answers RETR with MESSAGE. */
async function pop3Server(): Promise<VerbServer> {
  const server = await verbServer((verb, socket) => {
    if (verb === 'CAPA') socket.write('+OK\r\nUSER\r\nPIPELINING\r\n.\r\n');
    else if (verb === 'RETR') socket.write(`+OK\r\n${MESSAGE}.\r\n`);
    else if (verb === 'QUIT') socket.end('+OK bye\r\n');
    else socket.write('+OK\r\n');
  });
  servers.push(server);
  return server;
}

async function drain(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += (chunk as Buffer).toString('latin1');
  return text;
}

describe('pipelined command writes', () => {
  it('five RETRs issued in one turn leave in one write, in order, and each reply is its own', async () => {
    const server = await pop3Server();
    const client = await openSession({ host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'u', password: 'p', auth: 'USER' });
    expect(client.pipelining).toBe(true);
    const writes = clientWrites();

    const replies = [1, 2, 3, 4, 5].map((n) => client.retr(n));
    const bodies: string[] = [];
    for (const reply of replies) bodies.push(await drain(await reply));
    await client.quit();

    expect(writes).toEqual(['RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\nRETR 5\r\n', 'QUIT\r\n']);
    expect(bodies).toEqual(Array(5).fill(MESSAGE));
  });

  it('a trace callback that throws while pipelined commands go out ends the session: the commands fail, nothing is left unhandled', async () => {
    const server = await pop3Server();
    let failOnRetr = false;
    const trace = (e: { line: string }): void => {
      if (failOnRetr && e.line.startsWith('RETR')) throw new Error('trace broke');
    };
    const client = await openSession({ host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'u', password: 'p', auth: 'USER', trace });
    failOnRetr = true;

    const outcomes = await Promise.allSettled([client.retr(1), client.retr(2)]);
    client.close();

    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toContain('trace broke');
  });

  it('without pipelining each command waits for the previous reply: one command per write', async () => {
    const server = await pop3Server();
    const client = await openSession({ host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'u', password: 'p', auth: 'USER', pipelining: false });
    expect(client.pipelining).toBe(false);
    const writes = clientWrites();

    const replies = [1, 2, 3].map((n) => client.retr(n));
    for (const reply of replies) await drain(await reply);
    await client.quit();

    expect(writes).toEqual(['RETR 1\r\n', 'RETR 2\r\n', 'RETR 3\r\n', 'QUIT\r\n']);
  });
});
