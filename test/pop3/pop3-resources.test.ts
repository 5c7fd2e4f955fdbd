/**
 * Resource behaviour of the engine: it reads from the socket only as fast as the consumer
 * reads the message (so memory stays flat), and it trusts CAs from NODE_EXTRA_CA_CERTS.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openSession, Pop3Client } from '../../lambda/pop3';
import { startFakePop3 } from '../fixtures/fake-pop3-server';
import { makeSeparatePki, makeTestPki } from '../fixtures/test-ca';

const MESSAGE_OCTETS = 64 * 1024 * 1024;

describe('engine resources', () => {
  it('does not read ahead of a consumer that stops reading: the server is held back by TCP flow control', async () => {
    let written = 0;
    const line = Buffer.from(`${'x'.repeat(78)}\r\n`);
    const server = net.createServer((socket) => {
      socket.write('+OK ready\r\n');
      socket.once('data', () => {
        socket.write('+OK message follows\r\n');
        // Write as fast as the kernel takes it; stop at MESSAGE_OCTETS.
        const block = Buffer.concat(Array.from({ length: 1024 }, () => line));
        const pump = (): void => {
          while (written < MESSAGE_OCTETS) {
            written += block.length;
            if (!socket.write(block)) return void socket.once('drain', pump);
          }
          socket.end('.\r\n');
        };
        pump();
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = await Pop3Client.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, tls: 'none' });
      const stream = await client.retr(1);
      // Read one chunk, then stop consuming for a while.
      await new Promise<void>((r) => stream.once('readable', () => r()));
      stream.read();
      await new Promise((r) => setTimeout(r, 500));
      // Only socket buffers (kernel + the stream's small high-water mark) hold data; the
      // server could not get anywhere near the whole message out.
      expect(written).toBeLessThan(MESSAGE_OCTETS / 4);
      stream.destroy();
      client.close();
    } finally {
      server.close();
    }
  });

  it('trusts a CA given in NODE_EXTRA_CA_CERTS, with or without a configured ca, which adds to the roots', async () => {
    const [envPki, configuredPki] = await Promise.all([makeTestPki(), makeSeparatePki()]);
    const envServer = await startFakePop3({ tls: 'implicit', pki: envPki });
    const configuredServer = await startFakePop3({ tls: 'implicit', pki: configuredPki });
    const dir = mkdtempSync(join(tmpdir(), 'mf-ca-'));
    try {
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, envPki.caCert);
      const script = join(dir, 'probe.mts');
      // Each server once without tlsOptions and once with the other PKI's CA configured.
      writeFileSync(
        script,
        `import { Pop3Client } from ${JSON.stringify(join(process.cwd(), 'lambda/pop3/index.ts'))};
         const probe = async (port: number, ca?: string) => {
           try {
             const c = await Pop3Client.connect({ host: '127.0.0.1', port, tls: 'implicit', ...(ca ? { tlsOptions: { ca } } : {}) });
             c.close();
             return c.tls?.authorized ?? false;
           } catch (err) {
             return (err as Error).message.includes('certificate') ? 'rejected' : String(err);
           }
         };
         console.log(JSON.stringify({
           env: await probe(${envServer.port}),
           envWithCa: await probe(${envServer.port}, ${JSON.stringify(configuredPki.caCert.toString())}),
           configured: await probe(${configuredServer.port}, ${JSON.stringify(configuredPki.caCert.toString())}),
           configuredWithout: await probe(${configuredServer.port}),
         }));`,
      );
      const run = async (env: NodeJS.ProcessEnv): Promise<unknown> =>
        JSON.parse((await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, cwd: process.cwd() })).stdout);
      expect(await run({ NODE_EXTRA_CA_CERTS: caFile })).toEqual({ env: true, envWithCa: true, configured: true, configuredWithout: 'rejected' });
      expect(await run({ NODE_EXTRA_CA_CERTS: '' })).toEqual({ env: 'rejected', envWithCa: 'rejected', configured: true, configuredWithout: 'rejected' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await Promise.all([envServer.close(), configuredServer.close()]);
    }
  });
});

describe('message streams under real consumers', () => {
  /** Consumers as they exist in the wild: async iteration with pauses, 'readable' loops, pipes. */
  const consumers: Record<string, (s: Readable) => Promise<number>> = {
    'for await with pauses': async (s) => {
      let n = 0;
      let k = 0;
      for await (const c of s) {
        n += (c as Buffer).length;
        if (++k % 7 === 0) await new Promise((r) => setImmediate(r));
      }
      return n;
    },
    'readable event, synchronous drain': (s) =>
      new Promise((resolve, reject) => {
        let n = 0;
        s.on('readable', () => {
          for (let c = s.read() as Buffer | null; c !== null; c = s.read() as Buffer | null) n += c.length;
        });
        s.on('end', () => resolve(n));
        s.on('error', reject);
      }),
    // The S3 sink's shape: an async generator over the stream's iterator, wrapped in
    // Readable.from, read by the multipart upload in parts.
    'Readable.from(generator) read in parts': async (s) => {
      const it = s[Symbol.asyncIterator]();
      async function* relay(): AsyncGenerator<Buffer> {
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
      }
      const body = Readable.from(relay(), { objectMode: false, highWaterMark: 64 * 1024 });
      let n = 0;
      let part = 0;
      for await (const c of body) {
        n += (c as Buffer).length;
        part += (c as Buffer).length;
        if (part >= 1024 * 1024) {
          part = 0;
          await new Promise((r) => setTimeout(r, 5)); // "uploading a part"
        }
      }
      return n;
    },
    'pipe into a slow writable': (s) =>
      new Promise((resolve, reject) => {
        let n = 0;
        const sink = new Writable({
          highWaterMark: 16 * 1024,
          write(chunk: Buffer, _e: BufferEncoding, cb: () => void) {
            n += chunk.length;
            setImmediate(cb);
          },
        });
        s.pipe(sink).on('finish', () => resolve(n)).on('error', reject);
        s.on('error', reject);
      }),
  };

  it('deliver every byte of large messages to every kind of consumer (no lost wake-up)', async () => {
    const body = Buffer.alloc(6 * 1024 * 1024, 0x61);
    for (let i = 0; i < body.length; i += 100) body[i] = 0x0a;
    const message = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), body, Buffer.from('\r\n')]);
    const server = await startFakePop3({ messages: [{ uid: 'a', bytes: message }, { uid: 'b', bytes: message }, { uid: 'c', bytes: message }] });
    try {
      for (const [name, consume] of Object.entries(consumers)) {
        const c = await openSession({ host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' });
        const streams = [c.retr(1), c.retr(2), c.retr(3)];
        for (const s of streams) expect(await consume(await s), name).toBe(message.length);
        await c.quit();
      }
    } finally {
      await server.close();
    }
  }, 60_000);
});
