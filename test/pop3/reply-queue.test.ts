import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ByteChannel } from '../../lambda/pop3/byte-channel';
import { readBufferedLine } from '../../lambda/pop3/line-reader';
import { ReplyQueue } from '../../lambda/pop3/reply-queue';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ticks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ReplyQueue', () => {
  it('hands the slot on in order, one holder at a time, never inside the release before', async () => {
    const queue = new ReplyQueue();
    const log: string[] = [];
    const holder = (name: string): (() => void) => () => log.push(`start ${name}`);
    expect([queue.enter(holder('a'), false), queue.enter(holder('b'), false), queue.enter(holder('c'), false)]).toEqual([true, true, true]);
    await ticks();
    expect(log).toEqual(['start a']);
    queue.leave();
    log.push('a left');
    await ticks();
    queue.leave();
    await ticks();
    expect(log).toEqual(['start a', 'a left', 'start b', 'start c']);
    queue.leave();
    // Free again: the next command starts without waiting for anyone.
    queue.enter(holder('d'), false);
    await ticks();
    expect(log.at(-1)).toBe('start d');
  });

  it('runs a fail-fast command at once without the slot, and wakes every waiting one', async () => {
    const queue = new ReplyQueue();
    const log: string[] = [];
    queue.enter(() => log.push('holder'), false);
    queue.enter(() => log.push('waiting 1'), false);
    queue.enter(() => log.push('waiting 2'), false);
    expect(queue.enter(() => log.push('fail-fast'), true)).toBe(false);
    await ticks();
    expect(log).toEqual(['holder', 'fail-fast']);
    queue.wakeAll();
    await ticks();
    expect(log).toEqual(['holder', 'fail-fast', 'waiting 1', 'waiting 2']);
  });
});

describe('readBufferedLine', () => {
  /** A channel over a stream the test writes into, as a socket would deliver. */
  async function channelWith(...chunks: string[]): Promise<ByteChannel> {
    const wire = new PassThrough();
    const channel = new ByteChannel(60_000, 64 * 1024);
    channel.attach(wire as unknown as Socket);
    for (const c of chunks) wire.write(b(c));
    await ticks();
    return channel;
  }

  it('takes a whole line from the first chunk and leaves the rest for the next read', async () => {
    const channel = await channelWith('+OK 120 octets\r\nFrom: a\r\n', '.\r\n');
    expect(readBufferedLine(channel, 512)?.toString('latin1')).toBe('+OK 120 octets');
    expect(readBufferedLine(channel, 512)?.toString('latin1')).toBe('From: a');
    expect(readBufferedLine(channel, 512)?.toString('latin1')).toBe('.');
    expect(readBufferedLine(channel, 512)).toBeUndefined();
    channel.fail(new Error('done'));
  });

  it('consumes nothing when the line is not whole in the first chunk (readLine then joins it)', async () => {
    const channel = await channelWith('+OK par', 'tial\n');
    expect(readBufferedLine(channel, 512)).toBeUndefined();
    expect(channel.buffered().map((c) => c.toString('latin1'))).toEqual(['+OK par', 'tial\n']);
    channel.fail(new Error('done'));
  });

  it('refuses a line longer than the bound, as readLine does', async () => {
    const channel = await channelWith(`+OK ${'x'.repeat(40)}\n`);
    expect(() => readBufferedLine(channel, 20)).toThrow(expect.objectContaining({ code: 'LINE_TOO_LONG' }));
    channel.fail(new Error('done'));
  });
});
