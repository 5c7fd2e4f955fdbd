/** MessageStream hands the message on as it arrives, to a stream reader or a taker (pullChunks), and keeps its limits. */
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ByteChannel } from '../../lambda/pop3/byte-channel';
import { MessageStream, type MessageStreamOptions } from '../../lambda/pop3/message-stream';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ticks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A channel over a stream the test writes into, as a socket would deliver. */
function openChannel(): { wire: PassThrough; channel: ByteChannel } {
  const wire = new PassThrough();
  const channel = new ByteChannel(60_000, 1024 * 1024);
  channel.attach(wire as unknown as Socket);
  return { wire, channel };
}

/** A channel whose socket has delivered `chunks` already, as TLS records arrive. */
async function channelHolding(chunks: string[]): Promise<ByteChannel> {
  const { wire, channel } = openChannel();
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
  it('hands on the pieces between stuffed dots as subarrays of what arrived, in order, and leaves the next reply', async () => {
    // Three records, two stuffed lines: six pieces, none of them copied.
    const records = ['Subject: a\r\n\r\n..one\r\nt', 'wo\r\n..three\r\n', 'four\r\n.\r\n+OK next\r\n'];
    const channel = await channelHolding(records);
    const { stream, settled } = streamOn(channel);
    const chunks = await readAll(stream);
    expect(Buffer.concat(chunks).toString('latin1')).toBe('Subject: a\r\n\r\n.one\r\ntwo\r\n.three\r\nfour\r\n');
    expect(chunks.length).toBeGreaterThanOrEqual(records.length);
    expect(stream.octets).toBe(Buffer.concat(chunks).length);
    expect(settled()).toBe(1);
    // The next reply's bytes are left in the channel, whole.
    expect(Buffer.concat(channel.buffered()).toString('latin1')).toBe('+OK next\r\n');
  });

  it('still streams: what arrives later comes as later chunks, in order', async () => {
    const { wire, channel } = openChannel();
    wire.write(b('A: 1\r\n\r\nfirst\r\n'));
    await ticks();
    const { stream } = streamOn(channel);
    const all = readAll(stream);
    await ticks();
    wire.write(b('..second\r\n.\r\n'));
    const chunks = await all;
    expect(chunks.map((c) => c.toString('latin1'))).toEqual(['A: 1\r\n\r\nfirst\r\n', '.second\r\n']);
  });

  it('a message over maxOctets fails with MESSAGE_TOO_LARGE, and the rest is drained', async () => {
    const channel = await channelHolding(['X: 1\r\n\r\n', 'y'.repeat(40), '\r\n.\r\n+OK next\r\n']);
    const { stream, settled } = streamOn(channel, { maxOctets: 30 });
    await expect(readAll(stream)).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    await ticks();
    // The rest was drained: the session is ready for the next reply.
    expect(settled()).toBe(1);
    expect(Buffer.concat(channel.buffered()).toString('latin1')).toBe('+OK next\r\n');
  });
});

describe('MessageStream#pullChunks', () => {
  it('hands the message to the taker without the stream buffer, and resolves true at its end', async () => {
    const channel = await channelHolding(['A: 1\r\n\r\n..one\r\n', 'two\r\n.\r\n+OK next\r\n']);
    const { stream, settled } = streamOn(channel);
    const taken: string[] = [];
    expect(await stream.pullChunks((chunk) => (taken.push(chunk.toString('latin1')), true))).toBe(true);
    expect(taken.join('')).toBe('A: 1\r\n\r\n.one\r\ntwo\r\n');
    expect(stream.readableLength).toBe(0);
    expect(settled()).toBe(1);
    expect(Buffer.concat(channel.buffered()).toString('latin1')).toBe('+OK next\r\n');
  });

  it('waits for bytes still to come, and stops when the taker has enough: reading on goes on from there', async () => {
    const { wire, channel } = openChannel();
    const { stream } = streamOn(channel);
    const taken: string[] = [];
    const pulled = stream.pullChunks((chunk) => (taken.push(chunk.toString('latin1')), false));
    await ticks();
    expect(taken).toEqual([]);
    wire.write(b('A: 1\r\n\r\nfirst\r\n'));
    expect(await pulled).toBe(false);
    wire.write(b('second\r\n.\r\n'));
    const rest = await readAll(stream);
    expect([...taken, ...rest.map((c) => c.toString('latin1'))].join('')).toBe('A: 1\r\n\r\nfirst\r\nsecond\r\n');
  });

  it('a message over maxOctets rejects it with MESSAGE_TOO_LARGE, and the rest is drained', async () => {
    const channel = await channelHolding(['X: 1\r\n\r\n', 'y'.repeat(40), '\r\n.\r\n+OK next\r\n']);
    const { stream, settled } = streamOn(channel, { maxOctets: 30 });
    // The stream emits the error too: its consumer listens (MessageSource does).
    stream.on('error', () => undefined);
    await expect(stream.pullChunks(() => true)).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    await ticks();
    expect(settled()).toBe(1);
    expect(Buffer.concat(channel.buffered()).toString('latin1')).toBe('+OK next\r\n');
  });

  it('a destroy while it waits rejects it as a premature close; a taker that throws rejects it with its error', async () => {
    const { channel } = openChannel();
    const { stream } = streamOn(channel);
    const pulled = stream.pullChunks(() => true);
    stream.destroy();
    await expect(pulled).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    await expect(stream.pullChunks(() => true)).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });

    const held = await channelHolding(['A: 1\r\n\r\nbody\r\n.\r\n']);
    const second = streamOn(held).stream;
    const refused = new Error('no room');
    await expect(second.pullChunks(() => { throw refused; })).rejects.toBe(refused);
    expect(second.destroyed).toBe(false);
  });

  it('refuses a stream that is read the stream way already, or was asked for bytes that have not come yet', async () => {
    const channel = await channelHolding(['A: 1\r\n\r\nbody\r\n.\r\n']);
    const { stream } = streamOn(channel);
    stream.on('data', () => undefined);
    await expect(stream.pullChunks(() => true)).rejects.toThrow(/read already/);

    // A read() that found nothing leaves Node waiting for a push: a taker would starve it.
    const { stream: asked } = streamOn(openChannel().channel);
    expect(asked.read()).toBeNull();
    await expect(asked.pullChunks(() => true)).rejects.toThrow(/read already/);
  });
});
