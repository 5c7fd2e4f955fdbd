/** MessageSource reads its stream with read() and events: chunks, the end, the two ways of failing, and a read that waits. */
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MessageSource } from '../../lambda/storage/message-source';

const MESSAGE = Buffer.from('Subject: hi\r\n\r\nbody\r\n', 'latin1');

describe('MessageSource', () => {
  it('hands over every chunk once, digested, then undefined at the end (and again after it)', async () => {
    const stream = new PassThrough();
    const source = new MessageSource(stream);
    const first = source.next();
    // Nothing is buffered yet: the read waits for the stream.
    stream.write(MESSAGE.subarray(0, 5));
    expect((await first)?.toString('latin1')).toBe('Subje');
    stream.end(MESSAGE.subarray(5));
    const rest: Buffer[] = [];
    for (let chunk = await source.next(); chunk !== undefined; chunk = await source.next()) rest.push(chunk);
    expect(Buffer.concat(rest).toString('latin1')).toBe(MESSAGE.subarray(5).toString('latin1'));
    expect(source.ended).toBe(true);
    expect(await source.next()).toBeUndefined();
    expect(source.digest.result().sha256).toBe(createHash('sha256').update(MESSAGE).digest('hex'));
  });

  it('rejects with the stream\'s error and blames the source', async () => {
    const stream = new PassThrough();
    const source = new MessageSource(stream);
    stream.write(MESSAGE);
    expect(await source.next()).toEqual(MESSAGE);
    const pending = source.next();
    const failure = new Error('connection reset');
    stream.destroy(failure);
    await expect(pending).rejects.toBe(failure);
    expect(source.sourceError?.error).toBe(failure);
    expect(source.backendError).toBeUndefined();
  });

  it('an error emitted without destroying the stream rejects the waiting read too', async () => {
    const stream = new PassThrough({ autoDestroy: false, emitClose: false });
    const source = new MessageSource(stream);
    const pending = source.next();
    const failure = new Error('emitted only');
    stream.emit('error', failure);
    await expect(pending).rejects.toBe(failure);
    expect(source.sourceError?.error).toBe(failure);
  });

  it('a backend failure stops the source: the waiting read rejects, and the source is not blamed', async () => {
    const stream = new PassThrough();
    const source = new MessageSource(stream);
    const pending = source.next();
    const backend = new Error('S3 said no');
    source.noteBackendFailure(backend);
    await expect(pending).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(source.backendError?.error).toBe(backend);
    expect(source.sourceError).toBeUndefined();
    expect(stream.destroyed).toBe(true);
  });

  it('two reads waiting at once are both answered', async () => {
    const stream = new PassThrough();
    const source = new MessageSource(stream);
    const a = source.next();
    const b = source.next();
    stream.write(Buffer.from('one'));
    await new Promise((resolve) => setImmediate(resolve));
    stream.end(Buffer.from('two'));
    const got = await Promise.all([a, b]);
    expect(got.map((x) => x?.toString())).toEqual(['one', 'two']);
  });

  it('an object-mode stream of Uint8Arrays is read chunk by chunk; a string is refused', async () => {
    const bytes = new MessageSource(Readable.from([new Uint8Array([1, 2]), Buffer.from([3])]));
    expect([...(await bytes.next())!]).toEqual([1, 2]);
    expect([...(await bytes.next())!]).toEqual([3]);
    expect(await bytes.next()).toBeUndefined();
    const text = new MessageSource(Readable.from(['not bytes']));
    await expect(text.next()).rejects.toThrow(TypeError);
  });

  describe('pull', () => {
    it('hands chunks over as they arrive, hashed, until the end', async () => {
      const stream = new PassThrough();
      const source = new MessageSource(stream);
      const seen: string[] = [];
      const pulled = source.pull((chunk) => (seen.push(chunk.toString('latin1')), true));
      stream.write(MESSAGE.subarray(0, 5));
      await new Promise((resolve) => setImmediate(resolve));
      expect(seen).toEqual(['Subje']);
      stream.end(MESSAGE.subarray(5));
      await pulled;
      expect(seen.join('')).toBe(MESSAGE.toString('latin1'));
      expect(source.ended).toBe(true);
      expect(source.digest.result().sha256).toBe(createHash('sha256').update(MESSAGE).digest('hex'));
    });

    it('stops where the taker says enough; next() goes on from there', async () => {
      const stream = new PassThrough();
      const source = new MessageSource(stream);
      stream.write(Buffer.from('one'));
      await new Promise((resolve) => setImmediate(resolve));
      const seen: string[] = [];
      await source.pull((chunk) => (seen.push(chunk.toString()), false));
      expect(seen).toEqual(['one']);
      expect(source.ended).toBe(false);
      stream.end(Buffer.from('two'));
      expect((await source.next())?.toString()).toBe('two');
      expect(await source.next()).toBeUndefined();
      expect(source.digest.result().size).toBe(6);
    });

    it('a source failure rejects and blames the source; a taker that throws does not', async () => {
      const stream = new PassThrough();
      const source = new MessageSource(stream);
      const pulled = source.pull(() => true);
      stream.write(MESSAGE);
      const failure = new Error('connection reset');
      setImmediate(() => stream.destroy(failure));
      await expect(pulled).rejects.toBe(failure);
      expect(source.sourceError?.error).toBe(failure);

      const other = new PassThrough();
      const second = new MessageSource(other);
      other.end(MESSAGE);
      const refused = new Error('part buffers exhausted');
      await expect(second.pull(() => { throw refused; })).rejects.toBe(refused);
      expect(second.sourceError).toBeUndefined();
    });

    it('a backend failure while it waits rejects it without blaming the source', async () => {
      const stream = new PassThrough();
      const source = new MessageSource(stream);
      const pulled = source.pull(() => true);
      source.noteBackendFailure(new Error('S3 said no'));
      await expect(pulled).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
      expect(source.sourceError).toBeUndefined();
    });
  });

  describe('pull from a stream that hands its chunks over itself', () => {
    /** A PassThrough with pullChunks, as MessageStream has: `chunks` then the end, or `failure`. */
    function puller(chunks: Buffer[], failure?: Error): PassThrough & { pullChunks: (take: (chunk: Buffer) => boolean) => Promise<boolean> } {
      const stream = new PassThrough();
      return Object.assign(stream, {
        pullChunks: async (take: (chunk: Buffer) => boolean): Promise<boolean> => {
          for (const chunk of chunks) if (!take(chunk)) return false;
          if (failure) throw failure;
          return true;
        },
      });
    }

    it('takes them through pullChunks, hashed, without listening to the stream\'s events', async () => {
      const stream = puller([MESSAGE.subarray(0, 5), MESSAGE.subarray(5)]);
      const source = new MessageSource(stream);
      const seen: Buffer[] = [];
      await source.pull((chunk) => (seen.push(chunk), true));
      expect(Buffer.concat(seen)).toEqual(MESSAGE);
      expect(source.ended).toBe(true);
      expect(stream.listenerCount('readable')).toBe(0);
      expect(source.digest.result().sha256).toBe(createHash('sha256').update(MESSAGE).digest('hex'));
    });

    it('blames the source for its failure, not for the taker\'s', async () => {
      const failure = new Error('connection reset');
      const failing = new MessageSource(puller([MESSAGE], failure));
      await expect(failing.pull(() => true)).rejects.toBe(failure);
      expect(failing.sourceError?.error).toBe(failure);

      const refused = new Error('no room');
      const taking = new MessageSource(puller([MESSAGE]));
      await expect(taking.pull(() => { throw refused; })).rejects.toBe(refused);
      expect(taking.sourceError).toBeUndefined();
      expect(taking.ended).toBe(false);
    });
  });
});
