/** MessageStream hands what the channel holds to its consumer in as few chunks as it can, and keeps its limits. */
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ByteChannel } from '../../lambda/pop3/byte-channel';
import { MessageStream, type MessageStreamOptions } from '../../lambda/pop3/message-stream';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ticks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A channel whose socket has delivered `chunks` already, as TLS records arrive. */
async function channelHolding(chunks: string[]): Promise<ByteChannel> {
  const wire = new PassThrough();
  const channel = new ByteChannel(60_000, 1024 * 1024);
  channel.attach(wire as unknown as Socket);
  for (const c of chunks) wire.write(b(c));
  await ticks();
  return channel;
}

function streamOn(channel: ByteChannel, overrides: Partial<MessageStreamOptions> = {}): { stream: MessageStream; settled: () => number } {
  let settled = 0;
  const stream = new MessageStream(channel, {
    command: 'RETR 1',
    maxOctets: 1024 * 1024,
    maxDrainOctets: 1024 * 1024,
    drainTimeoutMs: 1_000,
    onSettled: () => void settled++,
    failSession: (err) => channel.fail(err),
    boundary: { laterReplyDue: () => false, sendNoop: () => false, readNoopReply: () => Promise.reject(new Error('no NOOP expected')) },
    ...overrides,
  });
  return { stream, settled: () => settled };
}

/** Every chunk the stream pushes (read() would join what is buffered, hiding how it was pushed). */
async function readAll(stream: MessageStream): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  const push = stream.push.bind(stream);
  stream.push = (chunk: unknown) => {
    if (chunk !== null) chunks.push(chunk as Buffer);
    return push(chunk);
  };
  for await (const chunk of stream) void chunk;
  return chunks;
}

describe('MessageStream', () => {
  it('pushes the pieces of every chunk already received as one chunk: stuffed dots and record bounds do not split it', async () => {
    // Three records, two stuffed lines: the decoder cuts it into six pieces.
    const channel = await channelHolding(['Subject: a\r\n\r\n..one\r\nt', 'wo\r\n..three\r\n', 'four\r\n.\r\n+OK next\r\n']);
    const { stream, settled } = streamOn(channel);
    const chunks = await readAll(stream);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.toString('latin1')).toBe('Subject: a\r\n\r\n.one\r\ntwo\r\n.three\r\nfour\r\n');
    expect(stream.octets).toBe(chunks[0]!.length);
    expect(settled()).toBe(1);
    // The next reply's bytes are left in the channel, whole.
    expect(Buffer.concat(channel.buffered()).toString('latin1')).toBe('+OK next\r\n');
  });

  it('still streams: what arrives later comes as later chunks, in order', async () => {
    const wire = new PassThrough();
    const channel = new ByteChannel(60_000, 1024 * 1024);
    channel.attach(wire as unknown as Socket);
    wire.write(b('A: 1\r\n\r\nfirst\r\n'));
    await ticks();
    const { stream } = streamOn(channel);
    const all = readAll(stream);
    await ticks();
    wire.write(b('..second\r\n.\r\n'));
    const chunks = await all;
    expect(chunks.map((c) => c.toString('latin1'))).toEqual(['A: 1\r\n\r\nfirst\r\n', '.second\r\n']);
  });

  it('a message over maxOctets fails with MESSAGE_TOO_LARGE when the gathered pieces cross the limit', async () => {
    const channel = await channelHolding(['X: 1\r\n\r\n', 'y'.repeat(40), '\r\n.\r\n+OK next\r\n']);
    const { stream, settled } = streamOn(channel, { maxOctets: 30 });
    await expect(readAll(stream)).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    await ticks();
    // The rest was drained: the session is ready for the next reply.
    expect(settled()).toBe(1);
    expect(Buffer.concat(channel.buffered()).toString('latin1')).toBe('+OK next\r\n');
  });
});
