/**
 * Direct POP3 sessions with our own client, outside the worker: what a server delivers
 * (the expected bytes of a matrix run), how many messages it holds, and emptying a mailbox
 * between runs. Always USER/PASS over the plain port (every server in the matrix offers it)
 * and lock-step, the most conservative way to talk to any server.
 */
import { openSession, Pop3Error, Pop3ErrorCode, type Pop3Client, type Pop3SessionOptions } from '../../../lambda/pop3';
import type { InteropServer } from './types';

/** mailutils may still hold the mailbox lock for a moment after the previous QUIT. */
const IN_USE_RETRIES = 20;
const IN_USE_RETRY_DELAY_MS = 100;

export type DirectTarget = Pick<InteropServer, 'host' | 'ports' | 'ca' | 'user'>;

export function directOptions(server: DirectTarget): Pop3SessionOptions {
  const plain = server.ports.plain;
  return {
    host: server.host,
    ...(plain !== undefined ? { port: plain, tls: 'none' as const } : { port: server.ports.implicitTls!, tls: 'implicit' as const }),
    tlsOptions: server.ca ? { ca: server.ca } : {},
    username: server.user.username,
    password: server.user.password,
    auth: 'USER',
    allowPlaintextAuth: true,
    pipelining: false,
  };
}

export async function withSession<T>(server: DirectTarget, use: (client: Pop3Client) => Promise<T>): Promise<T> {
  const client = await openWithRetry(directOptions(server));
  try {
    const result = await use(client);
    await client.quit();
    return result;
  } finally {
    client.close();
  }
}

async function openWithRetry(options: Pop3SessionOptions): Promise<Pop3Client> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openSession(options);
    } catch (err) {
      if (!(err instanceof Pop3Error && err.code === Pop3ErrorCode.IN_USE) || attempt >= IN_USE_RETRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, IN_USE_RETRY_DELAY_MS));
    }
  }
}

export function stat(server: DirectTarget): Promise<number> {
  return withSession(server, async (client) => (await client.stat()).count);
}

/**
 * Every message as RETR delivers it (dot-stuffing removed), in message-number order. UIDL
 * comes first, as in the worker's sessions: mailutils adds its X-UIDL header only to
 * messages whose UIDL was asked for at least once.
 */
export function retrieveAll(server: DirectTarget): Promise<Buffer[]> {
  return withSession(server, async (client) => {
    await client.uidl();
    const out: Buffer[] = [];
    for (const { number } of await client.list()) out.push(await readAll(await client.retr(number)));
    return out;
  });
}

/** DELE every message, then QUIT (so the server expunges them). */
export function deleteAll(server: DirectTarget): Promise<void> {
  return withSession(server, async (client) => {
    for (const { number } of await client.list()) await client.dele(number);
  });
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}
