// Helpers for engine tests against the fake POP3 server: servers closed after each test,
// session options, and the ways a test reads a message stream or a failure.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'vitest';
import { Pop3Error, type MessageStream, type Pop3SessionOptions } from '../../lambda/pop3';
import { startFakePop3, type FakePop3Options, type FakePop3Server } from '../fixtures/fake-pop3-server';

const servers: FakePop3Server[] = [];

/** A fake server, closed by {@link closeServers} (call it in afterEach). */
export async function fake(options: FakePop3Options = {}): Promise<FakePop3Server> {
  const s = await startFakePop3(options);
  servers.push(s);
  return s;
}

export async function closeServers(): Promise<void> {
  await Promise.all(servers.splice(0).map((s) => s.close()));
}

/** Plaintext USER/PASS as the fake's default user. */
export function opts(server: FakePop3Server, extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions {
  return { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret', ...extra };
}

export async function readAll(stream: MessageStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The Pop3Error `p` rejects with (the test fails if it resolves or rejects otherwise). */
export async function errorOf(p: Promise<unknown>): Promise<Pop3Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Pop3Error);
  return err as Pop3Error;
}

/**
 * Consumes `stream` like an upload: `completed` only if the sink was told the body is
 * complete, `ended` if the stream emitted 'end'.
 */
export async function upload(stream: MessageStream): Promise<{ completed: boolean; ended: boolean; err: unknown }> {
  let completed = false;
  let ended = false;
  stream.on('end', () => (ended = true));
  const sink = new Writable({
    write: (_chunk, _enc, cb) => cb(),
    final: (cb) => {
      completed = true;
      cb();
    },
  });
  const err = await pipeline(stream, sink).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { completed, ended, err };
}
