/**
 * A minimal HTTP/1.1 client for the direct requests (PutObject, BatchWriteItem): one
 * request at a time per kept-alive socket, its head and body written in one go, the answer
 * read by Http1ResponseParser.
 * node:http's agent, parser and streams cost more CPU per small PUT than the signing and
 * everything else of the request (bench/sdk-floor.bench.ts measures both clients); this does
 * only what such a request needs. Anything unexpected fails the request, and the caller sends it through the
 * SDK instead, so the worst this client can do is cost a retry.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Http1ProtocolError, Http1ResponseParser, type Http1Response } from './http1-response-parser';

/** A kept-alive socket unused for this long is closed (S3 closes idle ones after about 20 s). */
export const HTTP1_IDLE_SOCKET_MS = 15_000;

export interface Http1Target {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  /** Certificates trusted instead of the system roots (tests, private endpoints). @default the system roots */
  readonly ca?: Buffer | undefined;
}

export interface Http1PoolOptions {
  /** Sockets open at once at most; further requests wait for one. */
  readonly maxSockets: number;
  /** A request that makes no progress (no byte sent or received) for this long fails. */
  readonly idleTimeoutMs: number;
  /** How much of a response body is kept (an error's XML). */
  readonly maxBodyOctets: number;
}

/** A request failed on a reused socket before any byte of an answer: the server had closed it. */
class StaleSocketError extends Error {}

/** Nothing was sent or received for the idle timeout. */
class NoProgressError extends Error {}

/** The caller's signal aborted the request: not sent, or cut off in flight. */
class RequestAbortedError extends Error {
  override readonly name = 'RequestAbortedError';
  constructor() {
    super('the request was aborted');
  }
}

interface Lease {
  readonly connection: Connection;
  readonly reused: boolean;
}

/** What the request in flight on a socket does with the socket's events. */
interface Exchange {
  data(chunk: Buffer): void;
  end(): void;
  fail(err: Error): void;
  timeout(): void;
  closed(): void;
}

/**
 * A socket and its one set of listeners, for its whole life: each event goes to the request
 * in flight, if any; on an idle socket, bytes, an end, an error or the idle timeout mean the
 * server is done with it, and so are we. (Listeners and a timer set per request cost more
 * CPU than the rest of a small request's HTTP handling.)
 */
class Connection {
  current: Exchange | undefined;
  /** When the socket last went idle (Date.now()). */
  idleSince = 0;

  constructor(
    readonly socket: net.Socket,
    onClose: (connection: Connection) => void,
  ) {
    socket.on('data', (chunk: Buffer) => (this.current ? this.current.data(chunk) : this.drop()));
    socket.on('end', () => (this.current ? this.current.end() : this.drop()));
    socket.on('error', (err: Error) => (this.current ? this.current.fail(err) : this.drop()));
    socket.on('timeout', () => (this.current ? this.current.timeout() : this.drop()));
    socket.once('close', () => {
      this.current?.closed();
      onClose(this);
    });
  }

  private drop(): void {
    this.socket.destroy();
  }
}

