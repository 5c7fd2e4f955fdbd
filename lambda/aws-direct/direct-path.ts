/**
 * What the direct requests (PutObject, BatchWriteItem) share: when a path rests and when it
 * turns itself off, the interceptors that see each request, and the kept-alive sockets.
 *
 * A direct path is a fast path, never the only one: whatever it cannot do, the SDK does
 * next. So a path that fails rests for a while (the SDK sends meanwhile), longer for each
 * failure in a row, and turns off after too many; an endpoint it cannot reach costs one
 * failed attempt per rest, not one per request.
 */
import { Http1Pool, type Http1PoolOptions } from './http1-pool';

/** After a failure the path rests for this long, doubled per failure in a row, up to the maximum... */
export const DIRECT_BACKOFF_BASE_MS = 1_000;
export const DIRECT_BACKOFF_MAX_MS = 60_000;
/** ...and turns itself off after this many failures in a row (the SDK sends everything then). */
export const DIRECT_MAX_FAILURES_IN_A_ROW = 8;

/**
 * Sees every direct request of a path, as SDK middleware sees the SDK's: counting, fault
 * injection and mirrors in the tests. `send` may be given a changed request (where the path
 * allows it). Throwing counts as a request that failed without an answer.
 */
export type Interceptor<Request, Response> = (request: Request, send: (replacement?: Request) => Promise<Response>) => Promise<Response>;

export class DirectPath<Request, Response> {
  private readonly interceptors: Interceptor<Request, Response>[] = [];
  /** Kept-alive sockets, per endpoint origin (one in practice). */
  private readonly pools = new Map<string, Http1Pool>();
  private offReason: string | undefined;
  private failuresInARow = 0;
  private restUntilMs = 0;

  constructor(private readonly poolOptions: Http1PoolOptions) {}

  /** Why the path is off, if it is. */
  get disabledReason(): string | undefined {
    return this.offReason;
  }

  /** Turns the path off for good: the SDK sends every request from now on. */
  disable(reason: string): void {
    this.offReason ??= reason;
  }

  /** Resting after a failure: the SDK should send this request. */
  get resting(): boolean {
    return Date.now() < this.restUntilMs;
  }

  /**
   * Records how a request went: a success ends the run of failures, a failure rests the path
   * or turns it off. Failures that arrive while it rests were sent before the rest began: one
   * blip that fails every request in flight counts once.
   */
  noteOutcome(failure: string | undefined): void {
    if (failure === undefined) {
      this.failuresInARow = 0;
      return;
    }
    if (this.resting) return;
    this.failuresInARow++;
    if (this.failuresInARow >= DIRECT_MAX_FAILURES_IN_A_ROW) {
      this.disable(`${this.failuresInARow} failures in a row, the last: ${failure}`);
      return;
    }
    this.restUntilMs = Date.now() + Math.min(DIRECT_BACKOFF_BASE_MS * 2 ** (this.failuresInARow - 1), DIRECT_BACKOFF_MAX_MS);
  }

  /** @returns a function that removes the interceptor. */
  intercept(interceptor: Interceptor<Request, Response>): () => void {
    this.interceptors.push(interceptor);
    return () => {
      const at = this.interceptors.indexOf(interceptor);
      if (at >= 0) this.interceptors.splice(at, 1);
    };
  }

  /** Sends `request` through every interceptor, the last of which calls `send` (with the request as they left it). */
  through(request: Request, send: (request: Request) => Promise<Response>, at = 0): Promise<Response> {
    const interceptor = this.interceptors[at];
    return interceptor ? interceptor(request, (replacement = request) => this.through(replacement, send, at + 1)) : send(request);
  }

  /** The kept-alive sockets to `url`'s origin. */
  pool(url: URL): Http1Pool {
    let pool = this.pools.get(url.origin);
    if (!pool) {
      const secure = url.protocol === 'https:';
      // URL keeps an IPv6 literal's brackets ([::1]), which a connect would look up as a name.
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
      pool = new Http1Pool({ host, port, secure }, this.poolOptions);
      this.pools.set(url.origin, pool);
    }
    return pool;
  }
}

/**
 * Where a path's requests go, resolved once per key (a bucket, a table); a resolution that
 * failed (not one that said "not this way") is tried again next time.
 */
export class TargetCache<Target> {
  private readonly targets = new Map<string, Promise<Target | undefined>>();

  get(key: string, resolve: () => Promise<Target | undefined>): Promise<Target | undefined> {
    let target = this.targets.get(key);
    if (!target) {
      target = resolve().catch(() => {
        this.targets.delete(key);
        return undefined;
      });
      this.targets.set(key, target);
    }
    return target;
  }
}
