/**
 * The direct requests' HTTP/1.1 client: the response parser on every framing a server may
 * choose, split anywhere; the pool against scripted servers on 127.0.0.1 (socket reuse, a
 * kept-alive socket the server closed, `Connection: close`, the socket cap, no progress,
 * TLS verified against a CA).
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HTTP1_IDLE_SOCKET_MS, Http1Pool } from '../../lambda/aws-direct/http1-pool';
import { Http1ProtocolError, Http1ResponseParser, MAX_RESPONSE_HEAD_OCTETS, type Http1Response } from '../../lambda/aws-direct/http1-response-parser';
import { makeTestPki } from '../fixtures/test-ca';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Feeds `wire` to a parser in pieces of `step` bytes; the response, or the error. */
function parse(wire: string, step: number, ended = false, maxBody = 1024): Http1Response | Error {
  const parser = new Http1ResponseParser(maxBody);
  const bytes = b(wire);
  try {
    for (let at = 0; at < bytes.length; at += step) {
      const response = parser.feed(bytes.subarray(at, at + step));
      if (response) return at + step >= bytes.length ? response : new Error('complete before the end of the wire');
    }
    return ended ? parser.end() : new Error('incomplete');
  } catch (err) {
    return err as Error;
  }
}

describe('Http1ResponseParser', () => {
  const framings: [string, string, { statusCode: number; body: string; keepAlive: boolean }, boolean?][] = [
    ['Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: "x"\r\n\r\n', { statusCode: 200, body: '', keepAlive: true }],
    ['an error body by length', 'HTTP/1.1 403 Forbidden\r\nContent-Length: 40\r\n\r\n<Error><Code>AccessDenied</Code></Error>', { statusCode: 403, body: '<Error><Code>AccessDenied</Code></Error>', keepAlive: true }],
    ['chunked, with extensions and trailers', 'HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n', { statusCode: 500, body: 'hello!', keepAlive: true }],
    ['chunked, no trailers', 'HTTP/1.1 400 Bad\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', { statusCode: 400, body: 'abc', keepAlive: true }],
    ['interim 100 Continue first', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', { statusCode: 200, body: 'ok', keepAlive: true }],
    ['Connection: close', 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', { statusCode: 200, body: '', keepAlive: false }],
    ['HTTP/1.0 without keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', { statusCode: 200, body: '', keepAlive: false }],
    ['repeated equal Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok', { statusCode: 200, body: 'ok', keepAlive: true }],
    ['204 with no body', 'HTTP/1.1 204 No Content\r\n\r\n', { statusCode: 204, body: '', keepAlive: true }],
    ['framed by the close', 'HTTP/1.1 503 Slow Down\r\n\r\n<Error/>', { statusCode: 503, body: '<Error/>', keepAlive: false }, true],
  ];
  for (const [name, wire, expected, ended] of framings) {
    it(`${name}: read whole, byte by byte, and in pieces of 7`, () => {
      for (const step of [wire.length, 1, 7]) {
        const r = parse(wire, step, ended);
        expect(r, `${name} step ${step}`).not.toBeInstanceOf(Error);
        const { statusCode, body, keepAlive } = r as Http1Response;
        expect({ statusCode, body: body.toString('latin1'), keepAlive }).toEqual(expected);
      }
    });
  }

  const broken: [string, string, boolean?][] = [
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n'],
    ['differing Content-Length values', 'HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok'],
    ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['a malformed chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['a chunk without its CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nbroken\r\n\r\n'],
    ['a closed connection within the body', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', true],
  ];
  for (const [name, wire, ended] of broken) {
    it(`refuses ${name}`, () => {
      expect(parse(wire, 1, ended)).toBeInstanceOf(Http1ProtocolError);
      expect(parse(wire, wire.length, ended)).toBeInstanceOf(Http1ProtocolError);
    });
  }

  it('refuses bytes after the response in the same read (later ones reach an idle socket: see the pool)', () => {
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n', 1_000)).toBeInstanceOf(Http1ProtocolError);
  });

  it('refuses an endless head, and keeps only the first maxBodyOctets of a body', () => {
    expect(parse(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_RESPONSE_HEAD_OCTETS)}`, 4096)).toBeInstanceOf(Http1ProtocolError);
    const big = parse(`HTTP/1.1 500 E\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(5000)}`, 999, false, 100) as Http1Response;
    expect(big.body.length).toBe(100);
    expect(big.truncated).toBe(true);
    for (const length of [99, 100]) {
      const fits = parse(`HTTP/1.1 200 OK\r\nContent-Length: ${length}\r\n\r\n${'x'.repeat(length)}`, 7, false, 100) as Http1Response;
      expect({ octets: fits.body.length, truncated: fits.truncated }).toEqual({ octets: length, truncated: false });
    }
  });
});

/** A scripted HTTP server: `answer` writes the reply to each request (head read, body drained by Content-Length). */
interface Scripted {
  readonly port: number;
  readonly connections: number;
  readonly requests: string[];
  readonly sockets: net.Socket[];
  close(): Promise<void>;
}

type Answer = (socket: net.Socket, index: number) => void;

async function scripted(answer: Answer, secure?: { key: Buffer; cert: Buffer }): Promise<Scripted> {
  const requests: string[] = [];
  const sockets: net.Socket[] = [];
  let connections = 0;
  const onSocket = (socket: net.Socket): void => {
    connections++;
    sockets.push(socket);
    let pending = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.subarray(0, end).toString('latin1');
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        pending = pending.subarray(end + 4 + length);
        requests.push(head.split('\r\n')[0]!);
        answer(socket, requests.length - 1);
      }
    });
  };
  const server = secure ? tls.createServer(secure, onSocket) : net.createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    requests,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
const servers: Scripted[] = [];
const pools: Http1Pool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setUp(answer: Answer, options: { maxSockets?: number; idleTimeoutMs?: number } = {}): Promise<{ server: Scripted; pool: Http1Pool }> {
  const server = await scripted(answer);
  servers.push(server);
  const pool = new Http1Pool({ host: '127.0.0.1', port: server.port, secure: false }, { maxSockets: options.maxSockets ?? 4, idleTimeoutMs: options.idleTimeoutMs ?? 5_000, maxBodyOctets: 1024 });
  pools.push(pool);
  return { server, pool };
}

const put = (pool: Http1Pool, n: number): Promise<Http1Response> => pool.request(`PUT /b/k${n} HTTP/1.1\r\nhost: x\r\ncontent-length: 3`, b('abc'));

describe('Http1Pool', () => {
  it('sends one request per socket at a time and reuses a kept-alive socket', async () => {
    const { server, pool } = await setUp((s) => s.write(OK));
    for (let n = 0; n < 5; n++) expect((await put(pool, n)).statusCode).toBe(200);
    expect(server.requests).toEqual(['PUT /b/k0 HTTP/1.1', 'PUT /b/k1 HTTP/1.1', 'PUT /b/k2 HTTP/1.1', 'PUT /b/k3 HTTP/1.1', 'PUT /b/k4 HTTP/1.1']);
    expect(server.connections).toBe(1);
  });

  it(`a socket idle for longer than HTTP1_IDLE_SOCKET_MS is not used again (servers drop such sockets); one idle for idleTimeoutMs is closed`, async () => {
    const { server, pool } = await setUp((s) => s.write(OK), { idleTimeoutMs: 300 });
    const now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now });
    try {
      await put(pool, 0);
      vi.setSystemTime(now + HTTP1_IDLE_SOCKET_MS + 1);
      await put(pool, 1);
    } finally {
      vi.useRealTimers();
    }
    expect(server.connections).toBe(2);
    // The second socket, idle, is closed by its timer: the server sees it end.
    await vi.waitFor(() => expect(server.sockets[1]!.readableEnded || server.sockets[1]!.destroyed).toBe(true), { timeout: 3_000 });
  });

  it('a request sent again after a stale socket, with every socket open: an idle one makes room at once', async () => {
    // The third request's answer is followed by the server's FIN: the next request on that socket meets a closed one.
    const { server, pool } = await setUp((s, i) => (i === 2 ? s.end(OK) : setTimeout(() => s.write(OK), 20)), { maxSockets: 2, idleTimeoutMs: 60_000 });
    await Promise.all([put(pool, 0), put(pool, 1)]);
    await put(pool, 2);
    // Before: the request sent again waited for an idle socket to time out (a minute here) while another sat unused.
    const answers = await Promise.all([put(pool, 3), put(pool, 4), put(pool, 5)]);
    expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(server.requests.length).toBeGreaterThanOrEqual(6);
  });

  it('opens no more than maxSockets; the others wait for a free one', async () => {
    const { server, pool } = await setUp((s) => setTimeout(() => s.write(OK), 20), { maxSockets: 2 });
    const answers = await Promise.all(Array.from({ length: 6 }, (_, n) => put(pool, n)));
    expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(server.connections).toBe(2);
  });

  it('a kept-alive socket the server closed meanwhile: the request goes once more on a new socket', async () => {
    const { server, pool } = await setUp((s) => s.write(OK));
    await put(pool, 0);
    // The server ends the idle connection; the client may not have seen the FIN yet.
    server.sockets[0]!.destroy();
    expect((await put(pool, 1)).statusCode).toBe(200);
    expect(server.connections).toBe(2);
    expect(server.requests).toEqual(['PUT /b/k0 HTTP/1.1', 'PUT /b/k1 HTTP/1.1']);
  });

  it('bytes from the server on an idle socket: the socket is dropped, the next request opens another', async () => {
    const { server, pool } = await setUp((s) => s.write(OK));
    await put(pool, 0);
    const dropped = new Promise((resolve) => server.sockets[0]!.once('close', resolve));
    server.sockets[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    await dropped;
    expect((await put(pool, 1)).statusCode).toBe(200);
    expect(server.connections).toBe(2);
  });

  it('Connection: close is honoured: the next request opens a new socket', async () => {
    const { server, pool } = await setUp((s) => s.end('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'));
    await put(pool, 0);
    await put(pool, 1);
    expect(server.connections).toBe(2);
  });

  it('a connection that breaks within the answer on a new socket is an error, not retried', async () => {
    const { server, pool } = await setUp((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort'));
    await expect(put(pool, 0)).rejects.toBeInstanceOf(Http1ProtocolError);
    expect(server.requests).toHaveLength(1);
  });

  it('a server that answers nothing: the request fails once no byte moved for idleTimeoutMs', async () => {
    const { pool } = await setUp(() => undefined, { idleTimeoutMs: 150 });
    await expect(put(pool, 0)).rejects.toThrow('no progress for 150 ms');
  });

  it('a kept-alive socket that goes silent: the request fails once, and is not sent again (the server may still act on it)', async () => {
    const { server, pool } = await setUp((s, index) => void (index === 0 && s.write(OK)), { idleTimeoutMs: 150 });
    await put(pool, 0);
    await expect(put(pool, 1)).rejects.toThrow('no progress for 150 ms');
    expect(server.requests).toEqual(['PUT /b/k0 HTTP/1.1', 'PUT /b/k1 HTTP/1.1']);
    expect(server.connections).toBe(1);
  });

  it('an aborted signal: nothing is written; abort in flight closes the socket and the request is not sent again', async () => {
    const { server, pool } = await setUp((s, index) => void (index === 0 && s.write(OK)));
    await put(pool, 0);
    const stopped = new AbortController();
    stopped.abort();
    await expect(pool.request('PUT /b/never HTTP/1.1\r\nhost: x\r\ncontent-length: 3', b('abc'), stopped.signal)).rejects.toThrow('aborted');
    const stopping = new AbortController();
    const inFlight = pool.request('PUT /b/cut HTTP/1.1\r\nhost: x\r\ncontent-length: 3', b('abc'), stopping.signal);
    setTimeout(() => stopping.abort(), 50);
    await expect(inFlight).rejects.toThrow('aborted');
    expect(server.requests).toEqual(['PUT /b/k0 HTTP/1.1', 'PUT /b/cut HTTP/1.1']);
  });

  it('an answer sent before the body was read, then the connection closed: the answer counts', async () => {
    const server = await scripted(() => undefined);
    servers.push(server);
    const early = net.createServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 42\r\n\r\n<Error><Code>EntityTooLarge</Code></Error>'));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => early.listen(0, '127.0.0.1', resolve));
    const pool = new Http1Pool({ host: '127.0.0.1', port: (early.address() as net.AddressInfo).port, secure: false }, { maxSockets: 1, idleTimeoutMs: 5_000, maxBodyOctets: 1024 });
    pools.push(pool);
    const response = await pool.request('PUT /b/big HTTP/1.1\r\nhost: x\r\ncontent-length: 4000000', Buffer.alloc(4_000_000));
    expect(response.statusCode).toBe(400);
    expect(response.body.toString()).toContain('EntityTooLarge');
    await new Promise<void>((resolve) => early.close(() => resolve()));
  });

  it('refuses a head that would end the request early', async () => {
    const { server, pool } = await setUp((s) => s.write(OK));
    await expect(pool.request('PUT /b/k HTTP/1.1\r\nhost: x\r\n\r\nGET /other HTTP/1.1', b(''))).rejects.toBeInstanceOf(Http1ProtocolError);
    expect(server.requests).toEqual([]);
  });

  it('over TLS: verifies the server against the given CA, reuses the socket, and refuses an unknown CA', async () => {
    const pki = await makeTestPki();
    const server = await scripted((s) => s.write(OK), { key: pki.serverKey, cert: pki.serverCert });
    servers.push(server);
    const trusted = new Http1Pool({ host: '127.0.0.1', port: server.port, secure: true, ca: pki.caCert }, { maxSockets: 2, idleTimeoutMs: 5_000, maxBodyOctets: 1024 });
    const other = new Http1Pool({ host: '127.0.0.1', port: server.port, secure: true, ca: pki.otherCaCert }, { maxSockets: 2, idleTimeoutMs: 5_000, maxBodyOctets: 1024 });
    pools.push(trusted, other);
    expect((await put(trusted, 0)).statusCode).toBe(200);
    expect((await put(trusted, 1)).statusCode).toBe(200);
    expect(server.connections).toBe(1);
    await expect(put(other, 2)).rejects.toThrow(/certificate/);
    expect(server.requests).toHaveLength(2);
  });
});