export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly waiting: Array<() => void> = [];
  private openSockets = 0;
  private tlsSession: Buffer | undefined;

  constructor(
    private readonly target: Http1Target,
    private readonly options: Http1PoolOptions,
  ) {}

  /**
   * Sends `head` (request line and header fields, without the final empty line) and `body`.
   * A kept-alive socket the server closed meanwhile is noticed before any answer arrived,
   * and the request is sent once more on a new socket (the callers' requests are idempotent).
   * Once `signal` aborted, nothing more is written, and a request in flight fails with its socket closed.
   */
  async request(head: string, body: Buffer, signal?: AbortSignal): Promise<Http1Response> {
    if (head.endsWith('\n') || head.includes('\r\n\r\n')) throw new Http1ProtocolError('a request head must not hold an empty line');
    if (signal?.aborted) throw new RequestAbortedError();
    const lease = await this.acquire();
    try {
      return await this.exchange(lease.connection, head, body, lease.reused, signal);
    } catch (err) {
      if (!(err instanceof StaleSocketError)) throw err;
      const fresh = await this.acquire(true);
      return this.exchange(fresh.connection, head, body, false, signal);
    }
  }

  /** Closes the idle sockets (busy ones close when their request is done). */
  close(): void {
    for (const connection of this.idle.splice(0)) connection.socket.destroy();
  }

  private async acquire(fresh = false): Promise<Lease> {
    for (;;) {
      const connection = fresh ? undefined : this.idle.pop();
      if (connection && Date.now() - connection.idleSince > HTTP1_IDLE_SOCKET_MS) {
        connection.socket.destroy();
        continue;
      }
      if (connection) {
        connection.socket.ref();
        return { connection, reused: true };
      }
      if (this.openSockets < this.options.maxSockets) return { connection: this.connect(), reused: false };
      // A new socket is wanted and all are open: an idle one makes room (its close wakes a waiter).
      if (fresh) this.idle.shift()?.socket.destroy();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private connect(): Connection {
    const { host, port, secure, ca } = this.target;
    this.openSockets++;
    const socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'], session: this.tlsSession, ...(ca ? { ca } : {}) })
      : net.connect({ host, port });
    socket.setNoDelay(true);
    // Once: the no-progress limit of each request; an idle socket it closes as well (and one
    // idle for HTTP1_IDLE_SOCKET_MS is not taken again: see acquire).
    socket.setTimeout(this.options.idleTimeoutMs);
    if (socket instanceof tls.TLSSocket) socket.on('session', (session: Buffer) => (this.tlsSession = session));
    return new Connection(socket, (connection) => this.closed(connection));
  }

  private closed(connection: Connection): void {
    this.openSockets--;
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    this.waiting.shift()?.();
  }

  private exchange(connection: Connection, head: string, body: Buffer, reused: boolean, signal: AbortSignal | undefined): Promise<Http1Response> {
    const { socket } = connection;
    const parser = new Http1ResponseParser(this.options.maxBodyOctets);
    return new Promise<Http1Response>((resolve, reject) => {
      const done = (err: Error | undefined, response?: Http1Response): void => {
        // Later events of the socket (its close after a destroy) reach no request.
        connection.current = undefined;
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          socket.destroy();
          // Only a reused socket the server closed (or reset) before answering is stale: a
          // silent one may still be working on the request, which must not be sent twice.
          const stale = reused && !parser.started && !(err instanceof RequestAbortedError) && !(err instanceof NoProgressError);
          reject(stale ? new StaleSocketError(err.message) : err);
          return;
        }
        if (response!.keepAlive && !socket.destroyed) this.release(connection);
        else socket.destroy();
        resolve(response!);
      };
      // Not a stale socket, whatever the parser saw: the request must not be sent again.
      const onAbort = (): void => done(new RequestAbortedError());
      if (signal?.aborted) {
        // Aborted while waiting for a socket: it may still be connecting, so it is not kept.
        socket.destroy();
        reject(new RequestAbortedError());
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      connection.current = {
        data: (chunk) => {
          let response: Http1Response | undefined;
          try {
            response = parser.feed(chunk);
          } catch (err) {
            return done(err as Error);
          }
          if (response) done(undefined, response);
        },
        end: () => {
          try {
            done(undefined, parser.end());
          } catch (err) {
            done(err as Error);
          }
        },
        fail: (err) => done(err),
        timeout: () => done(new NoProgressError(`no progress for ${this.options.idleTimeoutMs} ms`)),
        closed: () => done(new Http1ProtocolError('the connection closed before a response')),
      };
      // One write of head and body (writev): no copy of the body, one segment train.
      socket.cork();
      socket.write(`${head}\r\n\r\n`, 'latin1');
      socket.write(body);
      socket.uncork();
    });
  }

  /** Back to the idle list: unreferenced (it must not keep a process alive). */
  private release(connection: Connection): void {
    connection.idleSince = Date.now();
    connection.socket.unref();
    this.idle.push(connection);
    this.waiting.shift()?.();
  }
}
